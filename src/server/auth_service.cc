#include "server/auth_service.h"

#include <ctime>

#include <spdlog/spdlog.h>

#include "core/display_text.h"
#include "core/rel_path.h"
#include "server/accounts.h"
#include "server/call_context.h"

namespace ferry {

grpc::Status AuthService::Login(grpc::ServerContext* ctx, const v1::LoginRequest* req,
                                v1::LoginResponse* resp) {
  AuditScope audit(&state_->audit, ctx, "login");
  std::string user = ForDisplay(req->user().substr(0, 64));
  audit.set_user(user);
  return audit.Finish([&]() -> Status {
    FERRY_RETURN_IF_ERROR(state_->throttle.Begin(user, audit.remote()));
    Result<std::string> credential = [&]() -> Result<std::string> {
      auto stored = state_->StoredHash(req->user());
      if (!stored.ok()) return stored.status();
      // Each verification takes 19 MiB for a moment: at most one per core.
      state_->verify_slots.acquire();
      auto verified = CheckPassword(*stored, req->password());
      state_->verify_slots.release();
      return verified;
    }();
    if (!credential.ok()) {
      if (credential.status().code() != Code::kUnauthenticated) {
        state_->throttle.Abandoned(user, audit.remote());  // not a wrong guess
        return credential.status();
      }
      int failures = state_->throttle.Failed(user, audit.remote());
      spdlog::warn("failed login for user '{}' from {} ({} in a row)", user, audit.remote(),
                   failures);
      return credential.status();
    }
    state_->throttle.Succeeded(user, audit.remote());
    auto token = state_->sessions.Create(req->user(), *credential);
    if (!token.ok()) {
      spdlog::warn("refused login of '{}' from {}: {}", user, audit.remote(),
                   token.status().message());
      return token.status();
    }
    const auto& limits = state_->sessions.limits();
    resp->set_token(*token);
    resp->set_expires_unix(std::time(nullptr) + limits.lifetime.count());
    resp->set_idle_timeout_seconds(static_cast<int32_t>(limits.idle_timeout.count()));
    spdlog::info("'{}' logged in from {}", user, audit.remote());
    return Status::Ok();
  }());
}

grpc::Status AuthService::Logout(grpc::ServerContext* ctx, const v1::LogoutRequest*,
                                 v1::LogoutResponse*) {
  AuditScope audit(&state_->audit, ctx, "logout");
  return audit.Finish([&]() -> Status {
    std::string token = BearerToken(*ctx);
    {
      auto call = state_->sessions.Begin(token);
      if (!call.ok()) return call.status();
      audit.set_authenticated_user(call->user());
    }
    state_->sessions.Remove(token);
    return Status::Ok();
  }());
}

}  // namespace ferry
