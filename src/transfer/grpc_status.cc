#include "transfer/grpc_status.h"

#include "core/display_text.h"

namespace ferry {

grpc::Status ToGrpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(s.code())), s.message());
}

Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return Status::Ok();
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE && s.error_message().empty()) {
    return Status::Unavailable("the server is not reachable");
  }
  return Status(static_cast<Code>(static_cast<int>(s.error_code())), ForDisplay(s.error_message()));
}

}  // namespace ferry
