// The file server's /metrics (`ferry server --metrics-listen`), in the
// Prometheus text format, after the directory's conventions:
// ferry_server_<what>, counters ending in _total. No label names a user, a
// path or an address, so the series stay few and reveal no names: calls are
// labelled by gRPC method (ferry's own, else "other") and status code,
// transfers by direction, jobs by outcome. Thread-safe; recording is a few
// relaxed atomic increments, and a transfer's histogram one short lock.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/job.h"
#include "net/connection_gate.h"
#include "server/audit_log.h"

namespace ferry {

class ServerMetrics {
 public:
  // Upper bounds of the transfer time buckets, in seconds.
  static constexpr std::array<double, 12> kTransferBuckets = {0.01, 0.05, 0.1, 0.25, 0.5, 1.0,
                                                              2.5,  5.0,  10,  30,   120, 600};
  enum class Direction { kUpload, kDownload };

  // Learns the methods of ferry's services (Auth, Files, Jobs).
  ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // One answered gRPC call: `method` as gRPC names it ("/ferry.v1.Files/Stat"),
  // `code` a gRPC status code (0..16; others count as UNKNOWN).
  void RecordCall(std::string_view method, int code);
  // An audit record (AuditOptions::observer): an upload's or a download's
  // bytes and time.
  void ObserveAudit(const AuditRecord& record);
  void RecordTransfer(Direction direction, int64_t bytes, std::chrono::microseconds took);
  // A job the embedded workers ended (WorkerPoolOptions::on_finished).
  void RecordJobOutcome(jobs::JobState state);

  // What is read when /metrics is asked for, not recorded as it happens.
  struct Snapshot {
    ConnectionGate::Counts connections;
    size_t sessions = 0;
    std::optional<int64_t> jobs_waiting;  // nullopt: the queue did not answer
    uint64_t audit_write_failures = 0;
  };
  std::string Render(const Snapshot& now) const;

 private:
  static constexpr int kCodes = 17;
  static constexpr int kStates = 3;  // done, failed, cancelled
  struct Transfers {
    std::atomic<uint64_t> bytes{0};
    std::array<uint64_t, kTransferBuckets.size()> buckets{};  // GUARDED_BY(mu_)
    uint64_t count = 0;                                       // GUARDED_BY(mu_)
    double seconds = 0;                                       // GUARDED_BY(mu_)
  };
  // "ferry.v1.Files/Stat" for each method; the last entry is "other".
  std::vector<std::string> methods_;
  std::unique_ptr<std::array<std::atomic<uint64_t>, kCodes>[]> calls_;  // [method][code]
  std::array<Transfers, 2> transfers_;                                  // by Direction
  std::array<std::atomic<uint64_t>, kStates> job_outcomes_{};
  mutable std::mutex mu_;
};

}  // namespace ferry
