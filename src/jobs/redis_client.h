// A small RAII layer over hiredis: connections from a pool, commands as
// argument vectors (binary-safe, never formatted into strings), replies as
// owned values, and errors as Status (UNAVAILABLE when Redis cannot be reached).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"

struct redisContext;
struct redisReply;

namespace ferry::jobs {

// A reply, copied out of hiredis.
struct RedisValue {
  enum class Type { kNil, kString, kInteger, kArray, kStatus } type = Type::kNil;
  std::string str;
  int64_t integer = 0;
  std::vector<RedisValue> elements;

  bool nil() const { return type == Type::kNil; }
};

// redis://HOST:PORT (HOST may be a bracketed IPv6 address).
struct RedisAddress {
  std::string host;
  int port = 6379;
  static Result<RedisAddress> Parse(const std::string& url);
  std::string ToString() const;
};

class RedisPool {
 public:
  explicit RedisPool(RedisAddress address,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~RedisPool();
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  // Runs one command. `block` is how long the command itself may block on the
  // server (XREADGROUP BLOCK), added to the socket timeout.
  Result<RedisValue> Run(const std::vector<std::string>& args,
                         std::chrono::milliseconds block = std::chrono::milliseconds(0));

  const RedisAddress& address() const { return address_; }

 private:
  struct FreeContext {
    void operator()(redisContext* c) const;
  };
  using Conn = std::unique_ptr<redisContext, FreeContext>;
  Result<Conn> Acquire();
  void Return(Conn conn);

  const RedisAddress address_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::vector<Conn> idle_;  // GUARDED_BY(mu_)
};

}  // namespace ferry::jobs
