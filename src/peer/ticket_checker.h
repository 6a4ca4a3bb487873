// Who is calling the chunk service: the directory vouches for the tickets
// callers present (docs/directory-api.md, "Tickets"), and the answers are
// remembered briefly so that a fetcher's many calls cost the directory one.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "client/directory_client.h"
#include "core/status.h"

namespace ferry {

struct TicketCheckerOptions {
  // A ticket the directory vouched for is believed this long (never past
  // its expiry); one it refused stays refused this long, so that a caller
  // repeating a bad ticket does not reach the directory each time.
  std::chrono::seconds believe_for{60};
  std::chrono::seconds refuse_for{5};
  // The most answers remembered; past it the expired go, then all.
  size_t max_remembered = 10'000;
};

class TicketChecker {
 public:
  // Asks the directory as the serving peer's user (`login` logs a client in
  // again when its session ended) for peer `peer_id()`, which is "" until
  // the peer is announced.
  using Login = std::function<Status(dirclient::DirectoryClient&)>;
  TicketChecker(dirclient::DirectoryClientOptions directory, Login login,
                std::function<std::string()> peer_id, TicketCheckerOptions options = {});

  // The fetcher's user name; PERMISSION_DENIED for a ticket the directory
  // does not vouch for this peer; UNAVAILABLE while the directory cannot be
  // asked (or this peer is not announced yet). Thread-safe; one directory
  // call at a time.
  Result<std::string> Check(const std::string& ticket);

  // Directory calls made so far (for tests and the UI).
  int64_t directory_calls() const;

 private:
  struct Answer {
    Result<std::string> user;
    std::chrono::steady_clock::time_point until;
  };
  // The directory's answer; `valid_for` is how long a yes holds.
  Result<std::string> Ask(const std::string& ticket, std::chrono::seconds* valid_for);

  const dirclient::DirectoryClientOptions directory_;
  const Login login_;
  const std::function<std::string()> peer_id_;
  const TicketCheckerOptions options_;
  mutable std::mutex mu_;
  std::unique_ptr<dirclient::DirectoryClient> client_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, Answer> remembered_;  // by ticket; GUARDED_BY(mu_)
  int64_t directory_calls_ = 0;                         // GUARDED_BY(mu_)
};

}  // namespace ferry
