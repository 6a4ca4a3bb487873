#include "server/job_service.h"

#include <thread>

#include <fmt/format.h>

#include "core/display_text.h"
#include "core/secrets.h"
#include "jobs/job_tasks.h"
#include "server/call_context.h"

namespace ferry {
namespace {

constexpr int kDefaultListLimit = 50;
constexpr int kMaxListLimit = 1000;
constexpr size_t kMaxPaths = 10'000;
constexpr size_t kMaxPassphraseBytes = 4096;
constexpr auto kWatchPoll = std::chrono::milliseconds(200);
// A watcher hears from the server at least this often, even when nothing moves.
constexpr auto kWatchKeepalive = std::chrono::seconds(5);

std::optional<jobs::JobKind> FromWire(v1::JobKind kind) {
  switch (kind) {
    case v1::JOB_KIND_ZIP:
      return jobs::JobKind::kZip;
    case v1::JOB_KIND_UNZIP:
      return jobs::JobKind::kUnzip;
    case v1::JOB_KIND_ENCRYPT:
      return jobs::JobKind::kEncrypt;
    case v1::JOB_KIND_DECRYPT:
      return jobs::JobKind::kDecrypt;
    default:
      return std::nullopt;
  }
}

v1::JobKind KindToWire(jobs::JobKind kind) {
  switch (kind) {
    case jobs::JobKind::kZip:
      return v1::JOB_KIND_ZIP;
    case jobs::JobKind::kUnzip:
      return v1::JOB_KIND_UNZIP;
    case jobs::JobKind::kEncrypt:
      return v1::JOB_KIND_ENCRYPT;
    case jobs::JobKind::kDecrypt:
      return v1::JOB_KIND_DECRYPT;
  }
  return v1::JOB_KIND_UNSPECIFIED;
}

v1::JobState StateToWire(jobs::JobState state) {
  switch (state) {
    case jobs::JobState::kQueued:
      return v1::JOB_STATE_QUEUED;
    case jobs::JobState::kRunning:
      return v1::JOB_STATE_RUNNING;
    case jobs::JobState::kDone:
      return v1::JOB_STATE_DONE;
    case jobs::JobState::kFailed:
      return v1::JOB_STATE_FAILED;
    case jobs::JobState::kCancelled:
      return v1::JOB_STATE_CANCELLED;
  }
  return v1::JOB_STATE_UNSPECIFIED;
}

Status CheckJobId(const std::string& id) {
  if (!jobs::IsJobId(id)) {
    return Status::InvalidArgument("not a job id (expected 32 lower-case hex digits)");
  }
  return Status::Ok();
}

// Whether a watcher should hear about `now`, having last seen `seen`.
bool Changed(const jobs::Job& seen, const jobs::Job& now) {
  return seen.state != now.state || seen.done_bytes != now.done_bytes ||
         seen.total_bytes != now.total_bytes || seen.cancel_requested != now.cancel_requested;
}

}  // namespace

void ToWire(const jobs::Job& job, v1::Job* out) {
  out->set_id(job.id);
  out->set_kind(KindToWire(job.kind));
  out->set_state(StateToWire(job.state));
  for (const auto& p : job.args.paths) out->add_paths(p);
  out->set_to(job.args.to);
  out->set_force(job.args.force);
  out->set_done_bytes(job.done_bytes);
  out->set_total_bytes(job.total_bytes);
  out->set_result(job.result);
  out->set_error_code(static_cast<int>(job.error_code));
  out->set_error(job.error);
  out->set_created_unix_ms(job.created_ms);
  out->set_started_unix_ms(job.started_ms);
  out->set_finished_unix_ms(job.finished_ms);
  out->set_attempts(job.attempts);
  out->set_cancel_requested(job.cancel_requested);
}

grpc::Status JobService::Submit(grpc::ServerContext* ctx, const v1::SubmitJobRequest* req,
                                v1::Job* resp) {
  auto kind = FromWire(req->kind());
  AuditScope audit(&state_->audit, ctx,
                   kind ? fmt::format("job-{}", jobs::KindName(*kind)) : "job-submit");
  // The passphrase is copied once, for sealing, and wiped.
  std::string passphrase = req->passphrase();
  Status outcome = [&]() -> Status {
    auto call = BeginCall(state_->sessions, ctx, audit, /*streaming=*/false);
    if (!call.ok()) return call.status();
    if (!kind) return Status::InvalidArgument("unknown job kind");
    if (req->paths_size() > 0) audit.set_path(ForDisplay(req->paths(0).substr(0, 256)));
    if (static_cast<size_t>(req->paths_size()) > kMaxPaths) {
      return Status::InvalidArgument(fmt::format("a job takes at most {} paths", kMaxPaths));
    }
    if (jobs::NeedsPassphrase(*kind) && passphrase.empty()) {
      return Status::InvalidArgument(fmt::format("{} needs a passphrase", jobs::KindName(*kind)));
    }
    if (!jobs::NeedsPassphrase(*kind) && !passphrase.empty()) {
      return Status::InvalidArgument(fmt::format("{} takes no passphrase", jobs::KindName(*kind)));
    }
    if (passphrase.size() > kMaxPassphraseBytes) {
      return Status::InvalidArgument(
          fmt::format("the passphrase is longer than {} bytes", kMaxPassphraseBytes));
    }
    jobs::Job job;
    job.id = jobs::NewJobId();
    job.user = call->user();
    job.kind = *kind;
    job.args.paths.assign(req->paths().begin(), req->paths().end());
    job.args.to = req->to();
    job.args.force = req->force();
    auto output = jobs::CheckJobArgs(job.kind, job.args);
    if (!output.ok()) return output.status();
    audit.set_path2(output->Display());
    // Refuse what cannot work now, rather than queue a job that will fail.
    auto home = state_->Home(job.user);
    if (!home.ok()) return home.status();
    for (const auto& raw : job.args.paths) {
      auto info = home->Stat(*RelPath::Parse(raw));
      if (!info.ok()) return info.status();
      if (job.kind != jobs::JobKind::kZip && info->type != FileType::kFile) {
        return Status::FailedPrecondition(
            fmt::format("'{}' is not a regular file", RelPath::Parse(raw)->Display()));
      }
    }
    std::lock_guard cap_lock(submit_mu_);
    auto active = queue_->CountActive(job.user);
    if (!active.ok()) return active.status();
    if (*active >= max_jobs_per_user_) {
      return Status::ResourceExhausted(fmt::format(
          "you have {} jobs queued or running, the most one user may have; wait for some to "
          "finish or cancel some (ferry jobs; ferry job cancel ID)",
          *active));
    }
    job.created_ms = jobs::NowUnixMs();
    FERRY_RETURN_IF_ERROR(queue_->Submit(job, sealer_->Seal(passphrase)));
    spdlog::info("job {} ({}) submitted by '{}'", job.id, jobs::KindName(job.kind), job.user);
    ToWire(job, resp);
    return Status::Ok();
  }();
  Wipe(passphrase);
  return audit.Finish(outcome);
}

grpc::Status JobService::Get(grpc::ServerContext* ctx, const v1::GetJobRequest* req,
                             v1::Job* resp) {
  AuditScope audit(&state_->audit, ctx, "job-get");
  audit.set_path(ForDisplay(req->id().substr(0, 64)));
  return audit.Finish([&]() -> Status {
    auto call = BeginCall(state_->sessions, ctx, audit, /*streaming=*/false);
    if (!call.ok()) return call.status();
    FERRY_RETURN_IF_ERROR(CheckJobId(req->id()));
    auto job = queue_->Get(call->user(), req->id());
    if (!job.ok()) return job.status();
    ToWire(*job, resp);
    return Status::Ok();
  }());
}

grpc::Status JobService::List(grpc::ServerContext* ctx, const v1::ListJobsRequest* req,
                              v1::ListJobsResponse* resp) {
  AuditScope audit(&state_->audit, ctx, "job-list");
  return audit.Finish([&]() -> Status {
    auto call = BeginCall(state_->sessions, ctx, audit, /*streaming=*/false);
    if (!call.ok()) return call.status();
    if (req->limit() < 0) return Status::InvalidArgument("limit must not be negative");
    int limit = req->limit() == 0 ? kDefaultListLimit : std::min(req->limit(), kMaxListLimit);
    auto list = queue_->List(call->user(), limit);
    if (!list.ok()) return list.status();
    for (const auto& job : *list) ToWire(job, resp->add_jobs());
    return Status::Ok();
  }());
}

grpc::Status JobService::Cancel(grpc::ServerContext* ctx, const v1::CancelJobRequest* req,
                                v1::Job* resp) {
  AuditScope audit(&state_->audit, ctx, "job-cancel");
  audit.set_path(ForDisplay(req->id().substr(0, 64)));
  return audit.Finish([&]() -> Status {
    auto call = BeginCall(state_->sessions, ctx, audit, /*streaming=*/false);
    if (!call.ok()) return call.status();
    FERRY_RETURN_IF_ERROR(CheckJobId(req->id()));
    auto job = queue_->Cancel(call->user(), req->id());
    if (!job.ok()) return job.status();
    ToWire(*job, resp);
    return Status::Ok();
  }());
}

grpc::Status JobService::Watch(grpc::ServerContext* ctx, const v1::GetJobRequest* req,
                               grpc::ServerWriter<v1::Job>* writer) {
  AuditScope audit(&state_->audit, ctx, "job-watch");
  audit.set_path(ForDisplay(req->id().substr(0, 64)));
  return audit.Finish([&]() -> Status {
    auto call = BeginCall(state_->sessions, ctx, audit, /*streaming=*/true);
    if (!call.ok()) return call.status();
    FERRY_RETURN_IF_ERROR(CheckJobId(req->id()));
    std::optional<jobs::Job> seen;
    auto last_sent = std::chrono::steady_clock::now();
    for (;;) {
      auto job = queue_->Get(call->user(), req->id());
      if (!job.ok()) return job.status();
      auto now = std::chrono::steady_clock::now();
      if (!seen || Changed(*seen, *job) || now - last_sent >= kWatchKeepalive) {
        v1::Job wire;
        ToWire(*job, &wire);
        if (!writer->Write(wire)) return Status::Cancelled("the client went away");
        call->Progress();
        seen = *job;
        last_sent = now;
      }
      if (jobs::IsFinal(job->state)) return Status::Ok();
      if (ctx->IsCancelled()) return Status::Cancelled("the client went away");
      std::this_thread::sleep_for(kWatchPoll);
    }
  }());
}

}  // namespace ferry
