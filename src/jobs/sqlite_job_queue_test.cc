#include "jobs/sqlite_job_queue.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "core/secrets.h"
#include "jobs/sealed_secret.h"

namespace ferry::jobs {
namespace {

class SqliteJobQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto().ok());
    char tmpl[] = "/tmp/ferry-jobq-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    queue_ = Reopen();
  }
  void TearDown() override {
    queue_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<SqliteJobQueue> Reopen() {
    auto q = SqliteJobQueue::Open(dir_ + "/ferry.db");
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return std::move(q).value();
  }
  Job NewJob(const std::string& user, JobKind kind = JobKind::kZip) {
    Job job;
    job.id = NewJobId();
    job.user = user;
    job.kind = kind;
    job.args.paths = {"docs", "a b/ü.txt"};
    job.args.to = "out.zip";
    job.created_ms = NowUnixMs();
    return job;
  }
  Claim MustTake() {
    auto claim = queue_->Take(std::chrono::milliseconds(10));
    EXPECT_TRUE(claim.ok() && claim->has_value());
    return **claim;
  }

  std::string dir_;
  std::unique_ptr<SqliteJobQueue> queue_;
};

TEST_F(SqliteJobQueueTest, SubmitTakeFinishRoundTrip) {
  Job job = NewJob("alice");
  ASSERT_TRUE(queue_->Submit(job, "sealed").ok());
  auto got = queue_->Get("alice", job.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, JobState::kQueued);
  EXPECT_EQ(got->args.paths, job.args.paths);
  EXPECT_EQ(got->args.to, "out.zip");

  Claim claim = MustTake();
  EXPECT_EQ(claim.job.id, job.id);
  EXPECT_EQ(claim.sealed_secret, "sealed");
  EXPECT_EQ(claim.job.state, JobState::kRunning);
  EXPECT_EQ(claim.job.attempts, 1);
  auto stop = queue_->Heartbeat(claim, 5, 10);
  ASSERT_TRUE(stop.ok());
  EXPECT_FALSE(*stop);
  EXPECT_EQ(queue_->Get("alice", job.id)->done_bytes, 5u);

  Job outcome = claim.job;
  outcome.state = JobState::kDone;
  outcome.result = "out.zip";
  outcome.done_bytes = outcome.total_bytes = 10;
  ASSERT_TRUE(queue_->Finish(claim, outcome).ok());
  got = queue_->Get("alice", job.id);
  EXPECT_EQ(got->state, JobState::kDone);
  EXPECT_EQ(got->result, "out.zip");
  EXPECT_GT(got->finished_ms, 0);
  // Nothing left to take.
  auto none = queue_->Take(std::chrono::milliseconds(10));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(SqliteJobQueueTest, SecretIsDroppedWhenTheJobEnds) {
  Job job = NewJob("alice", JobKind::kEncrypt);
  ASSERT_TRUE(queue_->Submit(job, "SEALED-SECRET").ok());
  Claim claim = MustTake();
  Job outcome = claim.job;
  outcome.state = JobState::kFailed;
  outcome.error = "boom";
  ASSERT_TRUE(queue_->Finish(claim, outcome).ok());
  queue_.reset();
  auto db = Db::Open(dir_ + "/ferry.db");
  ASSERT_TRUE(db.ok());
  auto s = db->Prepare("SELECT secret FROM jobs WHERE id = ?");
  ASSERT_TRUE(s.ok());
  s->Bind(1, job.id);
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->Text(0), "");
}

TEST_F(SqliteJobQueueTest, UsersSeeOnlyTheirOwnJobs) {
  Job mine = NewJob("alice");
  Job theirs = NewJob("bob");
  ASSERT_TRUE(queue_->Submit(mine, "").ok());
  ASSERT_TRUE(queue_->Submit(theirs, "").ok());
  EXPECT_EQ(queue_->Get("alice", theirs.id).status().code(), Code::kNotFound);
  EXPECT_EQ(queue_->Cancel("alice", theirs.id).status().code(), Code::kNotFound);
  EXPECT_EQ(queue_->Get("bob", theirs.id)->state, JobState::kQueued);  // not cancelled
  auto list = queue_->List("alice", 10);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, mine.id);
}

TEST_F(SqliteJobQueueTest, ListIsNewestFirstAndLimited) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    Job job = NewJob("alice");
    ids.push_back(job.id);
    ASSERT_TRUE(queue_->Submit(job, "").ok());
  }
  auto list = queue_->List("alice", 3);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, ids[4]);
  EXPECT_EQ((*list)[2].id, ids[2]);
}

TEST_F(SqliteJobQueueTest, CancelQueuedAtOnceRunningOnHeartbeat) {
  Job queued = NewJob("alice");
  Job running = NewJob("alice");
  ASSERT_TRUE(queue_->Submit(running, "").ok());
  Claim claim = MustTake();
  ASSERT_TRUE(queue_->Submit(queued, "").ok());

  auto c1 = queue_->Cancel("alice", queued.id);
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->state, JobState::kCancelled);
  EXPECT_EQ(c1->error_code, Code::kCancelled);

  auto c2 = queue_->Cancel("alice", running.id);
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(c2->state, JobState::kRunning);
  EXPECT_TRUE(c2->cancel_requested);
  auto stop = queue_->Heartbeat(claim, 1, 2);
  ASSERT_TRUE(stop.ok());
  EXPECT_TRUE(*stop);
  // The cancelled queued job is never handed out.
  auto none = queue_->Take(std::chrono::milliseconds(10));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(SqliteJobQueueTest, RecoverRequeuesInterruptedJobsAfterARestart) {
  Job a = NewJob("alice"), b = NewJob("alice"), c = NewJob("alice");
  ASSERT_TRUE(queue_->Submit(a, "").ok());
  ASSERT_TRUE(queue_->Submit(b, "").ok());
  ASSERT_TRUE(queue_->Submit(c, "").ok());
  Claim ca = MustTake();
  Claim cb = MustTake();
  ASSERT_TRUE(queue_->Cancel("alice", b.id).ok());  // running, asked to stop
  // The process dies here: no Finish, no Release.
  queue_ = Reopen();
  auto recovered = queue_->Recover();
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(*recovered, 1);
  EXPECT_EQ(queue_->Get("alice", a.id)->state, JobState::kQueued);
  EXPECT_EQ(queue_->Get("alice", b.id)->state, JobState::kCancelled);
  // a runs again (second attempt), then c.
  Claim again = MustTake();
  EXPECT_EQ(again.job.id, a.id);
  EXPECT_EQ(again.job.attempts, 2);
  EXPECT_EQ(MustTake().job.id, c.id);
  // The first attempt's claim is stale: it can no longer report or finish.
  EXPECT_EQ(queue_->Heartbeat(ca, 1, 1).status().code(), Code::kAborted);
  EXPECT_EQ(queue_->Finish(ca, ca.job).code(), Code::kAborted);
  (void)cb;
}

TEST_F(SqliteJobQueueTest, ReleasedJobRunsAgain) {
  Job job = NewJob("alice");
  ASSERT_TRUE(queue_->Submit(job, "").ok());
  Claim claim = MustTake();
  ASSERT_TRUE(queue_->Release(claim).ok());
  EXPECT_EQ(queue_->Get("alice", job.id)->state, JobState::kQueued);
  EXPECT_EQ(MustTake().job.attempts, 2);
}

TEST_F(SqliteJobQueueTest, TakeWakesUpOnSubmit) {
  Job job = NewJob("alice");
  std::thread submitter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(queue_->Submit(job, "").ok());
  });
  auto start = std::chrono::steady_clock::now();
  auto claim = queue_->Take(std::chrono::seconds(10));
  submitter.join();
  ASSERT_TRUE(claim.ok() && claim->has_value());
  EXPECT_EQ((*claim)->job.id, job.id);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(SqliteJobQueueTest, EachJobIsTakenByOneWorkerOnly) {
  constexpr int kJobs = 40;
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(queue_->Submit(NewJob("alice"), "").ok());
  std::mutex mu;
  std::set<std::string> taken;
  int duplicates = 0;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      for (;;) {
        auto claim = queue_->Take(std::chrono::milliseconds(1));
        if (!claim.ok() || !claim->has_value()) return;
        std::lock_guard lock(mu);
        if (!taken.insert((*claim)->job.id).second) ++duplicates;
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(taken.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(duplicates, 0);
}

TEST_F(SqliteJobQueueTest, CountActiveCountsQueuedAndRunningJobsOfOneUser) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(queue_->Submit(NewJob("alice"), "").ok());
  ASSERT_TRUE(queue_->Submit(NewJob("bob"), "").ok());
  Claim running = MustTake();
  ASSERT_EQ(running.job.user, "alice");
  EXPECT_EQ(*queue_->CountActive("alice"), 3);
  Job done = running.job;
  done.state = JobState::kDone;
  ASSERT_TRUE(queue_->Finish(running, done).ok());
  EXPECT_EQ(*queue_->CountActive("alice"), 2);
  EXPECT_EQ(*queue_->CountActive("bob"), 1);
  EXPECT_EQ(*queue_->CountActive("carol"), 0);
}

// Regression: one user's queue of jobs made another user's job wait behind all
// of them (first in, first out across users).
TEST_F(SqliteJobQueueTest, TakeIsFairAcrossUsers) {
  std::vector<std::string> alice;
  for (int i = 0; i < 4; ++i) {
    Job job = NewJob("alice");
    alice.push_back(job.id);
    ASSERT_TRUE(queue_->Submit(job, "").ok());
  }
  Job bob = NewJob("bob");
  ASSERT_TRUE(queue_->Submit(bob, "").ok());
  Job carol = NewJob("carol");
  ASSERT_TRUE(queue_->Submit(carol, "").ok());

  // Two workers: alice's first job, then the oldest job of a user running none.
  Claim first = MustTake();
  EXPECT_EQ(first.job.id, alice[0]);
  Claim second = MustTake();
  EXPECT_EQ(second.job.id, bob.id);
  // alice and bob each run one; carol runs none.
  Claim third = MustTake();
  EXPECT_EQ(third.job.id, carol.id);
  // One worker, jobs finishing before the next take: round robin by who was
  // served longest ago, so alice's next job comes before her others.
  for (const Claim* c : {&first, &second, &third}) {
    Job done = c->job;
    done.state = JobState::kDone;
    ASSERT_TRUE(queue_->Finish(*c, done).ok());
  }
  Job bob2 = NewJob("bob");
  ASSERT_TRUE(queue_->Submit(bob2, "").ok());
  // alice was served before bob, so she goes first; then bob, then alice.
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i) {
    Claim c = MustTake();
    order.push_back(c.job.id);
    Job done = c.job;
    done.state = JobState::kDone;
    ASSERT_TRUE(queue_->Finish(c, done).ok());
  }
  EXPECT_EQ(order, (std::vector<std::string>{alice[1], bob2.id, alice[2], alice[3]}));
}

TEST(SecretSealerTest, SealsAndOpensAndRefusesOtherKeys) {
  ASSERT_TRUE(InitCrypto().ok());
  char tmpl[] = "/tmp/ferry-seal-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  auto sealer = SecretSealer::OpenOrCreate(dir + "/jobs.key");
  ASSERT_TRUE(sealer.ok()) << sealer.status().ToString();
  std::string sealed = sealer->Seal("correct horse battery staple");
  EXPECT_EQ(sealed.find("horse"), std::string::npos);
  EXPECT_EQ(*sealer->Unseal(sealed), "correct horse battery staple");
  EXPECT_NE(sealer->Seal("x"), sealer->Seal("x"));  // fresh nonce each time

  // The same key file gives the same key; the file is private.
  auto again = SecretSealer::OpenOrCreate(dir + "/jobs.key");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again->Unseal(sealed), "correct horse battery staple");
  EXPECT_EQ(std::filesystem::status(dir + "/jobs.key").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  auto other = SecretSealer::Ephemeral();
  EXPECT_EQ(other.Unseal(sealed).status().code(), Code::kDataLoss);
  sealed[sealed.size() - 1] = sealed.back() == '0' ? '1' : '0';
  EXPECT_EQ(sealer->Unseal(sealed).status().code(), Code::kDataLoss);
  EXPECT_EQ(sealer->Unseal("zz").status().code(), Code::kDataLoss);
  EXPECT_EQ(*sealer->Unseal(""), "");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry::jobs
