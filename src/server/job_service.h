// The Jobs gRPC service: submit, follow and cancel background jobs. Same
// session checks and audit records as the Files service; the work itself runs
// on whatever workers the queue feeds (see jobs/job_queue.h).
#pragma once

#include "ferry/v1/jobs.grpc.pb.h"
#include "jobs/job_queue.h"
#include "jobs/sealed_secret.h"
#include "server/server_state.h"

namespace ferry {

class JobService final : public ferry::v1::Jobs::Service {
 public:
  JobService(ServerState* state, jobs::JobQueue* queue, const jobs::SecretSealer* sealer)
      : state_(state), queue_(queue), sealer_(sealer) {}

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
};

// Job -> wire message.
void ToWire(const jobs::Job& job, v1::Job* out);

}  // namespace ferry
