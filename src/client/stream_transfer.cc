#include "client/stream_transfer.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "client/progress.h"
#include "core/sha256.h"
#include "transfer/file_io.h"
#include "transfer/rate_limiter.h"
#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

constexpr auto kBeginTimeout = std::chrono::seconds(60);
// What BeginUploadRequest.size says when the size is not known in advance.
constexpr int64_t kUnknownSize = -1;

std::unique_ptr<Progress> MakeStreamProgress(const TransferOptions& o, const std::string& label,
                                             int64_t total) {
  if (o.progress) {
    if (auto p = o.progress(label, total)) return p;
  }
  return std::make_unique<Progress>();
}

// Hex digests compared in either case.
bool SameHex(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

Status UploadStream(Connection& conn, int fd, const std::string& remote,
                    const TransferOptions& options) {
  v1::BeginUploadRequest begin;
  begin.set_path(remote);
  begin.set_size(kUnknownSize);
  begin.set_overwrite(options.overwrite);
  v1::BeginUploadResponse begun;
  {
    auto ctx = conn.Context(kBeginTimeout);
    FERRY_RETURN_IF_ERROR(FromGrpc(conn.files().BeginUpload(ctx.get(), begin, &begun)));
  }
  if (begun.offset() != 0) return Status::Internal("server sent a bad resume offset");

  auto progress = MakeStreamProgress(options, remote, kUnknownSize);
  progress->Update(0);
  RateLimiter limiter(options.limit_bytes_per_second);
  // The size is not known: the deadline a download of unknown size gets.
  auto ctx = conn.Context(DownloadDeadline(options.limit_bytes_per_second));
  v1::UploadResponse resp;
  auto writer = conn.files().Upload(ctx.get(), &resp);
  v1::UploadChunk message;
  message.set_upload_id(begun.upload_id());
  message.set_offset(0);
  Sha256 hash;
  int64_t sent_bytes = 0;
  std::string buffer;
  // Reads and sends chunk by chunk; the last message carries no data, the
  // hash and the total, and half-closes. A failed write means the server
  // ended the call: Finish says why.
  bool server_ended = false;
  Status sent;
  for (bool end = false; !end;) {
    buffer.resize(static_cast<size_t>(kChunkBytes));
    auto n = ReadFull(fd, buffer.data(), buffer.size(), "cannot read standard input");
    if (!n.ok()) {
      sent = n.status();
      break;
    }
    buffer.resize(*n);
    end = *n < static_cast<size_t>(kChunkBytes);  // ReadFull is short only at the end
    hash.Update(buffer);
    sent_bytes += static_cast<int64_t>(buffer.size());
    grpc::WriteOptions wo;
    if (end) {
      message.set_sha256(hash.FinishHex());
      message.set_total_size(sent_bytes);
      wo.set_last_message();
    }
    message.mutable_data()->swap(buffer);  // lent to the message, returned below for reuse
    bool written = writer->Write(message, wo);
    message.mutable_data()->swap(buffer);
    if (!written) {
      server_ended = true;
      sent = Status::Aborted("the server ended the upload");
      break;
    }
    message.clear_upload_id();
    message.clear_offset();
    progress->Update(sent_bytes);
    limiter.Consume(static_cast<int64_t>(buffer.size()));
  }
  // On a local failure the server discards what it holds (it cannot resume).
  FERRY_RETURN_IF_ERROR(FinishUpload(*ctx, *writer, sent, server_ended));
  progress->Finish();
  return Status::Ok();
}

Status DownloadStream(Connection& conn, const std::string& remote, int fd,
                      const TransferOptions& options) {
  v1::DownloadRequest req;
  req.set_path(remote);
  req.set_offset(0);
  req.set_chunk_sha256(options.verify_chunks);
  auto ctx = conn.Context(DownloadDeadline(options.limit_bytes_per_second));
  auto reader = conn.files().Download(ctx.get(), req);
  RateLimiter limiter(options.limit_bytes_per_second);
  std::unique_ptr<Progress> progress;
  Sha256 hash;
  int64_t size = -1;
  int64_t received = 0;
  std::string server_sha;
  Status written;
  v1::DownloadChunk message;
  while (reader->Read(&message)) {
    if (size < 0) {
      size = message.size();
      if (size < 0) {
        written =
            Status::DataLoss(fmt::format("the server announced a negative size for '{}'", remote));
        break;
      }
      progress = MakeStreamProgress(options, remote, size);
      progress->Update(0);
    }
    if (!message.sha256().empty()) server_sha = message.sha256();
    const std::string& data = message.data();
    if (data.empty()) continue;
    if (static_cast<int64_t>(data.size()) > size - received) {
      written = Status::DataLoss(
          fmt::format("download of '{}': the server sent more than the file's size", remote));
      break;
    }
    if (!message.chunk_sha256().empty() && Sha256::HexOf(data) != message.chunk_sha256()) {
      written = Status::DataLoss(fmt::format(
          "'{}' arrived damaged (a chunk's SHA-256 does not match) after {} bytes were written",
          remote, received));
      break;
    }
    hash.Update(data);
    written = WriteFull(fd, data.data(), data.size(), "cannot write standard output");
    if (!written.ok()) break;
    received += static_cast<int64_t>(data.size());
    progress->Update(received);
    limiter.Consume(static_cast<int64_t>(data.size()));
  }
  if (!written.ok()) {
    ctx->TryCancel();
    while (reader->Read(&message)) {
    }
    (void)reader->Finish();
    return written;
  }
  FERRY_RETURN_IF_ERROR(FromGrpc(reader->Finish()));
  if (size < 0 || server_sha.empty() || received != size) {
    return Status::DataLoss(
        fmt::format("download of '{}' ended early, after {} bytes were written", remote, received));
  }
  if (!SameHex(hash.FinishHex(), server_sha)) {
    return Status::DataLoss(fmt::format(
        "'{}' arrived damaged (SHA-256 mismatch); the {} bytes written are not the file", remote,
        received));
  }
  progress->Finish();
  return Status::Ok();
}

}  // namespace ferry
