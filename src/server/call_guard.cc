#include "server/call_guard.h"

#include <grpcpp/server_context.h>
#include <spdlog/spdlog.h>

namespace ferry {
namespace {

// "ipv4:127.0.0.1:5555" -> "127.0.0.1:5555", the ConnectionGate's endpoint.
std::string EndpointOfPeer(const std::string& peer) {
  for (const char* prefix : {"ipv4:", "ipv6:"}) {
    if (peer.rfind(prefix, 0) == 0) return peer.substr(5);
  }
  return peer;
}

class CallGuard : public grpc::experimental::Interceptor {
 public:
  CallGuard(CallsInProgress* calls, grpc::experimental::ServerRpcInfo* info)
      : calls_(calls), info_(info) {}
  ~CallGuard() override {
    if (!endpoint_.empty()) calls_->End(endpoint_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (endpoint_.empty() &&
        methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      endpoint_ = EndpointOfPeer(info_->server_context()->peer());
      calls_->Begin(endpoint_);
    }
    methods->Proceed();
  }

 private:
  CallsInProgress* calls_;
  grpc::experimental::ServerRpcInfo* info_;
  std::string endpoint_;
};

}  // namespace

void CallsInProgress::Begin(const std::string& endpoint) {
  int n;
  {
    std::lock_guard lock(mu_);
    n = ++calls_[endpoint];
  }
  if (n == max_in_progress_ + 1 && gate_->CutSource(endpoint) > 0) {
    spdlog::warn(
        "connection {} has {} calls in progress, more than its streams allow: it resets "
        "streams the server still works on; cut with every connection from its source, which is "
        "refused for {} s",
        endpoint, n, gate_->limits().penalty.count());
  }
}

void CallsInProgress::End(const std::string& endpoint) {
  std::lock_guard lock(mu_);
  auto it = calls_.find(endpoint);
  if (it != calls_.end() && --it->second <= 0) calls_.erase(it);
}

grpc::experimental::Interceptor* CallGuardFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  // gRPC owns the interceptor and deletes it when the call ends.
  return new CallGuard(calls_, info);
}

}  // namespace ferry
