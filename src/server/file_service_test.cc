// The file service's error paths, through an in-process gRPC server on
// 127.0.0.1 (no TLS: what is tested is the service, not the transport).
#include "server/file_service.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "core/sha256.h"
#include "transfer/grpc_tuning.h"
#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

class FileServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-files-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    data_.root = tmpl;
    ASSERT_TRUE(data_.Prepare().ok());
    std::filesystem::create_directories(data_.home("alice"));
    auto db = data_.OpenDatabase();
    auto accounts_db = data_.OpenDatabase();
    ASSERT_TRUE(db.ok() && accounts_db.ok());
    state_ = std::make_unique<ServerState>(data_, SessionLimits{}, ThrottlePolicy{},
                                           std::move(db).value(), std::move(accounts_db).value(),
                                           std::chrono::hours(1), SpaceReserve{0, 1.0});
    service_ = std::make_unique<FileService>(state_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    // The client's channel options, retry policy included.
    grpc::ChannelArguments args;
    TuneChannelForTransfers(args);
    stub_ = v1::Files::NewStub(grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                                         grpc::InsecureChannelCredentials(), args));
    auto token = state_->sessions.Create("alice");
    ASSERT_TRUE(token.ok());
    token_ = *token;
  }
  void TearDown() override {
    server_->Shutdown();
    server_.reset();
    service_.reset();
    state_->audit.Flush();
    state_.reset();
    std::filesystem::remove_all(data_.root);
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + token_);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  }
  void WriteHomeFile(const std::string& name, const std::string& data) {
    std::ofstream(data_.home("alice") + "/" + name) << data;
  }

  // BeginUpload then one Upload stream with `data` and `sha256`.
  grpc::Status Put(const std::string& path, int64_t size, const std::string& data,
                   const std::string& sha256, bool overwrite = false) {
    v1::BeginUploadRequest begin;
    begin.set_path(path);
    begin.set_size(size);
    begin.set_resume_key("test");
    begin.set_overwrite(overwrite);
    v1::BeginUploadResponse begun;
    grpc::Status s = stub_->BeginUpload(Context().get(), begin, &begun);
    if (!s.ok()) return s;
    auto ctx = Context();
    v1::UploadResponse resp;
    auto writer = stub_->Upload(ctx.get(), &resp);
    v1::UploadChunk chunk;
    chunk.set_upload_id(begun.upload_id());
    chunk.set_offset(begun.offset());
    chunk.set_data(data);
    chunk.set_sha256(sha256);
    writer->Write(chunk);
    writer->WritesDone();
    return writer->Finish();
  }

  DataDir data_;
  std::unique_ptr<ServerState> state_;
  std::unique_ptr<FileService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Files::Stub> stub_;
  std::string token_;
};

TEST_F(FileServiceTest, WithoutASessionEveryCallIsUnauthenticated) {
  grpc::ClientContext ctx;
  v1::StatRequest req;
  req.set_path("x");
  v1::StatResponse resp;
  EXPECT_EQ(stub_->Stat(&ctx, req, &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(FileServiceTest, APathThatLeavesTheHomeIsInvalid) {
  v1::StatRequest req;
  req.set_path("../bob/secret");
  v1::StatResponse resp;
  EXPECT_EQ(stub_->Stat(Context().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(FileServiceTest, BeginUploadRefusesATakenNameWithoutOverwrite) {
  WriteHomeFile("a.txt", "old");
  grpc::Status s = Put("a.txt", 3, "new", Sha256::HexOf("new"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
}

// A handler's RESOURCE_EXHAUSTED is final: the client's retry policy, which
// makes again the calls gRPC shed, does not make this one again.
TEST_F(FileServiceTest, AnUploadLargerThanTheDiskIsRefusedOnce) {
  v1::BeginUploadRequest begin;
  begin.set_path("huge.bin");
  begin.set_size(int64_t{1} << 60);
  begin.set_resume_key("test");
  v1::BeginUploadResponse begun;
  grpc::Status s = stub_->BeginUpload(Context().get(), begin, &begun);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  state_->audit.Flush();
  auto db = data_.OpenDatabase();
  ASSERT_TRUE(db.ok());
  auto count = db->Prepare("SELECT count(*) FROM audit WHERE operation = 'upload-begin'");
  ASSERT_TRUE(count.ok());
  auto row = count->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(count->Int(0), 1);
}

TEST_F(FileServiceTest, AnUploadWithTheWrongHashStoresNothing) {
  grpc::Status s = Put("a.txt", 5, "hello", Sha256::HexOf("HELLO"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_FALSE(std::filesystem::exists(data_.home("alice") + "/a.txt"));
  // The partial was discarded: nothing of it counts any more.
  EXPECT_EQ(state_->uploads.PartialBytes("alice"), 0);
}

TEST_F(FileServiceTest, AnUploadLargerThanAnnouncedIsRefused) {
  grpc::Status s = Put("a.txt", 3, "hello", Sha256::HexOf("hello"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_FALSE(std::filesystem::exists(data_.home("alice") + "/a.txt"));
}

TEST_F(FileServiceTest, AShortUploadIsAbortedAndKeptForResuming) {
  grpc::Status s = Put("a.txt", 10, "hello", Sha256::HexOf("hello"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_FALSE(std::filesystem::exists(data_.home("alice") + "/a.txt"));
  v1::BeginUploadRequest begin;
  begin.set_path("a.txt");
  begin.set_size(10);
  begin.set_resume_key("test");
  v1::BeginUploadResponse begun;
  ASSERT_TRUE(stub_->BeginUpload(Context().get(), begin, &begun).ok());
  EXPECT_EQ(begun.offset(), 5);
}

TEST_F(FileServiceTest, AnUploadWithAnUnknownIdIsNotFound) {
  auto ctx = Context();
  v1::UploadResponse resp;
  auto writer = stub_->Upload(ctx.get(), &resp);
  v1::UploadChunk chunk;
  chunk.set_upload_id("no-such-upload");
  writer->Write(chunk);
  writer->WritesDone();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(FileServiceTest, AGoodUploadLandsInTheHome) {
  grpc::Status s = Put("a.txt", 5, "hello", Sha256::HexOf("hello"));
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::ifstream in(data_.home("alice") + "/a.txt");
  std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, "hello");
}

TEST_F(FileServiceTest, ADownloadPastTheEndIsOutOfRange) {
  WriteHomeFile("a.txt", "abc");
  v1::DownloadRequest req;
  req.set_path("a.txt");
  req.set_offset(4);
  auto ctx = Context();
  auto reader = stub_->Download(ctx.get(), req);
  v1::DownloadChunk chunk;
  while (reader->Read(&chunk)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::OUT_OF_RANGE);
}

TEST_F(FileServiceTest, ADownloadOfAMissingFileIsNotFound) {
  v1::DownloadRequest req;
  req.set_path("absent");
  auto ctx = Context();
  auto reader = stub_->Download(ctx.get(), req);
  v1::DownloadChunk chunk;
  while (reader->Read(&chunk)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(FileServiceTest, ARangedDownloadCarriesChunkHashesWhenAsked) {
  std::string data(2 * kChunkBytes + 100, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 13 + i / 1000);
  WriteHomeFile("big", data);
  v1::DownloadRequest req;
  req.set_path("big");
  req.set_offset(kChunkBytes / 2);
  req.set_chunk_sha256(true);
  auto ctx = Context();
  auto reader = stub_->Download(ctx.get(), req);
  v1::DownloadChunk chunk;
  std::vector<std::pair<int64_t, std::string>> hashes;  // (data size, chunk hash)
  std::string got, sha;
  while (reader->Read(&chunk)) {
    got += chunk.data();
    hashes.emplace_back(chunk.data().size(), chunk.chunk_sha256());
    if (!chunk.sha256().empty()) sha = chunk.sha256();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(got, data.substr(kChunkBytes / 2));
  EXPECT_EQ(sha, Sha256::HexOf(data));
  ASSERT_EQ(hashes.size(), 3u);
  EXPECT_TRUE(hashes[0].second.empty());  // half a chunk
  EXPECT_EQ(hashes[1].second, Sha256::HexOf(data.substr(kChunkBytes, kChunkBytes)));
  EXPECT_EQ(hashes[2].second, Sha256::HexOf(data.substr(2 * kChunkBytes)));
}

}  // namespace
}  // namespace ferry
