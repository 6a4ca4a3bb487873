#include "peer/downloader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "client/directory_client.h"
#include "client/progress.h"
#include "core/display_text.h"
#include "core/host_port.h"
#include "core/sha256.h"
#include "core/unique_fd.h"
#include "ferry/v1/peer.grpc.pb.h"
#include "net/tls_identity.h"
#include "net/trust.h"
#include "peer/chunk_schedule.h"
#include "peer/done_record.h"
#include "peer/own_files.h"
#include "transfer/chunk_tree.h"
#include "transfer/file_io.h"
#include "transfer/grpc_status.h"
#include "transfer/grpc_tuning.h"
#include "transfer/publish.h"
#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

using Clock = std::chrono::steady_clock;
using State = PeerReport::State;

// Bounds a whole ReadChunks call; stalls are caught sooner by the watchdog.
constexpr auto kCallDeadline = std::chrono::hours(1);
// The flow-control window of each ReadChunks call (see DialPinned).
constexpr int kPeerCallWindowBytes = 2 * static_cast<int>(kChunkBytes);
// How long a slot waits before asking a busy peer again: doubling each time
// the peer is still busy, up to the most.
constexpr auto kFirstBusyPause = std::chrono::milliseconds(250);
constexpr auto kMaxBusyPause = std::chrono::milliseconds(8000);
// How often the watchdog looks at calls, saves the record and reports.
constexpr auto kTick = std::chrono::milliseconds(100);

int64_t ChunkBytes(int64_t chunk, int64_t size) {
  return std::min(kChunkBytes, size - chunk * kChunkBytes);
}

int64_t MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

Status SysError(const std::string& what) {
  return Status::Unavailable(fmt::format("{}: {}", what, std::strerror(errno)));
}

// A channel to `peer` that accepts only the certificate whose SHA-256 the
// directory published for it: the certificate is fetched, checked against
// the fingerprint, and made the channel's only root.
Result<std::unique_ptr<v1::Peer::Stub>> DialPinned(const dirapi::PeerAddress& peer,
                                                   std::chrono::milliseconds timeout) {
  auto hp = ParseHostPort(peer.address);
  if (!hp.ok()) return hp.status();
  auto pem =
      FetchServerCertificate(hp->host, std::to_string(hp->port), static_cast<int>(timeout.count()));
  if (!pem.ok()) return pem.status();
  auto fingerprint = CertFingerprint(*pem);
  if (!fingerprint.ok()) return fingerprint.status();
  if (*fingerprint != peer.cert_sha256) {
    return Status::PermissionDenied(fmt::format(
        "its certificate ({}) is not the one the directory published for it ({}); not using it",
        *fingerprint, peer.cert_sha256));
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = *pem;
  grpc::ChannelArguments args;
  TuneChannelForTransfers(args);
  // A call asks for a few chunks and the peer is dialed several times over:
  // a window of two chunks per call keeps each call streaming and bounds
  // what the fetcher buffers (requests x window, not requests x 8 MiB).
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kPeerCallWindowBytes);
  args.SetSslTargetNameOverride(kSelfSignedName);
  return v1::Peer::NewStub(
      grpc::CreateCustomChannel(peer.address, grpc::SslCredentials(ssl), args));
}

// One ReadChunks call in flight, watched for stalls.
struct Call {
  grpc::ClientContext* ctx = nullptr;
  Clock::time_point last_data;
};

// A source peer and what the download knows of it.
struct Source {
  int index = 0;  // in the schedule
  dirapi::PeerAddress peer;
  std::unique_ptr<v1::Peer::Stub> stub;
  // The rest is guarded by Fetch::mu_ once the download runs.
  std::string ticket;
  std::chrono::system_clock::time_point renew_at;  // half way through the ticket's life
  PeerReport report;
  int slots_running = 0;
  bool proven = false;  // it has sent a chunk that matched its hash
  int probing = 0;      // calls asked of it while !proven (at most one)
  // A call refused with the current ticket (PERMISSION_DENIED: it may have
  // expired by the directory's clock) has a fresh one issued; the peer is
  // lost only if it refuses that one too before sending a good chunk.
  bool awaiting_renewal = false;
  bool renewed_after_refusal = false;
  std::vector<Call*> calls;
};

// When a ticket that expires at `expires_at` (Unix seconds, the directory's
// clock) is renewed: half way through what is left of it, so a renewal that
// fails has time to be tried again before the old one runs out.
std::chrono::system_clock::time_point RenewAt(int64_t expires_at) {
  auto now = std::chrono::system_clock::now();
  auto left = std::chrono::system_clock::from_time_t(static_cast<time_t>(expires_at)) - now;
  return now + std::max<std::chrono::system_clock::duration>(left / 2, {});
}

// Issues a fresh ticket for the serving peer `peer_id` (from the thread that
// runs the download: the directory client's).
using TicketIssuer = std::function<Result<dirapi::Ticket>(const std::string& peer_id)>;

// One download in progress: the sources, the schedule, the partial file.
class Fetch {
 public:
  Fetch(const DownloadRequest& request, const DownloadOptions& options, int64_t size,
        std::vector<std::string> hashes, std::vector<std::unique_ptr<Source>> sources, int part_fd,
        std::string record_path, std::vector<bool> done, TicketIssuer issue_ticket)
      : request_(request),
        options_(options),
        size_(size),
        hashes_(std::move(hashes)),
        sources_(std::move(sources)),
        part_fd_(part_fd),
        record_path_(std::move(record_path)),
        schedule_(done),
        on_disk_(done),
        recorded_(std::move(done)),
        issue_ticket_(std::move(issue_ticket)) {
    resumed_bytes_ = DoneBytes();
  }

  // Runs the slots until every chunk is verified, no peer is left, `stop`
  // is requested or the disk fails. On success, the whole file's SHA-256,
  // hashed in order from the partial file while the chunks arrived.
  Result<std::string> Run(std::stop_token stop, const DownloadObserver& observer);
  DownloadProgress Progress() const;

 private:
  // A slot of `source`: asks it for chunks, one call at a time. A peer that
  // has not yet delivered a good chunk gets one call at a time in all, so a
  // peer that sends bad data is caught on its first chunk, before more of
  // its bad chunks are in flight. A peer serving its maximum of uploads is
  // asked again after a pause that doubles up to kMaxBusyPause.
  void Slot(Source* source);
  enum class Outcome { kMore, kBusy, kRenew, kOut };
  // One ReadChunks call for `range`: kOut when the source is out of the
  // download, kBusy when it turned the call away as busy, kRenew when it
  // refused the ticket (a fresh one is due).
  Outcome Request(Source* source, ChunkRange range);
  // Takes `source` out of the download and cancels its calls. REQUIRES: mu_.
  void RetireLocked(Source* source, State state, const std::string& why);
  // Hashes the partial file from its start as its chunks land, so the whole
  // file's SHA-256 is ready when the last chunk is: the check costs no time
  // after the download. Ends when writing has ended (`writes_over_`).
  void HashInOrder();
  Status SaveRecord(bool force);
  // Renews each active source's ticket that is half way through its life,
  // so a download that outlasts tickets keeps its peers. A renewal that
  // fails is tried again a few seconds later, while the old ticket lasts.
  void RenewTickets();
  int64_t DoneBytes() const;  // REQUIRES: mu_ or no slot running

  const DownloadRequest& request_;
  const DownloadOptions& options_;
  const int64_t size_;
  const std::vector<std::string> hashes_;
  std::vector<std::unique_ptr<Source>> sources_;
  const int part_fd_;
  const std::string record_path_;
  const Clock::time_point start_ = Clock::now();
  int64_t resumed_bytes_ = 0;

  mutable std::mutex mu_;
  std::condition_variable changed_;  // the schedule changed, or a source left
  ChunkSchedule schedule_;           // guarded by mu_
  std::vector<bool> on_disk_;        // guarded by mu_: verified and written
  bool writes_over_ = false;         // guarded by mu_: no slot writes any more
  Result<std::string> whole_{Status::Aborted("not hashed")};  // by HashInOrder
  std::vector<bool> recorded_;    // guarded by mu_: what the record on disk says
  std::vector<int64_t> written_;  // guarded by mu_: written, not yet recorded
  Status failure_;                // guarded by mu_: a disk error ends the download
  bool finishing_ = false;        // guarded by mu_: slots leave
  Clock::time_point last_record_ = Clock::now();
  const TicketIssuer issue_ticket_;
};

int64_t Fetch::DoneBytes() const {
  int64_t bytes = 0;
  for (int64_t i = 0; i < schedule_.chunk_count(); ++i) {
    if (schedule_.done(i)) bytes += ChunkBytes(i, size_);
  }
  return bytes;
}

DownloadProgress Fetch::Progress() const {
  std::lock_guard lock(mu_);
  DownloadProgress p;
  p.size = size_;
  p.done_bytes = DoneBytes();
  p.resumed_bytes = resumed_bytes_;
  p.elapsed = Clock::now() - start_;
  for (const auto& s : sources_) {
    p.peers.push_back(s->report);
    if (s->report.state == State::kActive && !s->calls.empty()) ++p.peers_in_use;
  }
  return p;
}

void Fetch::RetireLocked(Source* source, State state, const std::string& why) {
  if (source->report.state != State::kActive) return;
  source->report.state = state;
  source->report.why = why;
  if (state == State::kDropped) {
    spdlog::warn("dropped peer {} ({}): {}", source->peer.peer_id, ForDisplay(source->peer.address),
                 why);
  } else {
    spdlog::warn("lost peer {} ({}): {}", source->peer.peer_id, ForDisplay(source->peer.address),
                 why);
  }
  for (Call* c : source->calls) c->ctx->TryCancel();
  changed_.notify_all();
}

Fetch::Outcome Fetch::Request(Source* source, ChunkRange range) {
  const int index = source->index;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  Call call{&ctx, Clock::now()};
  std::string ticket;
  {
    std::lock_guard lock(mu_);
    if (source->report.state != State::kActive || finishing_) {
      for (int i = 0; i < range.count; ++i) schedule_.Release(range.first + i, index);
      changed_.notify_all();
      return Outcome::kOut;
    }
    ticket = source->ticket;
    ctx.AddMetadata("authorization", "Ticket " + ticket);
    source->calls.push_back(&call);
  }
  v1::ReadChunksRequest req;
  req.set_sha256(request_.sha256);
  req.set_first_chunk(range.first);
  req.set_chunk_count(range.count);
  auto reader = source->stub->ReadChunks(&ctx, req);
  int64_t next = range.first;
  const int64_t end = range.first + range.count;
  std::string bad;
  v1::ChunkData msg;
  while (next < end && reader->Read(&msg)) {
    if (msg.index() != next) {
      bad = fmt::format("sent chunk {} when chunk {} was due", msg.index(), next);
      break;
    }
    const std::string& data = msg.data();
    if (static_cast<int64_t>(data.size()) != ChunkBytes(next, size_) ||
        Sha256::HexOf(data) != hashes_[static_cast<size_t>(next)]) {
      bad = fmt::format("chunk {} does not match its hash", next);
      break;
    }
    bool first;
    {
      std::lock_guard lock(mu_);
      call.last_data = Clock::now();
      if (!source->proven) {
        source->proven = true;
        changed_.notify_all();  // its other slots may start
      }
      source->renewed_after_refusal = false;
      first = schedule_.Complete(next, index);
      if (!first) source->report.wasted += static_cast<int64_t>(data.size());
    }
    if (first) {
      // Chunks are disjoint, so writes need no lock.
      Status w = WriteFullAt(part_fd_, data.data(), data.size(), next * kChunkBytes,
                             "writing the partial file");
      std::lock_guard lock(mu_);
      if (!w.ok()) {
        if (failure_.ok()) failure_ = w;
        finishing_ = true;
      } else {
        on_disk_[static_cast<size_t>(next)] = true;
        written_.push_back(next);
        source->report.bytes += static_cast<int64_t>(data.size());
        source->report.chunks++;
      }
      changed_.notify_all();
    }
    ++next;
  }
  if (bad.empty() && next == end) {
    // All asked for arrived; the stream's end is read for its status only.
    while (reader->Read(&msg)) {
    }
  } else if (!bad.empty()) {
    ctx.TryCancel();
  }
  grpc::Status status = reader->Finish();
  std::lock_guard lock(mu_);
  std::erase(source->calls, &call);
  for (int64_t i = next; i < end; ++i) schedule_.Release(i, index);
  changed_.notify_all();
  if (!bad.empty()) {
    RetireLocked(source, State::kDropped, bad);
    return Outcome::kOut;
  }
  if (next == end) return Outcome::kMore;
  if (source->report.state != State::kActive || finishing_) return Outcome::kOut;
  if (status.ok()) {
    RetireLocked(source, State::kLost,
                 fmt::format("answered chunks {}..{} with only {}", range.first, end - 1,
                             next - range.first));
  } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED && next == range.first) {
    return Outcome::kBusy;  // its chunks went back to the queue for the others
  } else if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED && next == range.first &&
             (ticket != source->ticket || !source->renewed_after_refusal)) {
    if (ticket != source->ticket) return Outcome::kMore;  // renewed since: ask again
    source->awaiting_renewal = true;
    source->renew_at = std::chrono::system_clock::now();  // RenewTickets, at the next tick
    return Outcome::kRenew;
  } else {
    RetireLocked(source, State::kLost, FromGrpc(status).message());
  }
  return Outcome::kOut;
}

void Fetch::Slot(Source* source) {
  const int index = source->index;
  const int total_slots = static_cast<int>(sources_.size()) * options_.requests_per_peer;
  auto busy_pause = kFirstBusyPause;
  while (true) {
    std::optional<ChunkRange> range;
    bool probing = false;
    {
      std::unique_lock lock(mu_);
      // Waits with a timeout: a chunk becomes due for endgame by time alone.
      auto ready = [&] {
        if (finishing_ || source->report.state != State::kActive || schedule_.AllDone()) {
          return true;
        }
        if (!source->proven && source->probing > 0) return false;  // on probation
        // Small requests while little is pending, so that every peer gets
        // some of it and none holds the last chunks alone.
        int share = static_cast<int>(std::clamp<int64_t>(
            schedule_.pending_count() / std::max(total_slots, 1), 1, options_.chunks_per_request));
        range =
            schedule_.Take(index, share, MillisecondsSince(start_), options_.endgame_after.count());
        return range.has_value();
      };
      while (!ready()) changed_.wait_for(lock, kTick);
      if (!range) {
        --source->slots_running;
        changed_.notify_all();
        return;
      }
      if (!source->proven) {
        ++source->probing;
        probing = true;
      }
    }
    const Outcome outcome = Request(source, *range);
    std::unique_lock lock(mu_);
    if (probing) {
      --source->probing;
      changed_.notify_all();
    }
    if (outcome == Outcome::kOut) {
      --source->slots_running;
      changed_.notify_all();
      return;
    }
    if (outcome == Outcome::kMore) {
      busy_pause = kFirstBusyPause;
      continue;
    }
    if (outcome == Outcome::kRenew) {
      // Asked again once RenewTickets has a fresh ticket for it.
      changed_.wait_for(lock, kFirstBusyPause, [&] {
        return finishing_ || source->report.state != State::kActive || !source->awaiting_renewal;
      });
      continue;
    }
    spdlog::info("peer {} ({}) is serving its maximum of uploads; asking it again in {} ms",
                 source->peer.peer_id, ForDisplay(source->peer.address), busy_pause.count());
    changed_.wait_for(lock, busy_pause, [&] {
      return finishing_ || source->report.state != State::kActive || schedule_.AllDone();
    });
    busy_pause = std::min(busy_pause * 2, kMaxBusyPause);
  }
}

void Fetch::HashInOrder() {
  Sha256 whole;
  std::string buf;
  for (int64_t i = 0; i < schedule_.chunk_count(); ++i) {
    {
      std::unique_lock lock(mu_);
      changed_.wait(lock, [&] { return on_disk_[static_cast<size_t>(i)] || writes_over_; });
      if (!on_disk_[static_cast<size_t>(i)]) return;  // the download ended short
    }
    buf.resize(static_cast<size_t>(ChunkBytes(i, size_)));
    auto n =
        ReadFullAt(part_fd_, buf.data(), buf.size(), i * kChunkBytes, "reading the partial file");
    if (!n.ok() || *n != buf.size()) {
      whole_ =
          n.ok() ? Status::DataLoss("the partial file is shorter than its chunks") : n.status();
      return;
    }
    whole.Update(buf);
  }
  whole_ = whole.FinishHex();
}

void Fetch::RenewTickets() {
  for (auto& s : sources_) {
    {
      std::lock_guard lock(mu_);
      if (s->report.state != State::kActive || finishing_ ||
          std::chrono::system_clock::now() < s->renew_at) {
        continue;
      }
    }
    auto ticket = issue_ticket_(s->peer.peer_id);
    std::lock_guard lock(mu_);
    if (!ticket.ok()) {
      spdlog::warn("could not renew the ticket for peer {} ({}): {}; trying again shortly",
                   s->peer.peer_id, ForDisplay(s->peer.address), ticket.status().message());
      s->renew_at = std::chrono::system_clock::now() + std::chrono::seconds(5);
      continue;
    }
    s->ticket = ticket->ticket;
    s->renew_at = RenewAt(ticket->expires_at);
    if (s->awaiting_renewal) {
      s->awaiting_renewal = false;
      s->renewed_after_refusal = true;
    }
    changed_.notify_all();
  }
}

Status Fetch::SaveRecord(bool force) {
  std::vector<bool> bits;
  {
    std::lock_guard lock(mu_);
    if (written_.empty()) return Status::Ok();
    if (!force && static_cast<int>(written_.size()) < options_.record_every_chunks &&
        Clock::now() - last_record_ < options_.record_every) {
      return Status::Ok();
    }
    for (int64_t i : written_) recorded_[static_cast<size_t>(i)] = true;
    written_.clear();
    bits = recorded_;
    last_record_ = Clock::now();
  }
  // The chunks are durable before the record says they are there.
  if (::fdatasync(part_fd_) != 0) return SysError("syncing the partial file");
  return SaveDoneRecord(record_path_, request_.sha256, bits);
}

Result<std::string> Fetch::Run(std::stop_token stop, const DownloadObserver& observer) {
  std::jthread hasher([this] { HashInOrder(); });
  std::vector<std::jthread> slots;
  for (auto& s : sources_) {
    std::lock_guard lock(mu_);
    s->slots_running = options_.requests_per_peer;
  }
  for (auto& s : sources_) {
    for (int i = 0; i < options_.requests_per_peer; ++i) {
      slots.emplace_back([this, src = s.get()] { Slot(src); });
    }
  }
  Status result;
  while (true) {
    {
      std::unique_lock lock(mu_);
      changed_.wait_for(lock, kTick);
      auto now = Clock::now();
      for (auto& s : sources_) {
        for (Call* c : s->calls) {
          if (now - c->last_data > options_.stall_timeout) {
            RetireLocked(
                s.get(), State::kLost,
                fmt::format("stalled: no data for {} s",
                            std::chrono::duration_cast<std::chrono::seconds>(options_.stall_timeout)
                                .count()));
            break;
          }
        }
      }
      int running = 0;
      for (auto& s : sources_) running += s->slots_running;
      if (!failure_.ok()) {
        result = failure_;
      } else if (schedule_.AllDone()) {
        result = Status::Ok();
      } else if (stop.stop_requested()) {
        result = Status::Cancelled("the download was stopped");
      } else if (running == 0) {
        result = Status::Unavailable("no peer left");
      } else {
        result = Status::Aborted("");  // still running
      }
      if (result.code() != Code::kAborted) {
        finishing_ = true;
        for (auto& s : sources_) {
          for (Call* c : s->calls) c->ctx->TryCancel();
        }
        changed_.notify_all();
      }
    }
    if (result.code() != Code::kAborted) break;
    if (Status s = SaveRecord(false); !s.ok()) {
      std::lock_guard lock(mu_);
      failure_ = s;
    }
    RenewTickets();
    if (observer) observer(Progress());
  }
  slots.clear();  // joins
  {
    std::lock_guard lock(mu_);
    writes_over_ = true;
    // A download that ends short leaves the hasher nothing to finish.
    if (!result.ok()) std::fill(on_disk_.begin(), on_disk_.end(), false);
    changed_.notify_all();
  }
  hasher.join();
  if (Status s = SaveRecord(true); !s.ok() && result.ok()) result = s;
  if (!result.ok()) return result;
  return whole_;
}

// Sources of the content that agree with the majority on its size and chunk
// root: a peer that announced something else is not used.
std::vector<dirapi::ContentSource> AgreeingSources(std::vector<dirapi::ContentSource> all) {
  std::map<std::pair<int64_t, std::string>, int> votes;
  for (const auto& s : all) {
    if (!s.chunk_root.empty()) votes[{s.size, s.chunk_root}]++;
  }
  if (votes.empty()) return {};
  auto best = std::max_element(votes.begin(), votes.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  std::vector<dirapi::ContentSource> kept;
  for (auto& s : all) {
    if (s.size == best->first.first && s.chunk_root == best->first.second) {
      kept.push_back(std::move(s));
    } else {
      spdlog::warn("not using peer {} ({}): it announced another size or chunk root",
                   s.peer.peer_id, ForDisplay(s.peer.address));
    }
  }
  return kept;
}

// The chunk hashes `source` gives for the content, in lower case, once
// they check against the directory's size and chunk root: DATA_LOSS when
// they do not, the call's error when it fails.
Result<std::vector<std::string>> FetchManifest(const Source& source, const std::string& sha256,
                                               int64_t size, const std::string& chunk_root,
                                               std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Ticket " + source.ticket);
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  v1::ManifestRequest want;
  want.set_sha256(sha256);
  v1::Manifest manifest;
  grpc::Status got = source.stub->GetManifest(&ctx, want, &manifest);
  if (!got.ok()) return FromGrpc(got);
  if (manifest.size() != size) {
    return Status::DataLoss(
        fmt::format("its manifest says {} bytes, the directory {}", manifest.size(), size));
  }
  std::vector<std::string> list(manifest.chunk_sha256().begin(), manifest.chunk_sha256().end());
  if (Status v = VerifyChunkHashes(list, size, chunk_root); !v.ok()) {
    return Status::DataLoss("its chunk hashes do not check against the chunk root: " + v.message());
  }
  for (auto& h : list) h = LowerHex(h);
  return list;
}

}  // namespace

Result<dirapi::SearchHit> FindContent(dirclient::DirectoryClient& directory,
                                      const std::string& text, const std::string& sha256) {
  dirclient::SearchQuery q;
  q.text = text;
  q.sha256 = sha256;
  q.limit = 1000;
  auto hits = directory.Search(q);
  if (!hits.ok()) return hits.status();
  if (hits->empty()) {
    return Status::NotFound(
        sha256.empty()
            ? fmt::format("no online peer shares a file whose name contains '{}'", ForDisplay(text))
            : fmt::format("no online peer shares content {}", sha256));
  }
  if (!sha256.empty()) return (*hits)[0];
  std::vector<dirapi::SearchHit> contents;
  for (const auto& h : *hits) {
    bool seen = std::any_of(contents.begin(), contents.end(),
                            [&](const auto& c) { return c.sha256 == h.sha256; });
    if (!seen) contents.push_back(h);
  }
  if (contents.size() == 1) return contents[0];
  std::string list;
  for (const auto& h : contents) {
    list += fmt::format("\n  {}  {}  {}  {} peer{}", ForDisplay(h.name),
                        HumanBytes(static_cast<double>(h.size)), h.sha256, h.peers.size(),
                        h.peers.size() == 1 ? "" : "s");
  }
  return Status::FailedPrecondition(fmt::format("{} files match '{}'; choose one with --sha256:{}",
                                                contents.size(), ForDisplay(text), list));
}

std::string DownloadSummary(const DownloadProgress& p) {
  double seconds = std::chrono::duration<double>(p.elapsed).count();
  int64_t fetched = p.done_bytes - p.resumed_bytes;
  std::string line = fmt::format(
      "{} in {:.1f} s ({}/s); fetched {} bytes", HumanBytes(static_cast<double>(p.size)), seconds,
      HumanBytes(seconds > 0 ? static_cast<double>(fetched) / seconds : 0.0), fetched);
  if (p.resumed_bytes > 0) line += fmt::format(", {} bytes resumed", p.resumed_bytes);
  std::string from, dropped;
  for (const auto& r : p.peers) {
    from += fmt::format("{}{} {} bytes", from.empty() ? "" : ", ", ForDisplay(r.address), r.bytes);
    if (r.state == State::kDropped) {
      dropped +=
          fmt::format("{}{} ({})", dropped.empty() ? "" : ", ", ForDisplay(r.address), r.why);
    } else if (r.state == State::kLost) {
      dropped +=
          fmt::format("{}{} (lost: {})", dropped.empty() ? "" : ", ", ForDisplay(r.address), r.why);
    }
  }
  line += "; from " + (from.empty() ? std::string("no peer") : from);
  line += "; peers dropped: " + (dropped.empty() ? std::string("none") : dropped);
  return line;
}

Status CheckDownloadName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos || IsOwnFileName(name)) {
    return Status::InvalidArgument(
        fmt::format("'{}' cannot be a file name here", ForDisplay(name)));
  }
  return Status::Ok();
}

void DiscardPartial(const DownloadRequest& request) {
  const std::string part_leaf = PartialFileName(request.name);
  for (const std::string& leaf : {part_leaf, DoneRecordName(part_leaf)}) {
    const std::string path = request.to_dir + "/" + leaf;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("cannot remove '{}': {}", ForDisplay(path), std::strerror(errno));
    }
  }
}

int64_t VerifiedBytes(const DownloadRequest& request, int64_t size) {
  const std::string record = request.to_dir + "/" + DoneRecordName(PartialFileName(request.name));
  auto done = LoadDoneRecord(record, request.sha256, ChunkCount(size));
  if (!done.ok()) return 0;
  int64_t bytes = 0;
  for (size_t i = 0; i < done->size(); ++i) {
    if ((*done)[i]) {
      bytes += std::min<int64_t>(kChunkBytes, size - static_cast<int64_t>(i) * kChunkBytes);
    }
  }
  return bytes;
}

Result<DownloadResult> Download(dirclient::DirectoryClient& directory,
                                const DownloadRequest& request, const DownloadOptions& options,
                                std::stop_token stop, const DownloadObserver& observer) {
  if (Status s = CheckDownloadName(request.name); !s.ok()) return s;
  if (!IsSha256Hex(request.sha256)) {
    return Status::InvalidArgument(
        fmt::format("'{}' is not a SHA-256 (64 hex digits)", ForDisplay(request.sha256)));
  }
  const std::string sha256 = LowerHex(request.sha256);

  auto found = directory.Sources(sha256);
  if (!found.ok()) return found.status();
  auto agreeing = AgreeingSources(std::move(found).value());
  if (agreeing.empty()) {
    return Status::NotFound(fmt::format("no online peer shares content {}", sha256));
  }
  const int64_t size = agreeing[0].size;
  const std::string chunk_root = agreeing[0].chunk_root;

  // Every source gets a ticket (the directory client is this thread's), then
  // all are dialed pinned and asked for their manifest at once: the first in
  // the directory's order whose manifest checks gives the hashes. Checking
  // every peer's manifest also has each check the ticket once, before
  // chunks are asked of it.
  struct Candidate {
    std::unique_ptr<Source> source;
    Status usable;
    Result<std::vector<std::string>> manifest{Status::Aborted("not asked")};
  };
  std::vector<Candidate> candidates;
  for (auto& c : agreeing) {
    Candidate& cand = candidates.emplace_back();
    cand.source = std::make_unique<Source>();
    cand.source->peer = c.peer;
    cand.source->report.peer_id = c.peer.peer_id;
    cand.source->report.address = c.peer.address;
    auto ticket = directory.IssueTicket(c.peer.peer_id);
    if (!ticket.ok()) {
      cand.usable =
          Status(ticket.status().code(), "no ticket for it: " + ticket.status().message());
      continue;
    }
    cand.source->ticket = ticket->ticket;
    cand.source->renew_at = RenewAt(ticket->expires_at);
  }
  {
    std::vector<std::jthread> dialers;
    for (auto& cand : candidates) {
      if (!cand.usable.ok()) continue;
      dialers.emplace_back([&cand, &options, &sha256, size, &chunk_root] {
        auto stub = DialPinned(cand.source->peer, options.connect_timeout);
        if (!stub.ok()) {
          cand.usable = stub.status();
          return;
        }
        cand.source->stub = std::move(stub).value();
        cand.manifest =
            FetchManifest(*cand.source, sha256, size, chunk_root, options.stall_timeout);
        if (!cand.manifest.ok()) cand.usable = cand.manifest.status();
      });
    }
  }
  std::vector<std::unique_ptr<Source>> sources;
  std::vector<std::string> hashes;
  bool have_manifest = false;
  for (auto& cand : candidates) {
    const dirapi::PeerAddress& peer = cand.source->peer;
    if (!cand.usable.ok()) {
      spdlog::warn("{} peer {} ({}): {}",
                   cand.usable.code() == Code::kDataLoss ? "dropped" : "not using", peer.peer_id,
                   ForDisplay(peer.address), cand.usable.message());
      continue;
    }
    if (!have_manifest) {
      hashes = std::move(cand.manifest).value();
      have_manifest = true;
    }
    cand.source->index = static_cast<int>(sources.size());
    sources.push_back(std::move(cand.source));
  }
  if (!have_manifest) {
    return Status::Unavailable(
        fmt::format("none of the {} peers that share content {} could be used (see the log)",
                    agreeing.size(), sha256));
  }

  // The partial file and its record, resumed when they are for this content.
  UniqueFd dir(::open(request.to_dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (dir.get() < 0) return SysError(fmt::format("opening the folder '{}'", request.to_dir));
  const std::string part_leaf = PartialFileName(request.name);
  const std::string part_path = request.to_dir + "/" + part_leaf;
  const std::string record_path = request.to_dir + "/" + DoneRecordName(part_leaf);
  if (!request.replace &&
      ::faccessat(dir.get(), request.name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
    return Status::AlreadyExists(fmt::format("'{}' exists already; use --force to replace it",
                                             ForDisplay(request.to_dir + "/" + request.name)));
  }
  UniqueFd part(
      ::openat(dir.get(), part_leaf.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (part.get() < 0) return SysError(fmt::format("opening '{}'", part_path));
  auto done = LoadDoneRecord(record_path, sha256, ChunkCount(size));
  if (!done.ok()) return done.status();
  // Trust the record only where the bytes still hash right.
  int64_t resumed = 0;
  std::string buf;
  for (int64_t i = 0; i < ChunkCount(size); ++i) {
    if (!(*done)[static_cast<size_t>(i)]) continue;
    buf.resize(static_cast<size_t>(ChunkBytes(i, size)));
    auto n =
        ReadFullAt(part.get(), buf.data(), buf.size(), i * kChunkBytes, "reading the partial file");
    if (!n.ok()) return n.status();
    bool good = *n == buf.size() && Sha256::HexOf(buf) == hashes[static_cast<size_t>(i)];
    (*done)[static_cast<size_t>(i)] = good;
    resumed += good ? 1 : 0;
  }
  if (resumed > 0) {
    spdlog::info("resuming '{}': {} of {} chunks verified already", ForDisplay(request.name),
                 resumed, ChunkCount(size));
  }
  if (::ftruncate(part.get(), size) != 0) return SysError(fmt::format("sizing '{}'", part_path));

  spdlog::info("fetching '{}' ({} bytes, {} chunks) from {} peer{}", ForDisplay(request.name), size,
               ChunkCount(size), sources.size(), sources.size() == 1 ? "" : "s");
  Fetch fetch(request, options, size, std::move(hashes), std::move(sources), part.get(),
              record_path, std::move(done).value(),
              [&directory](const std::string& peer_id) { return directory.IssueTicket(peer_id); });
  Result<std::string> whole = fetch.Run(stop, observer);
  DownloadProgress progress = fetch.Progress();
  if (observer) observer(progress);
  if (!whole.ok()) {
    if (whole.status().code() == Code::kCancelled) {
      return Status::Cancelled(fmt::format(
          "stopped with {} of {} bytes of '{}' verified, kept in '{}': run it again to resume",
          progress.done_bytes, size, ForDisplay(request.name), ForDisplay(part_path)));
    }
    if (whole.status().code() == Code::kUnavailable) {
      return Status::Unavailable(fmt::format(
          "no peer is left to fetch '{}' from, with {} of {} bytes verified (kept in '{}' for the "
          "next run); {}",
          ForDisplay(request.name), progress.done_bytes, size, ForDisplay(part_path),
          DownloadSummary(progress)));
    }
    return whole.status();
  }
  if (*whole != sha256) {
    // Every chunk checked against a manifest that matched the chunk root, so
    // the root the peers announced does not belong to this content.
    return Status::DataLoss(
        fmt::format("the fetched file's SHA-256 is {}, not {}: the peers' chunk root is wrong; "
                    "nothing published",
                    *whole, sha256));
  }
  PublishMove move;
  move.from_dir = dir.get();
  move.from = part_leaf;
  move.to_dir = dir.get();
  move.to = request.name;
  move.replace = request.replace;
  Published published =
      Publish(part.get(), move,
              fmt::format("publishing '{}'", ForDisplay(request.to_dir + "/" + request.name)));
  if (!published.ok()) {
    if (published.status.code() == Code::kAlreadyExists) {
      return Status::AlreadyExists(fmt::format(
          "'{}' exists already; use --force to replace it (the download is kept in '{}')",
          ForDisplay(request.to_dir + "/" + request.name), ForDisplay(part_path)));
    }
    return published.status;
  }
  ::unlinkat(dir.get(), DoneRecordName(part_leaf).c_str(), 0);
  DownloadResult result;
  result.path = request.to_dir + "/" + request.name;
  result.progress = std::move(progress);
  return result;
}

}  // namespace ferry
