// Runs one job on its user's files: zip, unzip, encrypt or decrypt.
//
// Output appears atomically or not at all. A file is written under a hidden
// temporary name beside its destination, fsynced, then renamed into place
// (without replacing anything unless the job has `force`); an archive is
// extracted into a hidden staging directory first and moved into place only
// when every entry came out whole. The temporary name carries the job id, so a
// job run again after a crash first removes what its previous attempt left.
#pragma once

#include <string>
#include <string_view>

#include "core/rel_path.h"
#include "core/status.h"
#include "jobs/age.h"
#include "jobs/job.h"
#include "jobs/job_control.h"
#include "jobs/zip_archive.h"

namespace ferry::jobs {

class MemoryBudget;

// What one job may cost. Filled by the worker pool from its options.
struct JobLimits {
  // decrypt: the highest scrypt work factor (log2 N) a file may ask for.
  int max_scrypt_log_n = age::kScryptLogN;
  // encrypt and decrypt: the memory all scrypt derivations of the process share
  // (not owned; null: no budget).
  MemoryBudget* scrypt_memory = nullptr;
  // unzip: entry count, expansion ratio and output budget.
  UnzipLimits unzip;
};

// Checks a job's arguments the way RunJob will, so a bad request is refused at
// submission rather than failing later: paths parse, the count is right for
// the kind. Returns the output path the job will write.
Result<RelPath> CheckJobArgs(JobKind kind, const JobArgs& args);

// Runs `job` beneath `homes_root`/<user> within `limits`; returns the output
// path, relative to the home. `passphrase` is used by encrypt and decrypt only.
Result<std::string> RunJob(const Job& job, std::string_view passphrase,
                           const std::string& homes_root, JobControl& control,
                           const JobLimits& limits = {});

}  // namespace ferry::jobs
