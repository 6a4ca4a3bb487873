// One logged-in directory client shared by the calls of the web UI and the
// download manager's checks, one call at a time: opened and logged in on
// first use, and again after the session ended or the directory went away.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "client/directory_client.h"
#include "core/status.h"

namespace ferry {

// Opens a client of the directory and logs it in as the peer's user.
using DirectoryConnect = std::function<Result<std::unique_ptr<dirclient::DirectoryClient>>()>;

class SharedDirectoryClient {
 public:
  explicit SharedDirectoryClient(DirectoryConnect connect) : connect_(std::move(connect)) {}

  // Calls `fn` with the client. A call refused as UNAUTHENTICATED (the
  // session ended) is made once more on a client logged in afresh; after
  // UNAVAILABLE the next call opens a new client.
  template <typename Fn>
  auto Call(Fn&& fn) -> decltype(fn(std::declval<dirclient::DirectoryClient&>())) {
    std::lock_guard lock(mu_);
    for (int attempt = 0;; ++attempt) {
      if (!client_) {
        auto client = connect_();
        if (!client.ok()) return client.status();
        client_ = std::move(client).value();
      }
      auto result = fn(*client_);
      const Code code = result.ok() ? Code::kOk : result.status().code();
      if (code == Code::kUnauthenticated || code == Code::kUnavailable) client_.reset();
      if (code != Code::kUnauthenticated || attempt > 0) return result;
    }
  }

  const DirectoryConnect& connect() const { return connect_; }

 private:
  const DirectoryConnect connect_;
  std::mutex mu_;
  std::unique_ptr<dirclient::DirectoryClient> client_;  // GUARDED_BY(mu_)
};

}  // namespace ferry
