#include "server/call_context.h"

#include <algorithm>
#include <functional>
#include <iterator>

#include <spdlog/spdlog.h>

#include "core/host_port.h"
#include "transfer/grpc_tuning.h"

namespace ferry {

std::string PeerAddress(const std::string& grpc_peer) {
  std::string_view s = grpc_peer;
  if (auto colon = s.find(':'); colon != std::string_view::npos && s.starts_with("ipv")) {
    s = s.substr(colon + 1);
  }
  HostPortRules rules;
  rules.min_port = 0;
  auto address = ParseHostPort(s, rules);
  return address.ok() ? address->host : std::string(s);
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
  if (!call.ok()) return call;
  audit.set_authenticated_user(call->user());
  FERRY_RETURN_IF_ERROR(audit.CheckWritable());
  return call;
}

bool IsMutating(std::string_view operation) {
  static constexpr std::string_view kMutating[] = {
      "mkdir",        "touch",   "rm",        "rm-r",        "mv",          "upload",
      "upload-batch", "job-zip", "job-unzip", "job-encrypt", "job-decrypt", "job-cancel"};
  return std::find(std::begin(kMutating), std::end(kMutating), operation) != std::end(kMutating);
}

AuditScope::AuditScope(AuditLog* log, grpc::ServerContext* ctx, std::string operation)
    : log_(log),
      ctx_(ctx),
      start_(std::chrono::steady_clock::now()),
      mutating_(IsMutating(operation)) {
  record_.operation = std::move(operation);
  record_.remote = PeerAddress(ctx->peer());
  record_.time_us = AuditNowUs();
}

Status AuditScope::CheckWritable() const {
  if (!mutating_) return Status::Ok();
  Status s = log_->Writable();
  if (!s.ok()) {
    spdlog::error("refused {} {} by '{}' from {}: the audit log cannot be written",
                  record_.operation, record_.path, record_.user, record_.remote);
  }
  return s;
}

grpc::Status AuditScope::Finish(const Status& s) {
  if (s.code() == Code::kResourceExhausted) MarkAnswerFinal(ctx_);
  record_.result = s.ToString();
  record_.code = s.code();
  record_.unauthenticated_failure = !s.ok() && !authenticated_;
  finished_ = true;
  if (record_.unauthenticated_failure) {
    // Counted by the audit log, which reports each source's minute.
    spdlog::debug("{} by '{}' from {}: {}", record_.operation, record_.user, record_.remote,
                  record_.result);
  } else if (!s.ok() && s.code() != Code::kNotFound && s.code() != Code::kAlreadyExists) {
    spdlog::info("{} {} by '{}' from {}: {}", record_.operation, record_.path, record_.user,
                 record_.remote, record_.result);
  } else {
    spdlog::debug("{} {} by '{}' from {}: {}", record_.operation, record_.path, record_.user,
                  record_.remote, record_.result);
  }
  if (!mutating_ || record_.unauthenticated_failure) return ToGrpc(s);
  // What changed is on record before the caller hears it is done.
  record_.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - start_)
                            .count();
  recorded_ = true;
  Status written = log_->RecordDurable(record_).get();
  if (!written.ok()) {
    spdlog::error("the outcome of {} by '{}' from {} is not in the audit log", record_.operation,
                  record_.user, record_.remote);
    if (s.ok()) return ToGrpc(written);
  }
  return ToGrpc(s);
}

AuditScope::~AuditScope() {
  if (recorded_) return;
  if (!finished_) record_.result = "INTERNAL: handler ended without a status";
  record_.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - start_)
                            .count();
  log_->Record(std::move(record_));
}

}  // namespace ferry
