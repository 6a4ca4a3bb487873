#include "server/server_metrics.h"

#include <google/protobuf/descriptor.h>

#include <algorithm>

#include <fmt/format.h>

#include "ferry/v1/files.pb.h"
#include "ferry/v1/jobs.pb.h"
#include "net/prometheus_text.h"

namespace ferry {
namespace {

constexpr std::string_view kServices[] = {"ferry.v1.Auth", "ferry.v1.Files", "ferry.v1.Jobs"};
constexpr jobs::JobState kEndStates[] = {jobs::JobState::kDone, jobs::JobState::kFailed,
                                         jobs::JobState::kCancelled};
constexpr std::string_view kDirectionNames[] = {"upload", "download"};

std::vector<std::string> FerryMethods() {
  // Referencing the messages keeps their descriptors in the generated pool.
  (void)v1::StatRequest::descriptor();
  (void)v1::SubmitJobRequest::descriptor();
  std::vector<std::string> methods;
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (std::string_view name : kServices) {
    const auto* service = pool->FindServiceByName(std::string(name));
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      methods.push_back(fmt::format("{}/{}", name, service->method(i)->name()));
    }
  }
  std::sort(methods.begin(), methods.end());
  methods.push_back("other");
  return methods;
}

}  // namespace

ServerMetrics::ServerMetrics()
    : methods_(FerryMethods()),
      calls_(std::make_unique<std::array<std::atomic<uint64_t>, kCodes>[]>(methods_.size())) {}

void ServerMetrics::RecordCall(std::string_view method, int code) {
  if (method.starts_with('/')) method.remove_prefix(1);
  // methods_ is sorted but for "other" at the end.
  const auto known = methods_.end() - 1;
  auto it = std::lower_bound(methods_.begin(), known, method);
  size_t index = (it != known && *it == method) ? it - methods_.begin() : methods_.size() - 1;
  if (code < 0 || code >= kCodes) code = static_cast<int>(Code::kUnknown);
  calls_[index][code].fetch_add(1, std::memory_order_relaxed);
}

void ServerMetrics::ObserveAudit(const AuditRecord& record) {
  std::optional<Direction> direction;
  if (record.operation == "upload") direction = Direction::kUpload;
  if (record.operation == "download") direction = Direction::kDownload;
  if (!direction) return;
  RecordTransfer(*direction, record.bytes, std::chrono::microseconds(record.duration_us));
}

void ServerMetrics::RecordTransfer(Direction direction, int64_t bytes,
                                   std::chrono::microseconds took) {
  Transfers& t = transfers_[static_cast<size_t>(direction)];
  t.bytes.fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, bytes)), std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(took).count();
  std::lock_guard lock(mu_);
  t.count++;
  t.seconds += seconds;
  for (size_t i = 0; i < kTransferBuckets.size(); ++i) {
    if (seconds <= kTransferBuckets[i]) {
      t.buckets[i]++;
      break;
    }
  }
}

void ServerMetrics::RecordJobOutcome(jobs::JobState state) {
  for (size_t i = 0; i < std::size(kEndStates); ++i) {
    if (kEndStates[i] == state) job_outcomes_[i].fetch_add(1, std::memory_order_relaxed);
  }
}

std::string ServerMetrics::Render(const Snapshot& now) const {
  PrometheusText out;
  out.Family("ferry_server_build_info", "gauge", "Always 1; the version of this server.");
  out.Sample("ferry_server_build_info", {{"version", FERRY_VERSION}}, uint64_t{1});

  const auto& c = now.connections;
  out.Single("ferry_server_connections_open", "gauge",
             "TCP connections counted against --max-connections now (a close is noticed "
             "within a second).",
             static_cast<uint64_t>(c.open));
  out.Single("ferry_server_connections_accepted_total", "counter",
             "TCP connections admitted before their TLS handshake.", c.admitted);
  out.Family("ferry_server_connections_refused_total", "counter",
             "TCP connections refused before their TLS handshake, by reason.");
  out.Sample("ferry_server_connections_refused_total", {{"reason", "server_full"}},
             c.refused_server_full);
  out.Sample("ferry_server_connections_refused_total", {{"reason", "source_full"}},
             c.refused_source_full);
  out.Sample("ferry_server_connections_refused_total", {{"reason", "penalized"}},
             c.refused_penalized);
  out.Single("ferry_server_connections_cut_total", "counter",
             "Connections cut for abuse (streams reset or failed too fast).", c.cut);
  out.Single("ferry_server_sessions_open", "gauge", "Logged-in sessions now.",
             static_cast<uint64_t>(now.sessions));

  out.Family("ferry_server_grpc_calls_total", "counter",
             "gRPC calls answered, by method and status code.");
  for (size_t m = 0; m < methods_.size(); ++m) {
    for (int code = 0; code < kCodes; ++code) {
      const uint64_t n = calls_[m][code].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out.Sample("ferry_server_grpc_calls_total",
                 {{"method", methods_[m]}, {"code", CodeName(static_cast<Code>(code))}}, n);
    }
  }

  out.Family("ferry_server_transfer_bytes_total", "counter",
             "File bytes received by uploads and sent by downloads (partial and failed "
             "transfers included).");
  for (size_t d = 0; d < transfers_.size(); ++d) {
    out.Sample("ferry_server_transfer_bytes_total", {{"direction", kDirectionNames[d]}},
               transfers_[d].bytes.load(std::memory_order_relaxed));
  }
  out.Family("ferry_server_transfer_seconds", "histogram",
             "Time an Upload or Download call took, by direction.");
  {
    std::lock_guard lock(mu_);
    for (size_t d = 0; d < transfers_.size(); ++d) {
      const Transfers& t = transfers_[d];
      out.Histogram("ferry_server_transfer_seconds", {"direction", kDirectionNames[d]},
                    kTransferBuckets, t.buckets, t.seconds, t.count);
    }
  }

  if (now.jobs_waiting) {
    out.Single("ferry_server_job_queue_depth", "gauge",
               "Jobs queued and not yet taken by a worker.",
               static_cast<uint64_t>(std::max<int64_t>(0, *now.jobs_waiting)));
  }
  out.Family("ferry_server_jobs_finished_total", "counter",
             "Jobs the embedded workers ended, by outcome (0 with --queue redis://: "
             "`ferry worker`s run them).");
  for (size_t i = 0; i < std::size(kEndStates); ++i) {
    out.Sample("ferry_server_jobs_finished_total", {{"outcome", jobs::StateName(kEndStates[i])}},
               job_outcomes_[i].load(std::memory_order_relaxed));
  }
  out.Single("ferry_server_audit_write_failures_total", "counter",
             "Batches of audit records that could not be written (mutating calls are refused "
             "while writing fails).",
             now.audit_write_failures);
  return out.Take();
}

}  // namespace ferry
