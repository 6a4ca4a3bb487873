#include "peer/peer_daemon.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/host_port.h"
#include "core/logging.h"
#include "core/loopback.h"
#include "net/daemon.h"
#include "net/tls_identity.h"
#include "peer/announcer.h"
#include "peer/download_history.h"
#include "peer/download_manager.h"
#include "peer/peer_server.h"
#include "peer/share_index.h"
#include "peer/shared_directory_client.h"
#include "peer/ticket_checker.h"
#include "peer/ui_access.h"
#include "peer/ui_events.h"
#include "peer/ui_json.h"
#include "peer/ui_server.h"
#include "peer/upload_board.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The bound on each call to the directory: a withdraw on stop waits at most
// this long for a call in flight.
constexpr std::chrono::seconds kDirectoryTimeout{10};

Status MakeFolder(const std::string& path, const char* what) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec)
    return Status::InvalidArgument(
        fmt::format("cannot make the {} '{}': {}", what, path, ec.message()));
  return Status::Ok();
}

// The data folder holds the peer's private key and its index: inside the
// share they would be shared. Checked before anything is made there.
Status RefuseInside(const std::string& data_dir, const std::string& share_dir) {
  std::error_code ec;
  fs::path share = fs::canonical(share_dir, ec);
  if (ec) return Status::NotFound(fmt::format("the share folder '{}' does not exist", share_dir));
  fs::path data = fs::weakly_canonical(fs::absolute(data_dir), ec);
  if (ec) {
    return Status::InvalidArgument(
        fmt::format("cannot resolve the data folder '{}': {}", data_dir, ec.message()));
  }
  if (std::mismatch(share.begin(), share.end(), data.begin(), data.end()).first == share.end()) {
    return Status::InvalidArgument(fmt::format(
        "the data folder '{}' lies inside the share folder '{}': its key and index would be "
        "shared; use --data elsewhere",
        data_dir, share_dir));
  }
  return Status::Ok();
}

// Runs one scan for the watcher and logs what it found: the first scan
// always (with the bytes it hashed, which a restart over an unchanged share
// keeps at 0), later ones when something changed.
class ShareScanner {
 public:
  // `on_change` (may be empty) hears of every file indexed or removed.
  ShareScanner(ShareIndex& index, Announcer& announcer, std::function<void()> on_change)
      : index_(index), announcer_(announcer), on_change_(std::move(on_change)) {
    callbacks_.on_indexed = [this](const SharedFile& f) {
      announcer_.Indexed(f);
      if (on_change_) on_change_();
    };
    callbacks_.on_removed = [this](const SharedFile& f) {
      announcer_.Removed(f);
      if (on_change_) on_change_();
    };
    callbacks_.on_unsettled = [](const std::string& path, const Status& why) {
      spdlog::debug("not shared yet: '{}': {}", path, why.message());
    };
  }

  void Scan(std::stop_token stop) {
    auto start = Clock::now();
    auto stats = index_.Scan(callbacks_, std::move(stop));
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!stats.ok()) {
      if (stats.status().code() != Code::kCancelled) {
        spdlog::warn("scanning the share failed: {}", stats.status().ToString());
      }
      return;
    }
    const ScanStats& s = *stats;
    if (first_) {
      first_ = false;
      spdlog::info(
          "indexed {} files in {:.2f} s: {} hashed ({} bytes hashed), {} unchanged, {} renamed, "
          "{} removed, {} not settled",
          s.files, seconds, s.files_hashed, s.bytes_hashed, s.files_unchanged, s.files_renamed,
          s.files_removed, s.files_unsettled);
    } else if (s.files_hashed + s.files_renamed + s.files_removed + s.files_unsettled > 0) {
      spdlog::info(
          "share changed: {} hashed ({} bytes hashed), {} renamed, {} removed, {} not settled; "
          "{} files shared",
          s.files_hashed, s.bytes_hashed, s.files_renamed, s.files_removed, s.files_unsettled,
          s.files);
    }
  }

 private:
  ShareIndex& index_;
  Announcer& announcer_;
  const std::function<void()> on_change_;
  ScanCallbacks callbacks_;
  bool first_ = true;  // used by the watcher's thread only
};

// The web UI's address, or nothing for "off". One that is not loopback
// needs --ui-allow-remote: the UI speaks plain HTTP.
Result<std::optional<HostPort>> UiAddress(const PeerOptions& o) {
  if (o.ui_listen == "off") return std::optional<HostPort>();
  auto parsed = ParseHostPort(o.ui_listen, ListenRules("--ui-listen"));
  if (!parsed.ok()) return parsed.status();
  const std::string& host = parsed->host;
  const bool loopback = IsLoopbackHost(host);
  if (!loopback && !o.ui_allow_remote) {
    return Status::InvalidArgument(fmt::format(
        "--ui-listen {} is not a loopback address: the web UI (plain HTTP) would be reachable "
        "from the network; add --ui-allow-remote if that is meant",
        o.ui_listen));
  }
  if (!loopback) {
    spdlog::warn(
        "the web UI listens on {}, which is not loopback: anyone who can reach it and learns the "
        "secret controls this peer, and the secret crosses the network in clear unless TLS is "
        "put in front",
        o.ui_listen);
  }
  return std::optional<HostPort>(*parsed);
}

}  // namespace

Status RunPeer(const PeerOptions& o) {
  if (o.share_dir.empty()) return Status::InvalidArgument("no share folder: use --share DIR");
  auto listen = ParseHostPort(o.listen, ListenRules("--listen"));
  if (!listen.ok()) return listen.status();
  // What other peers dial: --advertise, else where the chunk service listens
  // (its port known once it does), which must then be one address.
  std::optional<HostPort> advertise;
  if (!o.advertise.empty()) {
    auto parsed = ParseHostPort(o.advertise, {.what = "--advertise", .default_port = std::nullopt});
    if (!parsed.ok()) return parsed.status();
    advertise = *parsed;
  } else if (listen->host.empty() || listen->host == "0.0.0.0" || listen->host == "::") {
    return Status::InvalidArgument(
        "--listen takes every address of this machine: say with --advertise HOST:PORT where "
        "other peers reach this one");
  }
  struct stat st {};
  if (::stat(o.share_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::NotFound(fmt::format("the share folder '{}' does not exist", o.share_dir));
  }
  FERRY_RETURN_IF_ERROR(RefuseInside(o.data_dir, o.share_dir));
  auto ui_address = UiAddress(o);
  if (!ui_address.ok()) return ui_address.status();
  FERRY_RETURN_IF_ERROR(MakeFolder(o.data_dir, "data folder"));
  ::chmod(o.data_dir.c_str(), 0700);
  std::string downloads = o.downloads_dir.empty() ? o.data_dir + "/downloads" : o.downloads_dir;
  FERRY_RETURN_IF_ERROR(InitLogging(o.data_dir + "/peer.log", o.verbose));

  // Before any thread starts, so that only the daemon's waiter takes signals.
  Daemon daemon;

  // The index first: it refuses a data folder inside the share before a key
  // is written there.
  std::string index_path = o.data_dir + "/share-index.db";
  ShareIndexOptions index_options;
  index_options.hash_threads = o.hash_threads;
  auto index = ShareIndex::Open(o.share_dir, index_path, index_options);
  if (!index.ok()) return index.status();
  FERRY_RETURN_IF_ERROR(MakeFolder(downloads, "downloads folder"));
  spdlog::info("sharing '{}' (index {}), downloads into '{}'", (*index)->share_dir(), index_path,
               downloads);

  FERRY_RETURN_IF_ERROR(MakeFolder(o.data_dir + "/tls", "TLS folder"));
  bool created = false;
  auto identity =
      LoadOrCreateSelfSigned(o.data_dir + "/tls/peer.crt", o.data_dir + "/tls/peer.key", &created);
  if (!identity.ok()) return identity.status();
  auto fingerprint = CertFingerprint(identity->cert_pem);
  if (!fingerprint.ok()) return fingerprint.status();
  spdlog::info("{} TLS certificate {}/tls/peer.crt, SHA-256 {}", created ? "made" : "using",
               o.data_dir, FormatFingerprint(*fingerprint));

  dirclient::DirectoryClientOptions directory = o.directory;
  directory.timeout = kDirectoryTimeout;
  auto client = dirclient::DirectoryClient::Open(directory);
  if (!client.ok()) return client.status();
  auto session = (*client)->Login(o.user, o.password);
  if (!session.ok()) return session.status();
  const std::string directory_url = (*client)->endpoint().Url();
  spdlog::info("logged in to the directory at {} as {}", directory_url, session->username);

  AnnouncerOptions announce;
  announce.cert_sha256 = *fingerprint;
  ShareIndex& shared = **index;
  Announcer announcer(
      std::move(client).value(), [&shared] { return shared.Files(); },
      [user = o.user, password = o.password](dirclient::DirectoryClient& c) {
        return c.Login(user, password).status();
      },
      announce);

  // Callers are checked with the directory as this peer's user, on a client
  // of their own (a DirectoryClient serves one thread at a time).
  TicketChecker tickets(
      directory,
      [user = o.user, password = o.password](dirclient::DirectoryClient& c) {
        return c.Login(user, password).status();
      },
      [&announcer] { return announcer.peer_id(); });
  UploadBoard uploads;
  ChunkService chunks(
      &shared, [&tickets](const std::string& ticket) { return tickets.Check(ticket); }, o.serve, {},
      &uploads);
  PeerServerOptions server_options;
  server_options.on_fatal = [](const std::string& why) {
    spdlog::critical("{}: stopping, so that a supervisor can start the peer again", why);
    ::kill(::getpid(), SIGTERM);
  };
  auto server = PeerServer::Start(*listen, *identity, &chunks, server_options);
  if (!server.ok()) return server.status();
  const std::string address =
      advertise ? advertise->ToString() : HostPort{listen->host, (*server)->port()}.ToString();
  announcer.Start(address);
  spdlog::info("serving chunks on {}:{} (TLS), announced as {}", listen->BracketedHost(),
               (*server)->port(), address);

  // Downloads, their history and the web UI.
  auto history = DownloadHistory::Open(o.data_dir + "/history.db");
  if (!history.ok()) return history.status();
  SharedDirectoryClient ui_directory(
      [directory, user = o.user,
       password = o.password]() -> Result<std::unique_ptr<dirclient::DirectoryClient>> {
        auto c = dirclient::DirectoryClient::Open(directory);
        if (!c.ok()) return c.status();
        auto in = (*c)->Login(user, password);
        if (!in.ok()) return in.status();
        return std::move(c).value();
      });
  UiEvents events;
  DownloadManagerOptions manager_options;
  manager_options.downloads_dir = downloads;
  DownloadManager manager(
      &ui_directory, history->get(), manager_options,
      {.changed =
           [&events](const DownloadView& v) { events.Publish("download", Dump(DownloadJson(v))); },
       .ended =
           [&events](const HistoryEntry& e) { events.Publish("history", Dump(HistoryJson(e))); }});
  if (Status restored = manager.Restore(); !restored.ok()) {
    spdlog::warn("cannot take up the downloads that had not ended: {}", restored.ToString());
  }
  std::unique_ptr<UiServer> ui;
  if (*ui_address) {
    auto secret = LoadOrCreateUiSecret(o.data_dir + "/ui-secret");
    if (!secret.ok()) return secret.status();
    UiParts parts;
    parts.index = &shared;
    parts.uploads = &uploads;
    parts.downloads = &manager;
    parts.history = history->get();
    parts.directory = &ui_directory;
    parts.events = &events;
    parts.peer_id = [&announcer] { return announcer.peer_id(); };
    parts.bytes_served = [&chunks] { return chunks.bytes_served(); };
    parts.uploads_in_progress = [&chunks] { return chunks.uploads_in_progress(); };
    parts.info = {.user = o.user,
                  .address = address,
                  .share_dir = shared.share_dir(),
                  .downloads_dir = downloads,
                  .directory = directory_url};
    UiServerOptions ui_options;
    ui_options.host = (*ui_address)->host;
    ui_options.port = (*ui_address)->port;
    auto started = UiServer::Start(ui_options, *secret, std::move(parts));
    if (!started.ok()) return started.status();
    ui = std::move(started).value();
    spdlog::info(
        "web UI on http://{}:{} (its login link is printed on standard output; the "
        "secret is in {}/ui-secret)",
        (*ui_address)->BracketedHost(), ui->port(), o.data_dir);
    fmt::print("web UI: {}\n", ui->LoginLink());
    std::fflush(stdout);
  }

  ShareScanner scanner(shared, announcer, [&ui] {
    if (ui) ui->SharesChanged();
  });
  auto watcher = ShareWatcher::Start(o.share_dir, o.watch,
                                     [&scanner](std::stop_token stop) { scanner.Scan(stop); });
  if (!watcher.ok()) return watcher.status();
  if ((*watcher)->mode() == WatchMode::kInotify) {
    spdlog::info("watching {} folders of the share", (*watcher)->watches());
  }

  daemon.WaitForSignal(
      {.what_happens = fmt::format("withdrawing from the directory, letting uploads finish (up to "
                                   "{} s), then stopping",
                                   o.upload_grace.count())});
  Status withdrawn = announcer.Withdraw();
  if (!withdrawn.ok()) {
    spdlog::warn(
        "could not withdraw from the directory ({}); it drops this peer after its "
        "missed heartbeats",
        withdrawn.ToString());
  }
  (*watcher)->Stop();
  ui.reset();
  (*server)->Shutdown(o.upload_grace);
  spdlog::info("stopped; served {} bytes of chunks", chunks.bytes_served());
  return Status::Ok();
}

}  // namespace ferry
