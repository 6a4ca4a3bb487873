// The Jobs gRPC service: submit, follow and cancel background jobs. Same
// session checks and audit records as the Files service; the work itself runs
// on whatever workers the queue feeds (see jobs/job_queue.h).
#pragma once

#include <mutex>

#include "ferry/v1/jobs.grpc.pb.h"
#include "jobs/job_queue.h"
#include "jobs/sealed_secret.h"
#include "server/server_state.h"

namespace ferry {

class JobService final : public ferry::v1::Jobs::Service {
 public:
  // A user may have at most `max_jobs_per_user` jobs queued or running; Submit
  // refuses more with RESOURCE_EXHAUSTED.
  JobService(ServerState* state, jobs::JobQueue* queue, const jobs::SecretSealer* sealer,
             int max_jobs_per_user)
      : state_(state), queue_(queue), sealer_(sealer), max_jobs_per_user_(max_jobs_per_user) {}

  grpc::Status Submit(grpc::ServerContext* ctx, const v1::SubmitJobRequest* req,
                      v1::Job* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx, const v1::GetJobRequest* req, v1::Job* resp) override;
  grpc::Status List(grpc::ServerContext* ctx, const v1::ListJobsRequest* req,
                    v1::ListJobsResponse* resp) override;
  grpc::Status Cancel(grpc::ServerContext* ctx, const v1::CancelJobRequest* req,
                      v1::Job* resp) override;
  grpc::Status Watch(grpc::ServerContext* ctx, const v1::GetJobRequest* req,
                     grpc::ServerWriter<v1::Job>* writer) override;

 private:
  ServerState* state_;
  jobs::JobQueue* queue_;
  const jobs::SecretSealer* sealer_;
  const int max_jobs_per_user_;
  // Held from counting a user's active jobs to queueing the new one, so
  // concurrent submissions cannot pass the cap together.
  std::mutex submit_mu_;
};

// Job -> wire message.
void ToWire(const jobs::Job& job, v1::Job* out);

}  // namespace ferry
