#include "server/call_context.h"

#include <functional>

#include <spdlog/spdlog.h>

namespace ferry {

grpc::Status ToGrpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(s.code())), s.message());
}

std::string PeerAddress(const std::string& grpc_peer) {
  std::string s = grpc_peer;
  if (auto colon = s.find(':'); colon != std::string::npos && s.compare(0, 3, "ipv") == 0) {
    s = s.substr(colon + 1);
  }
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    return close == std::string::npos ? s : s.substr(1, close - 1);
  }
  if (auto colon = s.rfind(':'); colon != std::string::npos) s = s.substr(0, colon);
  return s;
}

std::string BearerToken(const grpc::ServerContext& ctx) {
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return "";
  std::string_view v(it->second.data(), it->second.size());
  constexpr std::string_view kPrefix = "Bearer ";
  if (v.substr(0, kPrefix.size()) != kPrefix) return "";
  return std::string(v.substr(kPrefix.size()));
}

Result<SessionTable::ActiveCall> BeginCall(SessionTable& sessions, grpc::ServerContext* ctx,
                                           AuditScope& audit, bool streaming) {
  std::function<void()> cancel;
  if (streaming) cancel = [ctx] { ctx->TryCancel(); };
  auto call = sessions.Begin(BearerToken(*ctx), std::move(cancel));
  if (call.ok()) audit.set_user(call->user());
  return call;
}

AuditScope::AuditScope(AuditLog* log, grpc::ServerContext* ctx, std::string operation)
    : log_(log), start_(std::chrono::steady_clock::now()) {
  record_.operation = std::move(operation);
  record_.remote = PeerAddress(ctx->peer());
  record_.time_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
}

grpc::Status AuditScope::Finish(const Status& s) {
  record_.result = s.ToString();
  finished_ = true;
  if (!s.ok() && s.code() != Code::kNotFound && s.code() != Code::kAlreadyExists) {
    spdlog::info("{} {} by '{}' from {}: {}", record_.operation, record_.path, record_.user,
                 record_.remote, record_.result);
  } else {
    spdlog::debug("{} {} by '{}' from {}: {}", record_.operation, record_.path, record_.user,
                  record_.remote, record_.result);
  }
  return ToGrpc(s);
}

AuditScope::~AuditScope() {
  if (!finished_) record_.result = "INTERNAL: handler ended without a status";
  record_.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - start_)
                            .count();
  log_->Record(std::move(record_));
}

}  // namespace ferry
