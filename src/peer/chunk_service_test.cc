// The chunk service against a real share index, in process on 127.0.0.1:
// what it serves, what it refuses, and that it never serves a changed file.
#include "peer/chunk_service.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "core/sha256.h"
#include "peer/peer_server.h"
#include "transfer/chunk_tree.h"
#include "transfer/grpc_tuning.h"
#include "transfer/transfer_limits.h"
#include "transfer/transfer_test_util.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ScratchDir;

constexpr char kTicket[] = "ticket-of-bob";

std::string Bytes(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 13 + i / 1000 + seed * 7) & 0xff);
  return s;
}

// Written an hour ago, so the index does not hash it twice as too recent.
void Put(const std::string& path, const std::string& data) {
  ASSERT_TRUE(testing::WriteFile(path, data).valid()) << path;
  struct timespec times[2] = {{::time(nullptr) - 3600, 0}, {::time(nullptr) - 3600, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

class ChunkServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    share_ = dir_.File("share");
    fs::create_directories(share_);
    film_ = Bytes((3 << 20) + 12345, 1);
    Put(share_ + "/film.mkv", film_);
    Put(share_ + "/empty.txt", "");
    auto index = ShareIndex::Open(share_, dir_.File("index.db"));
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    index_ = std::move(*index);
    ASSERT_TRUE(index_->Scan().ok());
  }
  void TearDown() override {
    server_.reset();
    service_.reset();
  }

  void Start(ChunkServiceOptions options = {}) {
    service_ = std::make_unique<ChunkService>(
        index_.get(),
        [this](const std::string& ticket) -> Result<std::string> {
          std::lock_guard lock(mu_);
          tickets_seen_.push_back(ticket);
          if (ticket == kTicket) return std::string("bob");
          return Status::PermissionDenied("not a valid ticket for this peer");
        },
        options,
        [this](const std::string& path) {
          std::lock_guard lock(mu_);
          stale_.push_back(path);
        });
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    TuneServerForTransfers(builder);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_ && port > 0);
    grpc::ChannelArguments args;
    TuneChannelForTransfers(args);
    stub_ = v1::Peer::NewStub(grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                                        grpc::InsecureChannelCredentials(), args));
  }

  std::unique_ptr<grpc::ClientContext> Context(
      const std::string& authorization = "Ticket " + std::string(kTicket)) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!authorization.empty()) ctx->AddMetadata("authorization", authorization);
    ctx->set_deadline(std::chrono::system_clock::now() + 30s);
    return ctx;
  }

  grpc::Status Manifest(const std::string& sha256, v1::Manifest* out,
                        const std::string& authorization = std::string("Ticket ") + kTicket) {
    v1::ManifestRequest req;
    req.set_sha256(sha256);
    return stub_->GetManifest(Context(authorization).get(), req, out);
  }

  struct Read {
    grpc::Status status;
    std::vector<v1::ChunkData> chunks;
  };
  Read ReadChunks(const std::string& sha256, int64_t first, int count) {
    v1::ReadChunksRequest req;
    req.set_sha256(sha256);
    req.set_first_chunk(first);
    req.set_chunk_count(count);
    auto ctx = Context();
    auto reader = stub_->ReadChunks(ctx.get(), req);
    Read out;
    v1::ChunkData chunk;
    while (reader->Read(&chunk)) out.chunks.push_back(chunk);
    out.status = reader->Finish();
    return out;
  }

  ScratchDir dir_;
  std::string share_;
  std::string film_;
  std::unique_ptr<ShareIndex> index_;
  std::unique_ptr<ChunkService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Peer::Stub> stub_;
  std::mutex mu_;
  std::vector<std::string> tickets_seen_;  // GUARDED_BY(mu_)
  std::vector<std::string> stale_;         // GUARDED_BY(mu_)
};

TEST_F(ChunkServiceTest, TheManifestHoldsEveryChunkHashAndTheirRoot) {
  Start();
  v1::Manifest manifest;
  grpc::Status s = Manifest(Sha256::HexOf(film_), &manifest);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(manifest.size(), static_cast<int64_t>(film_.size()));
  std::vector<std::string> hashes(manifest.chunk_sha256().begin(), manifest.chunk_sha256().end());
  ASSERT_EQ(hashes.size(), 4u);
  for (size_t i = 0; i < hashes.size(); ++i) {
    EXPECT_EQ(hashes[i], Sha256::HexOf(film_.substr(i * kChunkBytes, kChunkBytes))) << i;
  }
  EXPECT_TRUE(VerifyChunkHashes(hashes, manifest.size(), manifest.chunk_root()).ok());

  // Upper case is the same content; an empty file has no chunks.
  std::string upper = Sha256::HexOf(film_);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(Manifest(upper, &manifest).ok());
  ASSERT_TRUE(Manifest(Sha256::HexOf(""), &manifest).ok());
  EXPECT_EQ(manifest.size(), 0);
  EXPECT_EQ(manifest.chunk_sha256_size(), 0);
}

TEST_F(ChunkServiceTest, ChunksComeWholeOnTheGridWithTheirIndex) {
  Start();
  Read middle = ReadChunks(Sha256::HexOf(film_), 1, 2);
  ASSERT_TRUE(middle.status.ok()) << middle.status.error_message();
  ASSERT_EQ(middle.chunks.size(), 2u);
  EXPECT_EQ(middle.chunks[0].index(), 1);
  EXPECT_EQ(middle.chunks[0].data(), film_.substr(kChunkBytes, kChunkBytes));
  EXPECT_EQ(middle.chunks[1].index(), 2);
  EXPECT_EQ(middle.chunks[1].data(), film_.substr(2 * kChunkBytes, kChunkBytes));

  Read all = ReadChunks(Sha256::HexOf(film_), 0, 4);
  ASSERT_TRUE(all.status.ok()) << all.status.error_message();
  std::string joined;
  for (const auto& c : all.chunks) joined += c.data();
  EXPECT_EQ(joined, film_);
  EXPECT_EQ(all.chunks.back().data().size(), 12345u);  // the short last chunk
  EXPECT_EQ(service_->bytes_served(), static_cast<int64_t>(film_.size()) + 2 * kChunkBytes);
}

TEST_F(ChunkServiceTest, WhatIsNotSharedOrNotThereIsRefusedClearly) {
  Start();
  v1::Manifest manifest;
  grpc::Status unknown = Manifest(std::string(64, 'a'), &manifest);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(unknown.error_message().find("does not share"), std::string::npos);
  EXPECT_EQ(ReadChunks(std::string(64, 'a'), 0, 1).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  // A path is not content.
  EXPECT_EQ(Manifest("film.mkv", &manifest).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReadChunks("../../etc/passwd", 0, 1).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  const std::string film = Sha256::HexOf(film_);
  EXPECT_EQ(ReadChunks(film, 4, 1).status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(ReadChunks(film, 3, 2).status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(ReadChunks(film, -1, 1).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReadChunks(film, 0, 0).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReadChunks(film, 0, 65).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReadChunks(Sha256::HexOf(""), 0, 1).status.error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
}

// Only a directory ticket opens the service; a bearer token (a directory
// session) is refused without ever reaching the ticket check.
TEST_F(ChunkServiceTest, OnlyATicketIsTakenNeverAToken) {
  Start();
  const std::string film = Sha256::HexOf(film_);
  v1::Manifest manifest;
  EXPECT_EQ(Manifest(film, &manifest, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status bearer = Manifest(film, &manifest, "Bearer secret-session-token");
  EXPECT_EQ(bearer.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(bearer.error_message().find("tickets"), std::string::npos);
  EXPECT_EQ(Manifest(film, &manifest, "Ticket forged").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Manifest(film, &manifest).ok());
  std::lock_guard lock(mu_);
  EXPECT_EQ(tickets_seen_, (std::vector<std::string>{"forged", kTicket}));
}

// A file that changed since it was hashed is not served, not even its
// unchanged chunks, and the peer hears of it to index it afresh.
TEST_F(ChunkServiceTest, AFileChangedSinceItWasHashedIsNotServed) {
  Start();
  const std::string film = Sha256::HexOf(film_);
  { std::ofstream(share_ + "/film.mkv", std::ios::app) << "more"; }
  v1::Manifest manifest;
  EXPECT_EQ(Manifest(film, &manifest).error_code(), grpc::StatusCode::NOT_FOUND);
  Read read = ReadChunks(film, 0, 1);
  EXPECT_EQ(read.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(read.chunks.empty());
  {
    std::lock_guard lock(mu_);
    EXPECT_EQ(stale_, (std::vector<std::string>{"film.mkv", "film.mkv"}));
  }
  // Replaced by another file under the same name (a new inode), even with
  // the same size and mtime: not the hashed version either.
  Put(share_ + "/new.tmp", film_);
  fs::rename(share_ + "/new.tmp", share_ + "/film.mkv");
  EXPECT_EQ(Manifest(film, &manifest).error_code(), grpc::StatusCode::NOT_FOUND);
}

// max_uploads bounds the streams served at once; the one turned away is told
// so at once, and the limit paces what is served.
TEST_F(ChunkServiceTest, UploadsAreBoundedAndPaced) {
  ChunkServiceOptions options;
  options.max_uploads = 1;
  options.limit_bytes_per_second = 2 << 20;
  Start(options);
  const std::string film = Sha256::HexOf(film_);
  const auto start = std::chrono::steady_clock::now();
  Read first;
  std::thread slow([&] { first = ReadChunks(film, 0, 4); });
  for (int i = 0; i < 2000 && service_->uploads_in_progress() == 0; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  Read second = ReadChunks(film, 0, 1);
  slow.join();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(second.status.error_message().find("maximum of 1 uploads"), std::string::npos);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.chunks.size(), 4u);
  // 3 MiB and a bit at 2 MiB/s: the first chunk goes at once, the rest at
  // the rate, so never in less than about 1.5 s.
  EXPECT_GE(took, 1400ms);
}

// Over TLS with the peer's own certificate: a caller that pins it is served,
// one that expects another certificate is not.
TEST_F(ChunkServiceTest, PeerServerSpeaksTlsWithThePeersCertificate) {
  ChunkServiceOptions options;
  service_ = std::make_unique<ChunkService>(
      index_.get(), [](const std::string&) -> Result<std::string> { return std::string("bob"); },
      options);
  bool created = false;
  auto identity = LoadOrCreateSelfSigned(dir_.File("peer.crt"), dir_.File("peer.key"), &created);
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  auto other = LoadOrCreateSelfSigned(dir_.File("other.crt"), dir_.File("other.key"), &created);
  ASSERT_TRUE(other.ok());
  auto server = PeerServer::Start(HostPort{"127.0.0.1", 0}, *identity, service_.get());
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  auto manifest_with_root = [&](const std::string& root_pem) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = root_pem;
    grpc::ChannelArguments args;
    TuneChannelForTransfers(args);
    args.SetSslTargetNameOverride(kSelfSignedName);
    auto stub = v1::Peer::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string((*server)->port()), grpc::SslCredentials(ssl), args));
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Ticket ") + kTicket);
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::ManifestRequest req;
    req.set_sha256(Sha256::HexOf(film_));
    v1::Manifest manifest;
    return stub->GetManifest(&ctx, req, &manifest);
  };
  grpc::Status pinned = manifest_with_root(identity->cert_pem);
  EXPECT_TRUE(pinned.ok()) << pinned.error_message();
  EXPECT_EQ(manifest_with_root(other->cert_pem).error_code(), grpc::StatusCode::UNAVAILABLE);
  (*server)->Shutdown(1s);
}

}  // namespace
}  // namespace ferry
