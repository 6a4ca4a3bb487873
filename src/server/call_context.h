// What every RPC handler needs at the edge: the caller's session, an audit
// record that is written when the call ends, and Status -> grpc::Status.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "server/audit_log.h"
#include "server/sessions.h"
#include "transfer/grpc_status.h"

namespace ferry {

// "ipv4:127.0.0.1:5555" -> "127.0.0.1"; "ipv6:[::1]:5555" -> "::1".
std::string PeerAddress(const std::string& grpc_peer);
// The bearer token in the call's "authorization" metadata, or "".
std::string BearerToken(const grpc::ServerContext& ctx);

class AuditScope;

// Checks the call's bearer token and marks a call in progress on its session;
// the user goes into `audit`. A `streaming` call is watched: if it stalls for
// the idle timeout, it is cancelled. A mutating call is refused with
// UNAVAILABLE while the audit log cannot be written.
Result<SessionTable::ActiveCall> BeginCall(SessionTable& sessions, grpc::ServerContext* ctx,
                                           AuditScope& audit, bool streaming);

// True for the operations that change a home or queue work that will
// ("mkdir", "touch", "rm", "rm-r", "mv", "upload", "job-zip", ...).
bool IsMutating(std::string_view operation);

// One RPC's audit record. A mutating operation's record is committed in
// Finish(), before the call is answered; any other is queued when the scope
// ends. An unauthenticated failure (the caller has no valid session) is
// aggregated by the log.
class AuditScope {
 public:
  AuditScope(AuditLog* log, grpc::ServerContext* ctx, std::string operation);
  ~AuditScope();
  AuditScope(const AuditScope&) = delete;
  AuditScope& operator=(const AuditScope&) = delete;

  // The user name the caller claims (a login).
  void set_user(std::string user) { record_.user = std::move(user); }
  // The user the caller has proved to be.
  void set_authenticated_user(std::string user) {
    record_.user = std::move(user);
    authenticated_ = true;
  }
  void set_path(std::string path) { record_.path = std::move(path); }
  void set_path2(std::string path) { record_.path2 = std::move(path); }
  void add_bytes(int64_t n) { record_.bytes += n; }
  // Records the outcome and converts it for gRPC. For a mutating operation,
  // an outcome that was OK becomes UNAVAILABLE if its record cannot be
  // written. RESOURCE_EXHAUSTED is marked final (MarkAnswerFinal): the
  // client retries only the calls gRPC shed.
  grpc::Status Finish(const Status& s);
  // OK, or UNAVAILABLE if this operation mutates and the log cannot be
  // written (logged as an error each time).
  Status CheckWritable() const;
  const std::string& remote() const { return record_.remote; }

 private:
  AuditLog* log_;
  grpc::ServerContext* ctx_;
  AuditRecord record_;
  std::chrono::steady_clock::time_point start_;
  const bool mutating_;
  bool authenticated_ = false;
  bool finished_ = false;
  bool recorded_ = false;
};

}  // namespace ferry
