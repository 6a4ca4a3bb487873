#include "server/server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/host_port.h"
#include "core/logging.h"
#include "core/loopback.h"
#include "core/process_tuning.h"
#include "core/secrets.h"
#include "core/usable_cpus.h"
#include "jobs/redis_job_queue.h"
#include "jobs/sqlite_job_queue.h"
#include "jobs/worker_pool.h"
#include "net/connection_gate.h"
#include "net/daemon.h"
#include "net/tcp_acceptor.h"
#include "net/tls_identity.h"
#include "server/accounts.h"
#include "server/auth_service.h"
#include "server/call_counter.h"
#include "server/file_service.h"
#include "server/job_service.h"
#include "server/metrics_endpoint.h"
#include "server/server_metrics.h"
#include "server/stream_watch.h"
#include "transfer/grpc_tuning.h"

namespace ferry {
namespace {

Result<CertPair> LoadIdentity(const ServerOptions& o, const DataDir& data) {
  if (!o.tls_cert.empty() || !o.tls_key.empty()) {
    if (o.tls_cert.empty() || o.tls_key.empty()) {
      return Status::InvalidArgument("--tls-cert and --tls-key go together");
    }
    return LoadCertPair(o.tls_cert, o.tls_key);
  }
  bool created = false;
  auto pair =
      LoadOrCreateSelfSigned(data.tls() + "/server.crt", data.tls() + "/server.key", &created);
  if (pair.ok() && created) {
    spdlog::info("made a new self-signed certificate in {}/server.crt", data.tls());
  }
  return pair;
}

// Periodic housekeeping, stopped from one place before the server goes away.
class Housekeeper {
 public:
  Housekeeper(ServerState* state, std::chrono::seconds period)
      : state_(state), period_(period), thread_([this] { Run(); }) {}
  ~Housekeeper() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    auto next_cleanup = std::chrono::steady_clock::now();
    for (;;) {
      if (std::chrono::steady_clock::now() >= next_cleanup) {
        state_->uploads.RemoveStale();
        next_cleanup += std::chrono::hours(1);
      }
      if (cv_.wait_for(lock, period_, [&] { return stop_; })) return;
      state_->sessions.Sweep();
      ReturnFreeMemory();
    }
  }
  ServerState* state_;
  const std::chrono::seconds period_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

Status ValidateOptions(const ServerOptions& o) {
  auto at_least = [](int value, int min, const char* flag) {
    return value >= min ? Status::Ok()
                        : Status::InvalidArgument(fmt::format("{} must be at least {}", flag, min));
  };
  FERRY_RETURN_IF_ERROR(at_least(o.max_clients, 1, "--max-clients"));
  FERRY_RETURN_IF_ERROR(at_least(o.max_connections, 1, "--max-connections"));
  FERRY_RETURN_IF_ERROR(at_least(o.max_connections_per_source, 1, "--max-connections-per-source"));
  FERRY_RETURN_IF_ERROR(at_least(o.handshake_timeout_seconds, 1, "--handshake-timeout"));
  FERRY_RETURN_IF_ERROR(at_least(o.max_streams_per_connection, 1, "--max-streams-per-connection"));
  FERRY_RETURN_IF_ERROR(at_least(o.max_sessions_per_user, 1, "--max-sessions-per-user"));
  FERRY_RETURN_IF_ERROR(at_least(o.idle_timeout_seconds, 1, "--idle-timeout"));
  FERRY_RETURN_IF_ERROR(at_least(o.shutdown_grace_seconds, 0, "--shutdown-grace"));
  FERRY_RETURN_IF_ERROR(at_least(o.upload_retention_hours, 1, "--upload-retention"));
  FERRY_RETURN_IF_ERROR(at_least(o.login_delay_ms, 0, "--login-delay-ms"));
  FERRY_RETURN_IF_ERROR(at_least(o.audit_retention_days, 0, "--audit-retention-days"));
  FERRY_RETURN_IF_ERROR(at_least(o.audit_max_mb, 0, "--audit-max-mb"));
  FERRY_RETURN_IF_ERROR(at_least(o.audit_reserve_mb, 0, "--audit-reserve-mb"));
  FERRY_RETURN_IF_ERROR(at_least(o.workers, 0, "--workers"));
  FERRY_RETURN_IF_ERROR(at_least(o.max_jobs_per_user, 1, "--max-jobs-per-user"));
  FERRY_RETURN_IF_ERROR(o.job_limits.Validate());
  if (o.queue != "embedded" && o.queue.rfind("redis://", 0) != 0) {
    return Status::InvalidArgument(
        fmt::format("--queue '{}' is neither 'embedded' nor redis://HOST:PORT", o.queue));
  }
  if (o.queue != "embedded") FERRY_RETURN_IF_ERROR(jobs::RedisAddress::Parse(o.queue).status());
  if (!o.reserve_space.empty()) {
    FERRY_RETURN_IF_ERROR(SpaceReserve::Parse(o.reserve_space).status());
  }
  return Status::Ok();
}

// Finished uploads are renamed from one to the other, which only works
// within one file system; say so at start rather than on every upload.
Status CheckSameFileSystem(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) {
    return ErrnoStatus(errno, "cannot inspect the data directory");
  }
  if (sa.st_dev != sb.st_dev) {
    return Status::FailedPrecondition(
        fmt::format("'{}' and '{}' are on different file systems; they must share one", a, b));
  }
  return Status::Ok();
}

Result<std::unique_ptr<jobs::JobQueue>> OpenJobQueue(const ServerOptions& o, const DataDir& data) {
  if (o.queue != "embedded") {
    auto address = jobs::RedisAddress::Parse(o.queue);
    if (!address.ok()) return address.status();
    auto queue = std::make_unique<jobs::RedisJobQueue>(*address, jobs::RedisQueueOptions{});
    // Files are served whether or not Redis is up; only job calls need it.
    if (Status ping = queue->Ping(); !ping.ok()) {
      spdlog::warn("{}; job submissions fail until it is reachable", ping.message());
    }
    spdlog::info("background jobs: Redis queue at {}, run by `ferry worker`", address->ToString());
    return std::unique_ptr<jobs::JobQueue>(std::move(queue));
  }
  auto queue = jobs::SqliteJobQueue::Open(data.database());
  if (!queue.ok()) return queue.status();
  auto recovered = (*queue)->Recover();
  if (!recovered.ok()) return recovered.status();
  if (*recovered > 0) spdlog::info("{} interrupted jobs are queued again", *recovered);
  return std::unique_ptr<jobs::JobQueue>(std::move(queue).value());
}

// The connection caps in force: --max-connections, lowered if the process
// may not hold that many descriptors besides the files its calls open.
ConnectionLimits ConnectionLimitsFor(const ServerOptions& o, const SessionLimits& sessions) {
  const long descriptors = RaiseDescriptorLimit();
  const long for_files = 256 + 2L * o.max_clients * sessions.max_calls_per_session;
  const long fit = std::max(1L, descriptors - for_files);
  ConnectionLimits limits;
  limits.max_connections = o.max_connections;
  if (limits.max_connections > fit) {
    spdlog::warn(
        "--max-connections {} does not fit in this process's open-file limit of {}: using {}",
        o.max_connections, descriptors, fit);
    limits.max_connections = static_cast<int>(fit);
  }
  limits.max_per_source = std::min(o.max_connections_per_source, limits.max_connections);
  return limits;
}

// The metrics address, or nothing without --metrics-listen. One that is not
// loopback needs --metrics-allow-remote: the metrics are plain HTTP without a
// password.
Result<std::optional<HostPort>> MetricsAddress(const ServerOptions& o) {
  if (o.metrics_listen.empty()) return std::optional<HostPort>();
  auto parsed = ParseHostPort(o.metrics_listen, ListenRules("--metrics-listen"));
  if (!parsed.ok()) return parsed.status();
  if (!IsLoopbackHost(parsed->host) && !o.metrics_allow_remote) {
    return Status::InvalidArgument(fmt::format(
        "--metrics-listen {} is not a loopback address: the metrics (plain HTTP, no password) "
        "would be reachable from the network; add --metrics-allow-remote if that is meant",
        o.metrics_listen));
  }
  return std::optional<HostPort>(*parsed);
}

}  // namespace

Status RunServer(const ServerOptions& o) {
  Daemon daemon;

  FERRY_RETURN_IF_ERROR(ValidateOptions(o));
  auto listen = ParseHostPort(o.listen, ListenRules());
  if (!listen.ok()) return listen.status();
  auto metrics_address = MetricsAddress(o);
  if (!metrics_address.ok()) return metrics_address.status();
  FERRY_RETURN_IF_ERROR(InitCrypto());
  DataDir data{o.data_dir};
  FERRY_RETURN_IF_ERROR(data.Prepare());
  FERRY_RETURN_IF_ERROR(InitLogging(data.logs() + "/server.log", o.verbose));
  FERRY_RETURN_IF_ERROR(CheckSameFileSystem(data.uploads(), data.files()));

  auto identity = LoadIdentity(o, data);
  if (!identity.ok()) return identity.status();
  auto fingerprint = CertFingerprint(identity->cert_pem);
  if (!fingerprint.ok()) return fingerprint.status();

  auto db = data.OpenDatabase();
  if (!db.ok()) return db.status();
  auto accounts_db = data.OpenDatabase();
  if (!accounts_db.ok()) return accounts_db.status();
  AccountStore accounts(&*db);
  auto users = accounts.List();
  if (!users.ok()) return users.status();

  SessionLimits limits{o.max_clients, std::chrono::seconds(o.idle_timeout_seconds),
                       std::chrono::hours(12)};
  limits.max_sessions_per_user = o.max_sessions_per_user;
  ThrottlePolicy throttle;
  throttle.base_delay = std::chrono::milliseconds(o.login_delay_ms);
  AuditOptions audit;
  audit.retention = std::chrono::hours(24 * o.audit_retention_days);
  audit.max_bytes = int64_t{o.audit_max_mb} << 20;
  if (o.audit_reserve_mb > 0) audit.reserve_path = data.root + "/audit.reserve";
  audit.reserve_bytes = int64_t{o.audit_reserve_mb} << 20;
  // Recorded whether or not it is served: a few atomic increments.
  ServerMetrics metrics;
  audit.observer = [&metrics](const AuditRecord& record) { metrics.ObserveAudit(record); };
  SpaceReserve reserve;
  if (!o.reserve_space.empty()) reserve = *SpaceReserve::Parse(o.reserve_space);
  ServerState state(data, limits, throttle, std::move(db).value(), std::move(accounts_db).value(),
                    std::chrono::hours(o.upload_retention_hours), reserve, std::move(audit));
  FileService files(&state);
  AuthService auth(&state);

  auto sealer = jobs::SecretSealer::OpenOrCreate(data.jobs_key());
  if (!sealer.ok()) return sealer.status();
  auto queue = OpenJobQueue(o, data);
  if (!queue.ok()) return queue.status();
  std::unique_ptr<jobs::WorkerPool> workers;
  if (o.queue == "embedded") {
    int n = o.workers > 0 ? o.workers : UsableCpus();
    jobs::WorkerPoolOptions pool_options;
    pool_options.workers = n;
    pool_options.homes_root = data.files();
    pool_options.name = "worker";
    pool_options.max_bytes_per_second = o.job_bytes_per_second;
    o.job_limits.ApplyTo(pool_options);
    // An archive is unpacked only if what it declares fits the user's quota.
    pool_options.output_budget = [&state](const std::string& user) -> std::optional<uint64_t> {
      auto remaining = state.RemainingQuota(user);
      if (!remaining.ok()) {
        spdlog::warn("cannot read the quota of '{}': {}", user, remaining.status().ToString());
        return std::nullopt;
      }
      if (!remaining->has_value()) return std::nullopt;
      return static_cast<uint64_t>(std::max<int64_t>(0, **remaining));
    };
    pool_options.on_finished = [&metrics](jobs::JobState outcome) {
      metrics.RecordJobOutcome(outcome);
    };
    workers = std::make_unique<jobs::WorkerPool>(queue->get(), &*sealer, std::move(pool_options));
    spdlog::info("background jobs: embedded queue, {} workers", n);
  }
  JobService job_service(&state, queue->get(), &*sealer, o.max_jobs_per_user);

  // ferry accepts connections itself, so that each is counted against the
  // caps before gRPC spends a TLS handshake on it; gRPC then owns the socket.
  std::atomic<bool> fatal{false};
  std::string fatal_reason;
  TcpAcceptor::Options acceptor_options;
  acceptor_options.on_fatal = [&](const std::string& why) {
    spdlog::critical("{}: stopping, so that a supervisor can start the server again", why);
    fatal_reason = why;
    fatal = true;
    ::kill(::getpid(), SIGTERM);
  };
  auto acceptor = TcpAcceptor::Listen(*listen, acceptor_options);
  if (!acceptor.ok()) return acceptor.status();
  ConnectionGate gate(ConnectionLimitsFor(o, limits));
  std::unique_ptr<MetricsEndpoint> metrics_endpoint;
  if (*metrics_address) {
    auto endpoint = MetricsEndpoint::Start(**metrics_address, [&] {
      ServerMetrics::Snapshot now;
      now.connections = gate.counts();
      now.sessions = state.sessions.open();
      auto waiting = (*queue)->CountWaiting();
      if (waiting.ok()) now.jobs_waiting = *waiting;
      now.audit_write_failures = state.audit.write_failures();
      return metrics.Render(now);
    });
    if (!endpoint.ok()) return endpoint.status();
    metrics_endpoint = std::move(endpoint).value();
  }

  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({identity->key_pem, identity->cert_pem});
  grpc::ServerBuilder builder;
  auto handoff = builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
      grpc::SslServerCredentials(ssl));
  builder.RegisterService(&files);
  builder.RegisterService(&auth);
  builder.RegisterService(&job_service);
  TuneServerForTransfers(builder);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, o.idle_timeout_seconds * 1000);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             o.handshake_timeout_seconds * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, o.max_streams_per_connection);
  grpc::ResourceQuota quota("ferry-server");
  // Enough threads for every client's maximum of calls, plus some for logins,
  // plus room for the calls a connection cut for resetting streams still had
  // under way: gRPC runs a handler for each, and without the room they would
  // take the threads real calls need until they drain (about a second).
  constexpr int kThreadsForCutConnections = 4096;
  quota.SetMaxThreads(o.max_clients * (limits.max_calls_per_session + 1) + 16 +
                      kThreadsForCutConnections);
  builder.SetResourceQuota(quota);
  if (*metrics_address) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> counters;
    counters.push_back(std::make_unique<CallCounterFactory>(&metrics));
    builder.experimental().SetInterceptorCreators(std::move(counters));
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return Status::Unavailable("cannot start the gRPC server");
  const int port = (*acceptor)->port();
  StreamLimits stream_limits;
  stream_limits.max_open = 2 * int64_t{o.max_streams_per_connection};
  StreamWatch stream_watch(&gate, stream_limits);
  (*acceptor)->Start(&gate, [&handoff](UniqueFd fd, const std::string&) {
    grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
    p.fd = fd.Release();
    handoff->HandleNewConnection(&p);
  });

  const std::string host = listen->BracketedHost();
  spdlog::info("ferry server listening on {}:{} (TLS; data in {})", host, port, o.data_dir);
  spdlog::info("certificate SHA-256 fingerprint: {}", FormatFingerprint(*fingerprint));
  if (metrics_endpoint) {
    spdlog::info("metrics on http://{}:{}/metrics", (*metrics_address)->BracketedHost(),
                 metrics_endpoint->port());
  }
  if (users->empty()) {
    spdlog::info("no accounts yet: add one with `ferry user add NAME --data {}`", o.data_dir);
  }
  spdlog::info("connect with: FERRY_SERVER={}:{} ferry ls --user NAME", host, port);

  // Sweep often enough that idle and stalled clients go within half a timeout.
  Housekeeper housekeeper(&state, std::clamp(std::chrono::seconds(o.idle_timeout_seconds / 2),
                                             std::chrono::seconds(1), std::chrono::seconds(10)));
  DaemonStop how;
  how.what_happens = fmt::format(
      "finishing transfers in progress (up to {} s), then stopping; signal again to stop at once",
      o.shutdown_grace_seconds);
  // Nothing is lost by stopping mid-transfer: partial uploads stay outside
  // the homes and resume later.
  how.second_signal_exits = true;
  daemon.Run([&] { server->Wait(); },
             [&] {
               (*acceptor)->Stop();
               server->Shutdown(std::chrono::system_clock::now() +
                                std::chrono::seconds(o.shutdown_grace_seconds));
             },
             how);
  state.audit.Flush();
  if (fatal) return Status::Unavailable(fatal_reason);
  spdlog::info("ferry server stopped");
  return Status::Ok();
}

}  // namespace ferry
