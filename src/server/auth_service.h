// The Auth gRPC service: password login (throttled) and logout.
#pragma once

#include "ferry/v1/files.grpc.pb.h"
#include "server/server_state.h"

namespace ferry {

class AuthService final : public ferry::v1::Auth::Service {
 public:
  explicit AuthService(ServerState* state) : state_(state) {}

  grpc::Status Login(grpc::ServerContext* ctx, const v1::LoginRequest* req,
                     v1::LoginResponse* resp) override;
  grpc::Status Logout(grpc::ServerContext* ctx, const v1::LogoutRequest* req,
                      v1::LogoutResponse* resp) override;

 private:
  ServerState* state_;
};

}  // namespace ferry
