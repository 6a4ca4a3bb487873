// A background job: what was asked (kind + args), by whom, and how it went.
//
// Args never hold secrets: an encryption passphrase travels beside the job,
// sealed (jobs/sealed_secret.h), and is dropped once the job ends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace ferry::jobs {

enum class JobKind { kZip, kUnzip, kEncrypt, kDecrypt };
enum class JobState { kQueued, kRunning, kDone, kFailed, kCancelled };

const char* KindName(JobKind kind);     // "zip"
const char* StateName(JobState state);  // "queued"
std::optional<JobKind> ParseKind(std::string_view name);
std::optional<JobState> ParseState(std::string_view name);
bool IsFinal(JobState state);
// Whether jobs of this kind need a passphrase.
bool NeedsPassphrase(JobKind kind);

struct JobArgs {
  std::vector<std::string> paths;  // inputs, relative to the user's home
  std::string to;                  // output; "" = the default for the kind
  bool force = false;              // replace existing output

  // Compact JSON, for storage at rest and on the queue.
  std::string ToJson() const;
  static Result<JobArgs> FromJson(std::string_view json);
};

struct Job {
  std::string id;  // 128-bit random, hex: not guessable
  std::string user;
  JobKind kind = JobKind::kZip;
  JobArgs args;
  JobState state = JobState::kQueued;
  uint64_t done_bytes = 0;
  uint64_t total_bytes = 0;
  std::string result;  // the output path, once done
  Code error_code = Code::kOk;
  std::string error;
  int64_t created_ms = 0;  // Unix time in milliseconds; 0 = not yet
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  int attempts = 0;  // runs started, counting interrupted ones
  bool cancel_requested = false;
};

// A fresh job id.
std::string NewJobId();
// Whether `id` has the shape of a job id (so bad input is refused before any lookup).
bool IsJobId(std::string_view id);
int64_t NowUnixMs();

}  // namespace ferry::jobs
