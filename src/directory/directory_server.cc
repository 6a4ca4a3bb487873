#include "directory/directory_server.h"

#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/host_port.h"
#include "core/logging.h"
#include "core/process_tuning.h"
#include "core/secrets.h"
#include "directory/directory_http.h"
#include "directory/directory_service.h"
#include "directory/postgres_directory_store.h"
#include "directory/sqlite_directory_store.h"
#include "net/daemon.h"
#include "net/tls_identity.h"

namespace ferry {
namespace {

// The URL without its password, for messages and logs.
std::string Redacted(const std::string& url) {
  auto scheme = url.find("://");
  auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon) + ":***" + url.substr(at);
}

// The limits on what clients may send or make the directory do.
Status ValidateLimits(const DirectoryServerOptions& o) {
  if (o.max_body < 1024 || o.max_body > (size_t{1} << 30)) {
    return Status::InvalidArgument("--max-body must be from 1024 to 1073741824 bytes");
  }
  if (o.max_small_body < 256 || o.max_small_body > (size_t{1} << 20)) {
    return Status::InvalidArgument("--max-small-body must be from 256 to 1048576 bytes");
  }
  // An announce nests an object in an array in the body's object.
  if (o.max_json_depth < 3 || o.max_json_depth > 1024) {
    return Status::InvalidArgument("--max-json-depth must be from 3 to 1024");
  }
  if (o.register_per_minute < 0 || o.register_per_minute > 100'000) {
    return Status::InvalidArgument("--register-per-minute must be from 0 (no limit) to 100000");
  }
  if (o.login_per_minute < 0 || o.login_per_minute > 100'000) {
    return Status::InvalidArgument("--login-per-minute must be from 0 (no limit) to 100000");
  }
  if (o.rate_limit_addresses < 1 || o.rate_limit_addresses > (size_t{1} << 24)) {
    return Status::InvalidArgument("--rate-limit-addresses must be from 1 to 16777216");
  }
  if (o.hash_concurrency < 0 || o.hash_concurrency > 1024) {
    return Status::InvalidArgument("--hash-concurrency must be from 0 (automatic) to 1024");
  }
  if (o.hash_queue < 0 || o.hash_queue > 4096) {
    return Status::InvalidArgument("--hash-queue must be from 0 to 4096");
  }
  // Tickets are short-lived by design: a serving peer caches the answer to a
  // check, and a ticket's only revocation is its expiry (or its peer's).
  if (o.ticket_seconds < 1 || o.ticket_seconds > 3600) {
    return Status::InvalidArgument("--ticket-seconds must be from 1 to 3600");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<DirectoryStore>> OpenDirectoryStore(const std::string& url,
                                                           int connections) {
  if (url.starts_with("sqlite:")) {
    std::string path = url.substr(7);
    if (path.empty()) return Status::InvalidArgument("--db sqlite:PATH needs a path");
    std::error_code ec;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    return OpenSqliteDirectoryStore(path);
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    return OpenPostgresDirectoryStore(url, connections);
  }
  return Status::InvalidArgument(fmt::format(
      "--db '{}': expected sqlite:PATH or postgresql://USER@HOST:PORT/DB", Redacted(url)));
}

Status RunDirectory(const DirectoryServerOptions& o) {
  Daemon daemon;
  auto listen = ParseHostPort(o.listen, ListenRules());
  if (!listen.ok()) return listen.status();
  if (!(o.heartbeat_seconds >= 0.05 && o.heartbeat_seconds <= 3600)) {
    return Status::InvalidArgument("--heartbeat-seconds must be from 0.05 to 3600");
  }
  if (o.loops < 0 || o.loops > 1024) {
    return Status::InvalidArgument("--loops must be from 0 (automatic) to 1024");
  }
  if (o.threads < 1 || o.threads > 4096) {
    return Status::InvalidArgument("--threads must be from 1 to 4096");
  }
  if (o.search_concurrency < 0 || o.search_concurrency > 1024) {
    return Status::InvalidArgument("--search-concurrency must be from 0 (automatic) to 1024");
  }
  if (o.search_cache_mib < 0 || o.search_cache_mib > 4096) {
    return Status::InvalidArgument("--search-cache-mib must be from 0 (off) to 4096");
  }
  FERRY_RETURN_IF_ERROR(ValidateLimits(o));
  FERRY_RETURN_IF_ERROR(InitCrypto());
  RaiseDescriptorLimit();
  std::error_code ec;
  for (const char* sub : {"tls", "logs"}) {
    std::filesystem::create_directories(std::filesystem::path(o.data_dir) / sub, ec);
    if (ec) {
      return Status::Unavailable(
          fmt::format("cannot create {}/{}: {}", o.data_dir, sub, ec.message()));
    }
  }
  FERRY_RETURN_IF_ERROR(InitLogging(o.data_dir + "/logs/directory.log", o.verbose));

  DirectoryHttpOptions http;
  http.host = listen->host;
  http.port = listen->port;
  http.plain_http = o.plain_http;
  http.loops = o.loops;
  http.threads = o.threads;
  http.max_body = o.max_body;
  http.max_small_body = o.max_small_body;
  http.max_json_depth = o.max_json_depth;
  http.register_per_minute = o.register_per_minute;
  http.login_per_minute = o.login_per_minute;
  http.rate_limit_addresses = o.rate_limit_addresses;
  std::string fingerprint;
  if (!o.plain_http) {
    if (o.tls_cert.empty() != o.tls_key.empty()) {
      return Status::InvalidArgument("--tls-cert and --tls-key go together");
    }
    http.cert_file = o.tls_cert.empty() ? o.data_dir + "/tls/directory.crt" : o.tls_cert;
    http.key_file = o.tls_key.empty() ? o.data_dir + "/tls/directory.key" : o.tls_key;
    bool created = false;
    auto pair = o.tls_cert.empty() ? LoadOrCreateSelfSigned(http.cert_file, http.key_file, &created)
                                   : LoadCertPair(http.cert_file, http.key_file);
    if (!pair.ok()) return pair.status();
    if (created) spdlog::info("made a new self-signed certificate in {}", http.cert_file);
    auto fp = CertFingerprint(pair->cert_pem);
    if (!fp.ok()) return fp.status();
    fingerprint = *fp;
  }

  std::string db = o.db.empty() ? "sqlite:" + o.data_dir + "/directory.db" : o.db;
  http.reads_answered_on_loop = db.starts_with("sqlite:");
  auto store = OpenDirectoryStore(db, o.db_connections);
  if (!store.ok()) return store.status();
  DirectoryOptions options;
  options.heartbeat_interval =
      std::chrono::milliseconds(static_cast<int64_t>(o.heartbeat_seconds * 1000));
  if (o.search_cache_mib == 0) options.search_cache_ttl = std::chrono::milliseconds(0);
  options.search_cache_bytes = static_cast<size_t>(o.search_cache_mib) << 20;
  options.search_concurrency = o.search_concurrency;
  options.hash_concurrency = o.hash_concurrency;
  options.hash_queue = o.hash_queue;
  options.ticket_lifetime = std::chrono::seconds(o.ticket_seconds);
  if (options.search_concurrency == 0 && !db.starts_with("sqlite:")) {
    options.search_concurrency = o.db_connections;
  }
  DirectoryService service(std::move(store).value(), options);
  auto server = DirectoryHttpServer::Bind(&service, http);
  if (!server.ok()) return server.status();
  service.Start();

  std::string scheme = o.plain_http ? "http" : "https";
  spdlog::info("ferry directory listening on {}://{}:{} (store {})", scheme,
               listen->BracketedHost(), (*server)->port(), Redacted(db));
  if (!fingerprint.empty()) {
    spdlog::info("certificate SHA-256 fingerprint: {}", FormatFingerprint(fingerprint));
  }
  spdlog::info("try: FERRY_DIRECTORY={}://{}:{} ferry register --user NAME", scheme,
               listen->BracketedHost(), (*server)->port());

  daemon.Run([&] { (*server)->Serve(); }, [&] { (*server)->Stop(); });
  service.Stop();
  spdlog::info("ferry directory stopped");
  return Status::Ok();
}

}  // namespace ferry
