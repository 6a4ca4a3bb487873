// What this peer is uploading right now: one row per fetcher and content,
// with the bytes sent and the recent rate, for the web UI and /metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "peer/rate_meter.h"

namespace ferry {

struct UploadView {
  std::string user;     // the fetcher, as its ticket names it
  std::string address;  // where its call came from ("127.0.0.1:51234")
  std::string sha256;
  std::string name;   // the shared file's path
  int64_t bytes = 0;  // sent to this fetcher of this content so far
  double rate = 0;    // bytes per second over the last seconds
};

// Thread-safe; one short lock per chunk sent.
class UploadBoard {
 public:
  using Clock = std::chrono::steady_clock;
  // A row stays this long after its last call ended, so that a fetcher
  // between two calls does not flicker out of the list.
  static constexpr std::chrono::seconds kLinger{3};
  // A call serving `sha256` (path `name`) to `user` at `address` starts;
  // End() must follow.
  void Begin(const std::string& user, const std::string& address, const std::string& sha256,
             const std::string& name);
  void Sent(const std::string& user, const std::string& sha256, int64_t bytes);
  void End(const std::string& user, const std::string& sha256);

  // The rows with a call in progress or one that ended within kLinger,
  // ordered by user and content. `now` is for tests.
  std::vector<UploadView> Snapshot(Clock::time_point now = Clock::now()) const;

 private:
  struct Row {
    UploadView view;
    int calls = 0;
    Clock::time_point last{};
    RateMeter rate;
  };
  using Key = std::pair<std::string, std::string>;  // user, sha256
  void Forget(Clock::time_point now);               // REQUIRES: mu_ held

  mutable std::mutex mu_;
  std::map<Key, Row> rows_;  // GUARDED_BY(mu_)
};

}  // namespace ferry
