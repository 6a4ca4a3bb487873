// The gRPC settings every transfer depends on, for both ends in one place:
// message sizes that fit a chunk, a fixed flow-control window (no BDP
// probing), large HTTP/2 frames and keepalive pings that find a peer that
// vanished without closing. Sizes are in transfer_limits.h.
#pragma once

namespace grpc {
class ChannelArguments;
class ServerBuilder;
}  // namespace grpc

namespace ferry {

// For a server: pings every 30 s (10 s to answer), so calls and sessions of
// clients that vanished do not linger.
void TuneServerForTransfers(grpc::ServerBuilder& builder);
// For a client channel: pings every 5 minutes (20 s to answer), as servers
// refuse client pings more often than that by default.
void TuneChannelForTransfers(grpc::ChannelArguments& args);

}  // namespace ferry
