#include "jobs/job.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "core/secrets.h"

namespace ferry::jobs {

const char* KindName(JobKind kind) {
  switch (kind) {
    case JobKind::kZip:
      return "zip";
    case JobKind::kUnzip:
      return "unzip";
    case JobKind::kEncrypt:
      return "encrypt";
    case JobKind::kDecrypt:
      return "decrypt";
  }
  return "unknown";
}

const char* StateName(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kDone:
      return "done";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::optional<JobKind> ParseKind(std::string_view name) {
  for (auto k : {JobKind::kZip, JobKind::kUnzip, JobKind::kEncrypt, JobKind::kDecrypt}) {
    if (name == KindName(k)) return k;
  }
  return std::nullopt;
}

std::optional<JobState> ParseState(std::string_view name) {
  for (auto s : {JobState::kQueued, JobState::kRunning, JobState::kDone, JobState::kFailed,
                 JobState::kCancelled}) {
    if (name == StateName(s)) return s;
  }
  return std::nullopt;
}

bool IsFinal(JobState state) {
  return state == JobState::kDone || state == JobState::kFailed || state == JobState::kCancelled;
}

bool NeedsPassphrase(JobKind kind) {
  return kind == JobKind::kEncrypt || kind == JobKind::kDecrypt;
}

std::string JobArgs::ToJson() const {
  return nlohmann::json{{"paths", paths}, {"to", to}, {"force", force}}.dump();
}

Result<JobArgs> JobArgs::FromJson(std::string_view json) {
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("paths") || !j["paths"].is_array() ||
      !j.value("to", nlohmann::json()).is_string() ||
      !j.value("force", nlohmann::json()).is_boolean()) {
    return Status::DataLoss("stored job arguments are malformed");
  }
  JobArgs args;
  for (const auto& p : j["paths"]) {
    if (!p.is_string()) return Status::DataLoss("stored job arguments are malformed");
    args.paths.push_back(p.get<std::string>());
  }
  args.to = j["to"].get<std::string>();
  args.force = j["force"].get<bool>();
  return args;
}

std::string NewJobId() { return RandomHex(16); }

bool IsJobId(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ferry::jobs
