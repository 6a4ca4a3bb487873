#include "jobs/worker_pool.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "core/secrets.h"
#include "jobs/sqlite_job_queue.h"
#include "jobs/zip_test_util.h"

namespace ferry::jobs {
namespace {

using namespace ::ferry::jobs::testing;  // NOLINT: test helpers

class WorkerPoolTest : public ZipFixture {
 protected:
  void SetUp() override {
    ZipFixture::SetUp();
    ASSERT_TRUE(InitCrypto().ok());
    fs::create_directories(base_ / "home/alice");
    auto queue = SqliteJobQueue::Open((base_ / "jobs.db").string());
    ASSERT_TRUE(queue.ok());
    queue_ = std::move(queue).value();
  }

  // Submits `job` and runs the pool until it ends; the job as it ended.
  Job RunToEnd(Job job, WorkerPoolOptions options) {
    job.id = NewJobId();
    job.user = "alice";
    job.created_ms = NowUnixMs();
    options.homes_root = (base_ / "home").string();
    SecretSealer sealer = SecretSealer::Ephemeral();
    EXPECT_TRUE(queue_->Submit(job, sealer.Seal("")).ok());
    WorkerPool pool(queue_.get(), &sealer, std::move(options));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      auto got = queue_->Get("alice", job.id);
      EXPECT_TRUE(got.ok());
      if (!got.ok() || IsFinal(got->state) || std::chrono::steady_clock::now() > deadline) {
        return got.ok() ? *got : job;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::unique_ptr<SqliteJobQueue> queue_;
};

TEST_F(WorkerPoolTest, UnzipIsHeldToTheOutputBudgetOfItsUser) {
  CraftZip(base_ / "home/alice/a.zip", {{"one", TextBytes(3000, 1)}, {"two", TextBytes(3000, 2)}});
  Job unzip;
  unzip.kind = JobKind::kUnzip;
  unzip.args.paths = {"a.zip"};
  WorkerPoolOptions options;
  std::string asked_for;
  options.output_budget = [&](const std::string& user) -> std::optional<uint64_t> {
    asked_for = user;
    return 5999;
  };
  Job ended = RunToEnd(unzip, options);
  EXPECT_EQ(ended.state, JobState::kFailed);
  EXPECT_EQ(ended.error_code, Code::kResourceExhausted) << ended.error;
  EXPECT_NE(ended.error.find("more than the 5999 bytes this job may write"), std::string::npos)
      << ended.error;
  EXPECT_EQ(asked_for, "alice");
  EXPECT_FALSE(fs::exists(base_ / "home/alice/a"));

  options.output_budget = [](const std::string&) { return std::optional<uint64_t>(6000); };
  unzip.args.to = "b";
  ended = RunToEnd(unzip, options);
  EXPECT_EQ(ended.state, JobState::kDone) << ended.error;
  EXPECT_EQ(fs::file_size(base_ / "home/alice/b/two"), 3000u);
}

TEST_F(WorkerPoolTest, UnzipRatioComesFromTheOptions) {
  CraftZip(base_ / "home/alice/a.zip", {{"zeros", std::string(2 << 20, '\0')}});
  Job unzip;
  unzip.kind = JobKind::kUnzip;
  unzip.args.paths = {"a.zip"};
  WorkerPoolOptions options;
  options.unzip_max_ratio = 10;
  Job ended = RunToEnd(unzip, options);
  EXPECT_EQ(ended.error_code, Code::kResourceExhausted) << ended.error;
  EXPECT_NE(ended.error.find("more than 10 times its size"), std::string::npos) << ended.error;
}

}  // namespace
}  // namespace ferry::jobs
