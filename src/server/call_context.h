// What every RPC handler needs at the edge: the caller's session, an audit
// record that is written when the call ends, and Status -> grpc::Status.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <optional>
#include <string>

#include "core/status.h"
#include "server/audit_log.h"
#include "server/sessions.h"

namespace ferry {

grpc::Status ToGrpc(const Status& s);
// "ipv4:127.0.0.1:5555" -> "127.0.0.1"; "ipv6:[::1]:5555" -> "::1".
std::string PeerAddress(const std::string& grpc_peer);
// The bearer token in the call's "authorization" metadata, or "".
std::string BearerToken(const grpc::ServerContext& ctx);

class AuditScope;

// Checks the call's bearer token and marks a call in progress on its session;
// the user goes into `audit`. A `streaming` call is watched: if it stalls for
// the idle timeout, it is cancelled.
Result<SessionTable::ActiveCall> BeginCall(SessionTable& sessions, grpc::ServerContext* ctx,
                                           AuditScope& audit, bool streaming);

// One RPC's audit record; written when the scope ends.
class AuditScope {
 public:
  AuditScope(AuditLog* log, grpc::ServerContext* ctx, std::string operation);
  ~AuditScope();
  AuditScope(const AuditScope&) = delete;
  AuditScope& operator=(const AuditScope&) = delete;

  void set_user(std::string user) { record_.user = std::move(user); }
  void set_path(std::string path) { record_.path = std::move(path); }
  void set_path2(std::string path) { record_.path2 = std::move(path); }
  void add_bytes(int64_t n) { record_.bytes += n; }
  // Records the outcome and converts it for gRPC.
  grpc::Status Finish(const Status& s);
  const std::string& remote() const { return record_.remote; }

 private:
  AuditLog* log_;
  AuditRecord record_;
  std::chrono::steady_clock::time_point start_;
  bool finished_ = false;
};

}  // namespace ferry
