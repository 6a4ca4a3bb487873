#include "client/job_client.h"

namespace ferry {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(30);
// A watch lasts as long as the job; the server speaks at least every few seconds.
constexpr auto kWatchTimeout = std::chrono::hours(24 * 7);

}  // namespace

Result<v1::Job> SubmitJob(Connection& c, const v1::SubmitJobRequest& request) {
  auto ctx = c.Context(kCallTimeout);
  v1::Job job;
  grpc::Status s = c.jobs().Submit(ctx.get(), request, &job);
  if (!s.ok()) return FromGrpc(s);
  return job;
}

Result<v1::Job> GetJob(Connection& c, const std::string& id) {
  auto ctx = c.Context(kCallTimeout);
  v1::GetJobRequest req;
  req.set_id(id);
  v1::Job job;
  grpc::Status s = c.jobs().Get(ctx.get(), req, &job);
  if (!s.ok()) return FromGrpc(s);
  return job;
}

Result<std::vector<v1::Job>> ListJobs(Connection& c, int limit) {
  auto ctx = c.Context(kCallTimeout);
  v1::ListJobsRequest req;
  req.set_limit(limit);
  v1::ListJobsResponse resp;
  grpc::Status s = c.jobs().List(ctx.get(), req, &resp);
  if (!s.ok()) return FromGrpc(s);
  return std::vector<v1::Job>(resp.jobs().begin(), resp.jobs().end());
}

Result<v1::Job> CancelJob(Connection& c, const std::string& id) {
  auto ctx = c.Context(kCallTimeout);
  v1::CancelJobRequest req;
  req.set_id(id);
  v1::Job job;
  grpc::Status s = c.jobs().Cancel(ctx.get(), req, &job);
  if (!s.ok()) return FromGrpc(s);
  return job;
}

Result<v1::Job> WatchJob(Connection& c, const std::string& id,
                         const std::function<void(const v1::Job&)>& on_update) {
  auto ctx = c.Context(std::chrono::duration_cast<std::chrono::seconds>(kWatchTimeout));
  v1::GetJobRequest req;
  req.set_id(id);
  auto reader = c.jobs().Watch(ctx.get(), req);
  v1::Job job, last;
  bool any = false;
  while (reader->Read(&job)) {
    on_update(job);
    last = job;
    any = true;
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return FromGrpc(s);
  if (!any || !IsFinal(last.state())) {
    return Status::Unavailable("the server stopped reporting on the job before it ended");
  }
  return last;
}

bool IsFinal(v1::JobState state) {
  return state == v1::JOB_STATE_DONE || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED;
}

const char* KindWord(v1::JobKind kind) {
  switch (kind) {
    case v1::JOB_KIND_ZIP:
      return "zip";
    case v1::JOB_KIND_UNZIP:
      return "unzip";
    case v1::JOB_KIND_ENCRYPT:
      return "encrypt";
    case v1::JOB_KIND_DECRYPT:
      return "decrypt";
    default:
      return "?";
  }
}

const char* StateWord(v1::JobState state) {
  switch (state) {
    case v1::JOB_STATE_QUEUED:
      return "queued";
    case v1::JOB_STATE_RUNNING:
      return "running";
    case v1::JOB_STATE_DONE:
      return "done";
    case v1::JOB_STATE_FAILED:
      return "failed";
    case v1::JOB_STATE_CANCELLED:
      return "cancelled";
    default:
      return "?";
  }
}

}  // namespace ferry
