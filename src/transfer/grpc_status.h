// Status and gRPC's status, converted at the edges: a server's handler turns
// its Status into gRPC's as it answers, a client turns gRPC's back into a
// Status as it receives it. Codes map one to one.
#pragma once

#include <grpcpp/support/status.h>

#include "core/status.h"

namespace ferry {

// For a handler's answer: code and message unchanged.
grpc::Status ToGrpc(const Status& s);

// For a client: the code, and the other end's message made safe to print
// (core/display_text.h: no control characters, not even a line break that
// could pass for a line of ferry's own). UNAVAILABLE without a message (gRPC's
// own, for a connection that failed) becomes "the server is not reachable".
Status FromGrpc(const grpc::Status& s);

}  // namespace ferry
