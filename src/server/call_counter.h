// A gRPC server interceptor that counts every answered call in ServerMetrics
// by method and status code, whichever handler (or gRPC itself) answered it.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include "server/server_metrics.h"

namespace ferry {

class CallCounterFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // REQUIRES: `metrics` outlives the server the factory is given to.
  explicit CallCounterFactory(ServerMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  ServerMetrics* metrics_;
};

}  // namespace ferry
