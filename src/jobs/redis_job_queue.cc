#include "jobs/redis_job_queue.h"

#include <map>

#include <fmt/format.h>

namespace ferry::jobs {
namespace {

constexpr const char* kStream = "ferry:jobs";
constexpr const char* kGroup = "ferry-workers";
// CountActive looks at this many of a user's newest jobs: the cap on active
// jobs keeps older ones finished, and the count stays cheap.
constexpr int kCountActiveWindow = 1000;

std::string JobKey(const std::string& id) { return "ferry:job:" + id; }
std::string UserKey(const std::string& user) { return "ferry:user:" + user + ":jobs"; }

// KEYS: job hash, user set, stream. ARGV: created_ms, then field/value pairs.
constexpr const char* kSubmitScript = R"lua(
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('ZADD', KEYS[2], ARGV[1], redis.call('HGET', KEYS[1], 'id'))
return redis.call('XADD', KEYS[3], '*', 'job', redis.call('HGET', KEYS[1], 'id'))
)lua";

// KEYS: the user's sorted set of jobs. ARGV: how many of the newest to look at,
// the job hash key prefix. How many of them are queued or running.
constexpr const char* kCountActiveScript = R"lua(
local n = 0
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)) do
  local state = redis.call('HGET', ARGV[2] .. id, 'state')
  if state == 'queued' or state == 'running' then n = n + 1 end
end
return n
)lua";

// KEYS: the stream. ARGV: the group. Entries not yet delivered to a worker:
// the stream's length less the group's pending (delivered, not yet retired)
// entries; the stream alone before the group exists.
constexpr const char* kCountWaitingScript = R"lua(
local n = redis.call('XLEN', KEYS[1])
local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
if ok then n = n - pending[1] end
if n < 0 then n = 0 end
return n
)lua";

// KEYS: job hash. ARGV: now_ms, stream entry id. The job's fields, or 0 when
// it is no longer to be run (finished, cancelled while queued, gone) or the
// entry is not the job's current delivery. A running job is claimed again
// only through its own entry: that is a dead worker's job being reclaimed.
constexpr const char* kClaimScript = R"lua(
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'queued' and state ~= 'running' then return 0 end
if state == 'running' and redis.call('HGET', KEYS[1], 'entry') ~= ARGV[2] then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'state', 'running', 'started', ARGV[1], 'done', 0, 'total', 0,
           'entry', ARGV[2])
return redis.call('HGETALL', KEYS[1])
)lua";

// KEYS: job hash. ARGV: attempts, done, total. -1 when the claim is stale,
// else 1 if cancel was requested, 0 if not.
constexpr const char* kHeartbeatScript = R"lua(
if redis.call('HGET', KEYS[1], 'state') ~= 'running' or
   redis.call('HGET', KEYS[1], 'attempts') ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], 'done', ARGV[2], 'total', ARGV[3])
return tonumber(redis.call('HGET', KEYS[1], 'cancel') or '0')
)lua";

// KEYS: job hash. ARGV: attempts, state, done, total, result, error_code, error, now_ms.
constexpr const char* kFinishScript = R"lua(
if redis.call('HGET', KEYS[1], 'state') ~= 'running' or
   redis.call('HGET', KEYS[1], 'attempts') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'done', ARGV[3], 'total', ARGV[4],
           'result', ARGV[5], 'error_code', ARGV[6], 'error', ARGV[7], 'finished', ARGV[8])
redis.call('HDEL', KEYS[1], 'secret')
return 1
)lua";

// KEYS: job hash, stream. ARGV: attempts. Queues the job again under a new entry.
constexpr const char* kReleaseScript = R"lua(
if redis.call('HGET', KEYS[1], 'state') ~= 'running' or
   redis.call('HGET', KEYS[1], 'attempts') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'queued')
redis.call('XADD', KEYS[2], '*', 'job', redis.call('HGET', KEYS[1], 'id'))
return 1
)lua";

// KEYS: job hash. ARGV: user, now_ms, cancelled code, message. 0 if not the user's job.
constexpr const char* kCancelScript = R"lua(
if redis.call('HGET', KEYS[1], 'user') ~= ARGV[1] then return 0 end
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'cancel', 1, 'finished', ARGV[2],
             'error_code', ARGV[3], 'error', ARGV[4])
  redis.call('HDEL', KEYS[1], 'secret')
elseif state == 'running' then
  redis.call('HSET', KEYS[1], 'cancel', 1)
end
return 1
)lua";

int64_t ToInt(const std::map<std::string, std::string>& f, const char* key) {
  auto it = f.find(key);
  if (it == f.end()) return 0;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    return 0;
  }
}

std::string Field(const std::map<std::string, std::string>& f, const char* key) {
  auto it = f.find(key);
  return it == f.end() ? "" : it->second;
}

// HGETALL's flat [field, value, ...] array -> a map.
std::map<std::string, std::string> Fields(const RedisValue& v) {
  std::map<std::string, std::string> f;
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2)
    f[v.elements[i].str] = v.elements[i + 1].str;
  return f;
}

Result<Job> ToJob(const std::map<std::string, std::string>& f) {
  Job job;
  job.id = Field(f, "id");
  job.user = Field(f, "user");
  auto kind = ParseKind(Field(f, "kind"));
  auto state = ParseState(Field(f, "state"));
  auto args = JobArgs::FromJson(Field(f, "args"));
  if (!kind || !state || !args.ok()) {
    return Status::DataLoss(fmt::format("job {} is stored malformed in Redis", job.id));
  }
  job.kind = *kind;
  job.state = *state;
  job.args = std::move(args).value();
  job.done_bytes = static_cast<uint64_t>(ToInt(f, "done"));
  job.total_bytes = static_cast<uint64_t>(ToInt(f, "total"));
  job.result = Field(f, "result");
  job.error_code = static_cast<Code>(ToInt(f, "error_code"));
  job.error = Field(f, "error");
  job.created_ms = ToInt(f, "created");
  job.started_ms = ToInt(f, "started");
  job.finished_ms = ToInt(f, "finished");
  job.attempts = static_cast<int>(ToInt(f, "attempts"));
  job.cancel_requested = ToInt(f, "cancel") != 0;
  return job;
}

// One [entry-id, [field, value, ...]] of a stream reply -> (entry id, job id).
std::optional<std::pair<std::string, std::string>> EntryOf(const RedisValue& entry) {
  if (entry.elements.size() != 2) return std::nullopt;
  auto fields = Fields(entry.elements[1]);
  return std::make_pair(entry.elements[0].str, Field(fields, "job"));
}

}  // namespace

RedisJobQueue::RedisJobQueue(RedisAddress address, RedisQueueOptions options)
    : pool_(std::move(address)), options_(std::move(options)) {}

Status RedisJobQueue::Ping() {
  auto pong = pool_.Run({"PING"});
  return pong.ok() ? Status::Ok() : pong.status();
}

Status RedisJobQueue::EnsureGroup() {
  if (group_ready_) return Status::Ok();
  auto created = pool_.Run({"XGROUP", "CREATE", kStream, kGroup, "0", "MKSTREAM"});
  if (!created.ok() && created.status().message().find("BUSYGROUP") == std::string::npos) {
    return created.status();
  }
  group_ready_ = true;
  return Status::Ok();
}

Status RedisJobQueue::Submit(const Job& job, const std::string& sealed_secret) {
  FERRY_RETURN_IF_ERROR(EnsureGroup());
  std::vector<std::string> cmd = {"EVAL",
                                  kSubmitScript,
                                  "3",
                                  JobKey(job.id),
                                  UserKey(job.user),
                                  kStream,
                                  std::to_string(job.created_ms),
                                  "id",
                                  job.id,
                                  "user",
                                  job.user,
                                  "kind",
                                  KindName(job.kind),
                                  "args",
                                  job.args.ToJson(),
                                  "state",
                                  "queued",
                                  "created",
                                  std::to_string(job.created_ms),
                                  "attempts",
                                  "0",
                                  "cancel",
                                  "0"};
  if (!sealed_secret.empty()) {
    cmd.push_back("secret");
    cmd.push_back(sealed_secret);
  }
  auto added = pool_.Run(cmd);
  return added.ok() ? Status::Ok() : added.status();
}

Result<Job> RedisJobQueue::Get(const std::string& user, const std::string& id) {
  auto all = pool_.Run({"HGETALL", JobKey(id)});
  if (!all.ok()) return all.status();
  auto fields = Fields(*all);
  if (fields.empty() || Field(fields, "user") != user) {
    return Status::NotFound(fmt::format("no job {}", id));
  }
  return ToJob(fields);
}

Result<std::vector<Job>> RedisJobQueue::List(const std::string& user, int limit) {
  auto ids = pool_.Run({"ZREVRANGE", UserKey(user), "0", std::to_string(limit - 1)});
  if (!ids.ok()) return ids.status();
  std::vector<Job> jobs;
  for (const auto& id : ids->elements) {
    auto job = Get(user, id.str);
    if (job.ok()) {
      jobs.push_back(std::move(job).value());
    } else if (job.status().code() != Code::kNotFound) {
      return job.status();
    }
  }
  return jobs;
}

Result<int64_t> RedisJobQueue::CountActive(const std::string& user) {
  auto count = pool_.Run({"EVAL", kCountActiveScript, "1", UserKey(user),
                          std::to_string(kCountActiveWindow), JobKey("")});
  if (!count.ok()) return count.status();
  return static_cast<int64_t>(count->integer);
}

Result<int64_t> RedisJobQueue::CountWaiting() {
  auto count = pool_.Run({"EVAL", kCountWaitingScript, "1", kStream, kGroup});
  if (!count.ok()) return count.status();
  return static_cast<int64_t>(count->integer);
}

Result<Job> RedisJobQueue::Cancel(const std::string& user, const std::string& id) {
  auto done =
      pool_.Run({"EVAL", kCancelScript, "1", JobKey(id), user, std::to_string(NowUnixMs()),
                 std::to_string(static_cast<int>(Code::kCancelled)), "the job was cancelled"});
  if (!done.ok()) return done.status();
  if (done->integer == 0) return Status::NotFound(fmt::format("no job {}", id));
  return Get(user, id);
}

Status RedisJobQueue::Retire(const std::string& entry_id) {
  auto acked = pool_.Run({"XACK", kStream, kGroup, entry_id});
  if (!acked.ok()) return acked.status();
  auto deleted = pool_.Run({"XDEL", kStream, entry_id});
  return deleted.ok() ? Status::Ok() : deleted.status();
}

Result<std::optional<Claim>> RedisJobQueue::ClaimEntry(const std::string& entry_id,
                                                       const std::string& job_id) {
  auto claimed =
      pool_.Run({"EVAL", kClaimScript, "1", JobKey(job_id), std::to_string(NowUnixMs()), entry_id});
  if (!claimed.ok()) return claimed.status();
  if (claimed->type != RedisValue::Type::kArray) {
    // Finished, or cancelled while it waited: nothing to run.
    FERRY_RETURN_IF_ERROR(Retire(entry_id));
    return std::optional<Claim>();
  }
  auto fields = Fields(*claimed);
  auto job = ToJob(fields);
  if (!job.ok()) {
    FERRY_RETURN_IF_ERROR(Retire(entry_id));
    return job.status();
  }
  return std::optional<Claim>(Claim{std::move(job).value(), Field(fields, "secret"), entry_id});
}

Result<std::optional<Claim>> RedisJobQueue::Take(std::chrono::milliseconds wait) {
  FERRY_RETURN_IF_ERROR(EnsureGroup());
  // A delivery whose worker has been silent for the visibility timeout first.
  auto stale =
      pool_.Run({"XAUTOCLAIM", kStream, kGroup, options_.consumer,
                 std::to_string(options_.visibility_timeout.count()), "0-0", "COUNT", "1"});
  if (!stale.ok()) return stale.status();
  if (stale->elements.size() >= 2 && !stale->elements[1].elements.empty()) {
    if (auto entry = EntryOf(stale->elements[1].elements[0])) {
      return ClaimEntry(entry->first, entry->second);
    }
  }
  auto fresh = pool_.Run({"XREADGROUP", "GROUP", kGroup, options_.consumer, "COUNT", "1", "BLOCK",
                          std::to_string(wait.count()), "STREAMS", kStream, ">"},
                         wait);
  if (!fresh.ok()) return fresh.status();
  // [[stream, [[entry-id, [fields]]]]], or nil on timeout.
  if (fresh->nil() || fresh->elements.empty() || fresh->elements[0].elements.size() < 2 ||
      fresh->elements[0].elements[1].elements.empty()) {
    return std::optional<Claim>();
  }
  auto entry = EntryOf(fresh->elements[0].elements[1].elements[0]);
  if (!entry) return std::optional<Claim>();
  return ClaimEntry(entry->first, entry->second);
}

Result<bool> RedisJobQueue::Heartbeat(const Claim& claim, uint64_t done, uint64_t total) {
  auto beat =
      pool_.Run({"EVAL", kHeartbeatScript, "1", JobKey(claim.job.id),
                 std::to_string(claim.job.attempts), std::to_string(done), std::to_string(total)});
  if (!beat.ok()) return beat.status();
  if (beat->integer < 0)
    return Status::Aborted(fmt::format("job {} is no longer ours", claim.job.id));
  // Resets the entry's idle time, so it is not reclaimed while we work.
  auto touched =
      pool_.Run({"XCLAIM", kStream, kGroup, options_.consumer, "0", claim.receipt, "JUSTID"});
  if (!touched.ok()) return touched.status();
  return beat->integer == 1;
}

Status RedisJobQueue::Finish(const Claim& claim, const Job& outcome) {
  auto done = pool_.Run({"EVAL", kFinishScript, "1", JobKey(claim.job.id),
                         std::to_string(claim.job.attempts), StateName(outcome.state),
                         std::to_string(outcome.done_bytes), std::to_string(outcome.total_bytes),
                         outcome.result, std::to_string(static_cast<int>(outcome.error_code)),
                         outcome.error, std::to_string(NowUnixMs())});
  if (!done.ok()) return done.status();
  if (done->integer == 0) {
    return Status::Aborted(fmt::format("job {} is no longer ours", claim.job.id));
  }
  return Retire(claim.receipt);
}

Status RedisJobQueue::Release(const Claim& claim) {
  auto released = pool_.Run({"EVAL", kReleaseScript, "2", JobKey(claim.job.id), kStream,
                             std::to_string(claim.job.attempts)});
  if (!released.ok()) return released.status();
  return Retire(claim.receipt);
}

}  // namespace ferry::jobs
