// `ferry server`, `ferry user ...` and `ferry log`: commands run on the server's machine.
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/fail.h"
#include "cli/prompt.h"
#include "core/byte_size.h"
#include "core/display_text.h"
#include "core/home_fs.h"
#include "core/rel_path.h"
#include "core/secrets.h"
#include "directory/directory_server.h"
#include "server/accounts.h"
#include "server/audit_log.h"
#include "server/data_dir.h"
#include "server/server.h"
#include "server/worker.h"

namespace ferry {
namespace {

// A new password from stdin (--password-stdin) or typed twice at the terminal.
Result<std::string> NewPassword(bool from_stdin, const std::string& user) {
  if (from_stdin) {
    auto line = ReadStdinLine();
    if (!line) return Status::InvalidArgument("--password-stdin: nothing on standard input");
    return *line;
  }
  auto first = ReadHidden(fmt::format("new password for '{}': ", user));
  if (!first) {
    return Status::InvalidArgument("no terminal to ask for a password: use --password-stdin");
  }
  auto second = ReadHidden("again: ");
  if (!second || *second != *first) return Status::InvalidArgument("the passwords do not match");
  return *first;
}

std::string FormatMicros(int64_t time_us) {
  time_t secs = static_cast<time_t>(time_us / 1'000'000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  return fmt::format("{}.{:03}Z", buf, (time_us / 1000) % 1000);
}

// A quota as `ferry user` takes it: a size like 10G, or "none" (nullopt).
Result<std::optional<int64_t>> ParseQuota(const std::string& text) {
  if (text == "none") return std::optional<int64_t>();
  auto bytes = ParseByteSize(text);
  if (!bytes.ok()) return bytes.status();
  return std::optional<int64_t>(*bytes);
}

// --job-rate-limit, for the server's embedded workers and for `ferry worker`.
std::shared_ptr<std::string> AddJobRateOption(CLI::App* cmd) {
  auto rate = std::make_shared<std::string>();
  cmd->add_option("--job-rate-limit", *rate,
                  "input bytes per second per job, like 50M (default: no limit)");
  return rate;
}

// What one job may cost, for the server's embedded workers and for `ferry worker`.
void AddJobLimitOptions(CLI::App* cmd, JobLimitOptions* o) {
  cmd->add_option("--max-scrypt-work-factor", o->max_scrypt_work_factor,
                  "decrypt refuses age files asking for a higher scrypt work factor (log2 N, "
                  "at most 22)")
      ->capture_default_str();
  cmd->add_option("--scrypt-memory-mib", o->scrypt_memory_mib,
                  "memory all scrypt derivations share at once (256 MiB each at 2^18)")
      ->capture_default_str();
  cmd->add_option("--unzip-max-ratio", o->unzip_max_ratio,
                  "unzip refuses archives declaring more than this many times their size "
                  "(0: no limit)")
      ->capture_default_str();
}

// The user name a `ferry user` command was given. Those commands keep what
// they cannot parse (allow_extras) instead of letting the parser take a name
// such as "-x" for an unknown option and then ask for a name: a word that
// starts with '-' and is no option gets told why it is not a user name either.
Status CheckUserNameArgument(const CLI::App& cmd, const std::string& name) {
  bool after_marker = false;  // after "--" every word is an argument, as given
  for (const std::string& extra : cmd.remaining()) {
    if (extra == "--" && !after_marker) {
      after_marker = true;
      continue;
    }
    if (after_marker || !extra.starts_with('-')) {
      return Status::InvalidArgument(fmt::format("ferry user {}: unexpected argument '{}'{}",
                                                 cmd.get_name(), ForDisplay(extra),
                                                 after_marker ? " (options go before --)" : ""));
    }
    Status s = ValidateUserName(extra);
    return Status::InvalidArgument(
        fmt::format("ferry user {}: '{}' is not an option of this command{}", cmd.get_name(),
                    ForDisplay(extra), s.ok() ? "" : ", and " + s.message()));
  }
  if (name.empty()) {
    return Status::InvalidArgument(fmt::format("ferry user {}: give a user name", cmd.get_name()));
  }
  return ValidateUserName(name);
}

}  // namespace

void AddServerCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<ServerOptions>();
  auto* cmd = app.add_subcommand("server", "run the file server");
  cmd->add_option("--listen", o->listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--data", o->data_dir, "data directory")->capture_default_str();
  cmd->add_option("--tls-cert", o->tls_cert, "certificate (PEM) instead of the self-signed one");
  cmd->add_option("--tls-key", o->tls_key, "private key (PEM) for --tls-cert");
  cmd->add_option("--max-connections", o->max_connections,
                  "most TCP connections at once, counted before the TLS handshake")
      ->capture_default_str();
  cmd->add_option("--max-connections-per-source", o->max_connections_per_source,
                  "most TCP connections at once from one IPv4 address or IPv6 /64")
      ->capture_default_str();
  cmd->add_option("--handshake-timeout", o->handshake_timeout_seconds,
                  "seconds a new connection has to finish its TLS and HTTP/2 handshake")
      ->capture_default_str();
  cmd->add_option("--max-streams-per-connection", o->max_streams_per_connection,
                  "most calls at once on one connection (HTTP/2 streams)")
      ->capture_default_str();
  cmd->add_option("--max-clients", o->max_clients, "most clients at once")->capture_default_str();
  cmd->add_option("--max-sessions-per-user", o->max_sessions_per_user,
                  "most sessions one user may have open at once")
      ->capture_default_str();
  cmd->add_option("--idle-timeout", o->idle_timeout_seconds,
                  "seconds before an idle client is disconnected")
      ->capture_default_str();
  cmd->add_option("--shutdown-grace", o->shutdown_grace_seconds,
                  "seconds transfers may take to finish after SIGINT/SIGTERM")
      ->capture_default_str();
  cmd->add_option("--upload-retention", o->upload_retention_hours,
                  "hours an interrupted upload is kept for resuming")
      ->capture_default_str();
  cmd->add_option("--reserve-space", o->reserve_space,
                  "space uploads leave free on the data file system, like 5%, 2G or 0 "
                  "(default: 5% or 1G, whichever is smaller)");
  cmd->add_option("--login-delay-ms", o->login_delay_ms,
                  "first delay after repeated failed logins (it doubles each time)")
      ->capture_default_str();
  cmd->add_option("--audit-retention-days", o->audit_retention_days,
                  "days audit records are kept (0: forever)")
      ->capture_default_str();
  cmd->add_option("--audit-max-mb", o->audit_max_mb,
                  "MiB the database may hold before the oldest audit records go (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--audit-reserve-mb", o->audit_reserve_mb,
                  "MiB kept free on the data disk for audit records when it fills (0: none)")
      ->capture_default_str();
  cmd->add_option("--queue", o->queue,
                  "background jobs: 'embedded' (worker threads in this process) or "
                  "redis://HOST:PORT (for `ferry worker` processes)")
      ->capture_default_str();
  cmd->add_option("--workers", o->workers,
                  "job worker threads for the embedded queue (0: one per CPU it may use)")
      ->capture_default_str();
  auto job_rate = AddJobRateOption(cmd);
  AddJobLimitOptions(cmd, &o->job_limits);
  cmd->add_option("--max-jobs-per-user", o->max_jobs_per_user,
                  "queued and running jobs one user may have")
      ->capture_default_str();
  cmd->add_option("--metrics-listen", o->metrics_listen,
                  "HOST:PORT serving GET /metrics in the Prometheus text format over plain "
                  "HTTP (port 0: any free port; default: none)");
  cmd->add_flag("--metrics-allow-remote", o->metrics_allow_remote,
                "let --metrics-listen take an address other than loopback (anyone who reaches "
                "it reads the metrics)");
  cmd->add_flag("-v,--verbose", o->verbose, "debug logging");
  cmd->callback([o, job_rate, exit_code] {
    auto rate = ParseRate(*job_rate);
    if (rate.ok()) o->job_bytes_per_second = *rate;
    Status s = rate.ok() ? RunServer(*o) : rate.status();
    *exit_code = s.ok() ? 0 : Fail(s);
  });
}

void AddWorkerCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<WorkerOptions>();
  auto* cmd = app.add_subcommand("worker", "run background jobs from a Redis queue");
  cmd->add_option("--queue", o->queue, "the server's queue, redis://HOST:PORT")->required();
  cmd->add_option("--data", o->data_dir, "the server's data directory (shared storage)")
      ->capture_default_str();
  cmd->add_option("--workers", o->workers, "jobs run at once (0: one per CPU it may use)")
      ->capture_default_str();
  cmd->add_option("--visibility-timeout", o->visibility_timeout_seconds,
                  "seconds after which a silent worker's job is taken over by another")
      ->capture_default_str();
  auto job_rate = AddJobRateOption(cmd);
  AddJobLimitOptions(cmd, &o->job_limits);
  cmd->add_flag("-v,--verbose", o->verbose, "debug logging");
  cmd->callback([o, job_rate, exit_code] {
    auto rate = ParseRate(*job_rate);
    if (rate.ok()) o->job_bytes_per_second = *rate;
    Status s = rate.ok() ? RunWorker(*o) : rate.status();
    *exit_code = s.ok() ? 0 : Fail(s);
  });
}

void AddDirectoryCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<DirectoryServerOptions>();
  auto* cmd = app.add_subcommand("directory", "run the peer-to-peer directory (REST over HTTPS)");
  cmd->add_option("--listen", o->listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--data", o->data_dir, "directory for tls/, logs/ and the default database")
      ->capture_default_str();
  cmd->add_option("--db", o->db,
                  "sqlite:PATH (default DATA/directory.db) or postgresql://USER@HOST:PORT/DB "
                  "(several instances may share one PostgreSQL database)");
  cmd->add_flag("--plain-http", o->plain_http,
                "serve plain HTTP (behind a proxy that terminates TLS)");
  cmd->add_option("--tls-cert", o->tls_cert, "certificate (PEM) instead of the self-signed one");
  cmd->add_option("--tls-key", o->tls_key, "private key (PEM) for --tls-cert");
  cmd->add_option("--heartbeat-seconds", o->heartbeat_seconds,
                  "how often peers heartbeat; a peer that misses 3 goes offline")
      ->capture_default_str();
  cmd->add_option("--loops", o->loops,
                  "event loops, each handling its connections' requests in turn (0: one per "
                  "CPU)")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads,
                  "requests that may wait handled at once: password hashing and writes; with "
                  "PostgreSQL, every request not answered from memory (idle connections hold "
                  "none)")
      ->capture_default_str();
  cmd->add_option("--max-body", o->max_body,
                  "largest body of an announce with a token, in bytes (refused with 413 beyond)")
      ->capture_default_str();
  cmd->add_option("--max-small-body", o->max_small_body,
                  "largest body of any other request (register, login, heartbeat), in bytes")
      ->capture_default_str();
  cmd->add_option("--max-json-depth", o->max_json_depth,
                  "deepest nesting of arrays and objects in a request body")
      ->capture_default_str();
  cmd->add_option("--register-per-minute", o->register_per_minute,
                  "registrations each source address (IPv6: /64) may make a minute, all at "
                  "once if it likes (429 beyond; 0: no limit)")
      ->capture_default_str();
  cmd->add_option("--login-per-minute", o->login_per_minute,
                  "logins each source address (IPv6: /64) may try a minute (429 beyond; 0: no "
                  "limit)")
      ->capture_default_str();
  cmd->add_option("--rate-limit-addresses", o->rate_limit_addresses,
                  "source addresses remembered for each rate limit; beyond, new ones share one "
                  "limit")
      ->capture_default_str();
  cmd->add_option("--hash-concurrency", o->hash_concurrency,
                  "password hashes (Argon2id, 19 MiB each) computed at once, the rest queued "
                  "(0: one per CPU, at most 4)")
      ->capture_default_str();
  cmd->add_option("--hash-queue", o->hash_queue,
                  "registers and logins that may wait for a password hash; beyond, 429")
      ->capture_default_str();
  cmd->add_option("--ticket-seconds", o->ticket_seconds,
                  "how long a ticket a fetcher gets for one serving peer names it there (1 to "
                  "3600)")
      ->capture_default_str();
  cmd->add_option("--db-connections", o->db_connections, "PostgreSQL connections")
      ->capture_default_str();
  cmd->add_option("--search-concurrency", o->search_concurrency,
                  "searches run at once, the rest queued in order (0: one per CPU with SQLite, "
                  "--db-connections with PostgreSQL; with PostgreSQL on the same machine, its "
                  "cores)")
      ->capture_default_str();
  cmd->add_option("--search-cache-mib", o->search_cache_mib,
                  "memory for recent search answers, reused for up to a second (0: off)")
      ->capture_default_str();
  cmd->add_flag("-v,--verbose", o->verbose, "debug logging");
  cmd->callback([o, exit_code] {
    Status s = RunDirectory(*o);
    *exit_code = s.ok() ? 0 : Fail(s);
  });
}

void AddUserCommands(CLI::App& app, int* exit_code) {
  struct Args {
    std::string data = "./ferry-data", name, quota;
    bool password_stdin = false, remove_home = false;
  };
  auto a = std::make_shared<Args>();
  auto* user = app.add_subcommand("user", "manage accounts in a data directory");
  user->require_subcommand(1);
  // Runs `body` on the data directory's accounts; a command that takes a name
  // (`named`) has it checked first, before anything is created.
  auto with_db = [a, exit_code](const CLI::App* named,
                                const std::function<Status(AccountStore&, const DataDir&)>& body) {
    Status s = named != nullptr ? CheckUserNameArgument(*named, a->name) : Status::Ok();
    if (s.ok()) s = InitCrypto();
    DataDir data{a->data};
    if (s.ok()) s = data.Prepare();
    if (s.ok()) {
      auto db = data.OpenDatabase();
      if (!db.ok()) {
        s = db.status();
      } else {
        AccountStore accounts(&*db);
        s = body(accounts, data);
      }
    }
    *exit_code = s.ok() ? 0 : Fail(s);
  };
  auto add_common = [a](CLI::App* cmd, bool takes_name) {
    cmd->add_option("--data", a->data, "data directory")->capture_default_str();
    if (takes_name) {
      // Checked by CheckUserNameArgument, which also explains "-x".
      cmd->add_option("name", a->name, "user name (required)");
      cmd->allow_extras()->fallthrough(false);
    }
  };

  auto* add = user->add_subcommand("add", "create an account and its home");
  add_common(add, true);
  add->add_flag("--password-stdin", a->password_stdin, "read the password from standard input");
  add->add_option("--quota", a->quota, "storage quota, like 10G or none (default: none)");
  add->callback([a, with_db, add] {
    with_db(add, [&](AccountStore& accounts, const DataDir& data) -> Status {
      auto quota = ParseQuota(a->quota.empty() ? "none" : a->quota);
      if (!quota.ok()) return quota.status();
      auto pw = NewPassword(a->password_stdin, a->name);
      if (!pw.ok()) return pw.status();
      Status s = accounts.Add(a->name, *pw);
      Wipe(*pw);
      FERRY_RETURN_IF_ERROR(s);
      if (*quota) FERRY_RETURN_IF_ERROR(accounts.SetQuota(a->name, *quota));
      auto home = HomeFs::Open(data.home(a->name), true);
      if (!home.ok()) return home.status();
      std::cout << fmt::format("added user '{}' (home {})\n", a->name, data.home(a->name));
      return Status::Ok();
    });
  });

  auto* passwd = user->add_subcommand("passwd", "set a user's password");
  add_common(passwd, true);
  passwd->add_flag("--password-stdin", a->password_stdin, "read the password from standard input");
  passwd->callback([a, with_db, passwd] {
    with_db(passwd, [&](AccountStore& accounts, const DataDir&) -> Status {
      auto pw = NewPassword(a->password_stdin, a->name);
      if (!pw.ok()) return pw.status();
      Status s = accounts.SetPassword(a->name, *pw);
      Wipe(*pw);
      FERRY_RETURN_IF_ERROR(s);
      std::cout << fmt::format("password of '{}' changed\n", a->name);
      return Status::Ok();
    });
  });

  auto* del =
      user->add_subcommand("del", "delete an account (its files stay unless --remove-home)");
  add_common(del, true);
  del->add_flag("--remove-home", a->remove_home, "also delete the user's files");
  del->callback([a, with_db, del] {
    with_db(del, [&](AccountStore& accounts, const DataDir& data) -> Status {
      FERRY_RETURN_IF_ERROR(accounts.Delete(a->name));
      if (a->remove_home) {
        auto files = HomeFs::Open(data.files(), false);
        if (!files.ok()) return files.status();
        auto home = RelPath::Parse(a->name);
        if (!home.ok()) return home.status();
        Status s = files->Remove(*home, true);
        if (!s.ok() && s.code() != Code::kNotFound) return s;
      }
      std::cout << fmt::format("deleted user '{}'{}\n", a->name,
                               a->remove_home ? " and their files" : "");
      return Status::Ok();
    });
  });

  auto* quota = user->add_subcommand("quota", "set or remove a user's storage quota");
  add_common(quota, true);
  quota->add_option("size", a->quota, "the quota, like 10G, or none (required)");
  quota->callback([a, with_db, quota] {
    with_db(quota, [&](AccountStore& accounts, const DataDir&) -> Status {
      if (a->quota.empty()) {
        return Status::InvalidArgument("ferry user quota: give the quota, like 10G, or none");
      }
      auto bytes = ParseQuota(a->quota);
      if (!bytes.ok()) return bytes.status();
      FERRY_RETURN_IF_ERROR(accounts.SetQuota(a->name, *bytes));
      std::cout << (*bytes
                        ? fmt::format("quota of '{}' set to {}\n", a->name, FormatByteSize(**bytes))
                        : fmt::format("'{}' has no quota now\n", a->name));
      return Status::Ok();
    });
  });

  auto* list = user->add_subcommand("list", "list accounts");
  add_common(list, false);
  list->callback([with_db] {
    with_db(nullptr, [&](AccountStore& accounts, const DataDir&) -> Status {
      auto all = accounts.List();
      if (!all.ok()) return all.status();
      for (const auto& u : *all) {
        std::cout << u.name
                  << (u.quota_bytes ? "  (quota " + FormatByteSize(*u.quota_bytes) + ")" : "")
                  << "\n";
      }
      return Status::Ok();
    });
  });
}

void AddLogCommand(CLI::App& app, int* exit_code) {
  struct Args {
    std::string data = "./ferry-data", user, since;
    int limit = 50;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("log", "print the audit log, newest first");
  cmd->add_option("--data", a->data, "data directory")->capture_default_str();
  cmd->add_option("--user", a->user, "only this user's operations");
  cmd->add_option("--limit", a->limit, "how many records")->capture_default_str();
  cmd->add_option("--since", a->since,
                  "only records this recent: an age (30m, 2h, 7d) or a UTC time (2026-12-06, "
                  "2026-12-06T15:04:05)");
  cmd->callback([a, exit_code] {
    // Reading the log must not create a data directory where there was none.
    if (::access(DataDir{a->data}.database().c_str(), F_OK) != 0) {
      *exit_code = Fail(Status::NotFound(
          fmt::format("no ferry data directory at '{}' (no ferry.db there)", a->data)));
      return;
    }
    auto db = DataDir{a->data}.OpenDatabase();
    if (!db.ok()) {
      *exit_code = Fail(db.status());
      return;
    }
    AuditQuery query;
    if (!a->user.empty()) query.user = a->user;
    query.limit = a->limit;
    if (!a->since.empty()) {
      auto since = ParseSince(a->since, std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
      if (!since.ok()) {
        *exit_code = Fail(since.status());
        return;
      }
      query.since_us = *since;
    }
    auto records = QueryAudit(*db, query);
    if (!records.ok()) {
      *exit_code = Fail(records.status());
      return;
    }
    // Records hold names and messages from clients: printed through ForDisplay.
    for (const auto& r : *records) {
      std::cout << fmt::format(
          "{}  {:<12} {:<15} {:<12} {}{}  {}  {} B  {:.1f} ms\n", FormatMicros(r.time_us),
          ForDisplay(r.user), ForDisplay(r.remote), ForDisplay(r.operation), ForDisplay(r.path),
          r.path2.empty() ? "" : " -> " + ForDisplay(r.path2), ForDisplay(r.result), r.bytes,
          static_cast<double>(r.duration_us) / 1000.0);
    }
    *exit_code = 0;
  });
}

}  // namespace ferry
