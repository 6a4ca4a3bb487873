#include "jobs/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <fmt/format.h>

#include "core/host_port.h"

namespace ferry::jobs {
namespace {

constexpr size_t kMaxIdleConnections = 16;

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

RedisValue Copy(const redisReply* r) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      v.type = RedisValue::Type::kString;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = RedisValue::Type::kStatus;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::kInteger;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) v.elements.push_back(Copy(r->element[i]));
      break;
    default:
      break;
  }
  return v;
}

}  // namespace

Result<RedisAddress> RedisAddress::Parse(const std::string& url) {
  constexpr std::string_view kScheme = "redis://";
  auto bad = [&] {
    return Status::InvalidArgument(
        fmt::format("'{}' is not a Redis address like redis://127.0.0.1:6379", url));
  };
  if (url.rfind(kScheme, 0) != 0) return bad();
  std::string rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  HostPortRules rules;
  rules.default_port = 6379;
  auto address = ParseHostPort(rest, rules);
  if (!address.ok()) return bad();
  RedisAddress a;
  a.host = std::move(address->host);
  a.port = address->port;
  return a;
}

std::string RedisAddress::ToString() const { return "redis://" + HostPort{host, port}.ToString(); }

void RedisPool::FreeContext::operator()(redisContext* c) const { redisFree(c); }

RedisPool::RedisPool(RedisAddress address, std::chrono::milliseconds timeout)
    : address_(std::move(address)), timeout_(timeout) {}

RedisPool::~RedisPool() = default;

Result<RedisPool::Conn> RedisPool::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      Conn c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  Conn c(redisConnectWithTimeout(address_.host.c_str(), address_.port, ToTimeval(timeout_)));
  if (!c) return Status::ResourceExhausted("out of memory connecting to Redis");
  if (c->err != 0) {
    return Status::Unavailable(
        fmt::format("cannot reach the job queue at {}: {}", address_.ToString(), c->errstr));
  }
  return c;
}

void RedisPool::Return(Conn conn) {
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(conn));
}

Result<RedisValue> RedisPool::Run(const std::vector<std::string>& args,
                                  std::chrono::milliseconds block) {
  auto conn = Acquire();
  if (!conn.ok()) return conn.status();
  redisSetTimeout(conn->get(), ToTimeval(timeout_ + block));
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(conn->get(), static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (reply == nullptr) {
    // The connection is broken (or timed out mid-reply): drop it.
    return Status::Unavailable(fmt::format("lost the job queue at {}: {}", address_.ToString(),
                                           (*conn)->errstr[0] ? (*conn)->errstr : "no reply"));
  }
  std::unique_ptr<redisReply, void (*)(void*)> owned(reply, freeReplyObject);
  if (reply->type == REDIS_REPLY_ERROR) {
    std::string message(reply->str, reply->len);
    Return(std::move(conn).value());
    return Status::Internal(
        fmt::format("Redis refused {}: {}", args.empty() ? "" : args[0], message));
  }
  RedisValue value = Copy(reply);
  Return(std::move(conn).value());
  return value;
}

}  // namespace ferry::jobs
