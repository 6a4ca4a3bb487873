#include "transfer/grpc_tuning.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "ferry/v1/files.grpc.pb.h"

namespace ferry {
namespace {

// Answers Stat: `shed` times as gRPC's synchronous server answers a call it
// has no thread for, then OK, or, with `final_exhausted`, a handler's own
// RESOURCE_EXHAUSTED marked final.
class FakeFiles final : public v1::Files::Service {
 public:
  int shed = 0;
  bool final_exhausted = false;
  std::atomic<int> calls{0};

  grpc::Status Stat(grpc::ServerContext* ctx, const v1::StatRequest*, v1::StatResponse*) override {
    if (++calls <= shed) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "Server Threadpool Exhausted");
    }
    if (final_exhausted) {
      MarkAnswerFinal(ctx);
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "over quota");
    }
    return grpc::Status::OK;
  }
};

class RetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&files_);
    TuneServerForTransfers(builder);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
    grpc::ChannelArguments args;
    TuneChannelForTransfers(args);
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                             grpc::InsecureChannelCredentials(), args);
    stub_ = v1::Files::NewStub(channel);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  grpc::Status Stat() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::StatRequest req;
    v1::StatResponse resp;
    return stub_->Stat(&ctx, req, &resp);
  }

  FakeFiles files_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Files::Stub> stub_;
};

TEST_F(RetryTest, ACallTheServerShedIsMadeAgain) {
  files_.shed = 2;
  grpc::Status s = Stat();
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(files_.calls, 3);
}

TEST_F(RetryTest, AServerThatKeepsSheddingFailsTheCallAfterFiveAttempts) {
  files_.shed = 100;
  grpc::Status s = Stat();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(), "Server Threadpool Exhausted");
  EXPECT_EQ(files_.calls, 5);
}

TEST_F(RetryTest, AFinalAnswerIsNotRetried) {
  files_.final_exhausted = true;
  grpc::Status s = Stat();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(), "over quota");
  EXPECT_EQ(files_.calls, 1);
}

}  // namespace
}  // namespace ferry
