// Cuts a connection whose client starts calls faster than it lets them end.
// An HTTP/2 client may have at most --max-streams-per-connection streams open
// at once, so more calls than that in progress on one connection means the
// client reset streams that the server still works on (a "rapid reset"
// storm): past `max_in_progress` the connection is cut through the
// ConnectionGate, which also refuses its source for a while. Installed as a
// gRPC server interceptor, so it sees every call before its handler runs.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <mutex>
#include <string>
#include <unordered_map>

#include "core/connection_gate.h"

namespace ferry {

// The calls in progress on each connection. Thread-safe.
class CallsInProgress {
 public:
  CallsInProgress(ConnectionGate* gate, int max_in_progress)
      : gate_(gate), max_in_progress_(max_in_progress) {}
  // A call on `endpoint` started; cuts the connection if it has too many.
  void Begin(const std::string& endpoint);
  void End(const std::string& endpoint);

 private:
  ConnectionGate* gate_;
  const int max_in_progress_;
  std::mutex mu_;
  std::unordered_map<std::string, int> calls_;  // GUARDED_BY(mu_)
};

class CallGuardFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallGuardFactory(CallsInProgress* calls) : calls_(calls) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  CallsInProgress* calls_;
};

}  // namespace ferry
