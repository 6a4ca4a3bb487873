// The client half of background jobs: thin calls over the Jobs service.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "client/connection.h"
#include "core/status.h"
#include "ferry/v1/jobs.pb.h"

namespace ferry {

Result<v1::Job> SubmitJob(Connection& c, const v1::SubmitJobRequest& request);
Result<v1::Job> GetJob(Connection& c, const std::string& id);
Result<std::vector<v1::Job>> ListJobs(Connection& c, int limit);
Result<v1::Job> CancelJob(Connection& c, const std::string& id);
// Follows a job until it ends, calling `on_update` with every change; returns
// the job as it ended.
Result<v1::Job> WatchJob(Connection& c, const std::string& id,
                         const std::function<void(const v1::Job&)>& on_update);

bool IsFinal(v1::JobState state);
const char* KindWord(v1::JobKind kind);     // "zip"
const char* StateWord(v1::JobState state);  // "running"

}  // namespace ferry
