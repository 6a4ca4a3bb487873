#include "server/call_counter.h"

#include <memory>

namespace ferry {
namespace {

class CallCounter final : public grpc::experimental::Interceptor {
 public:
  CallCounter(ServerMetrics* metrics, const char* method)
      : metrics_(metrics), method_(method != nullptr ? method : "") {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->RecordCall(method_, static_cast<int>(methods->GetSendStatus().error_code()));
    }
    methods->Proceed();
  }

 private:
  ServerMetrics* metrics_;
  const char* method_;  // the registered method's name, which outlives the call
};

}  // namespace

grpc::experimental::Interceptor* CallCounterFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  // gRPC owns and deletes the interceptor when the call ends.
  return std::make_unique<CallCounter>(metrics_, info->method()).release();
}

}  // namespace ferry
