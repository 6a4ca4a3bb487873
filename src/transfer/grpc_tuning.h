// The gRPC settings every transfer depends on, for both ends in one place:
// message sizes that fit a chunk, a fixed flow-control window (no BDP
// probing), large HTTP/2 frames and keepalive pings that find a peer that
// vanished without closing. Sizes are in transfer_limits.h.
//
// Both ends also agree on which failed calls a client tries again: only those
// the server shed before any handler ran. gRPC's synchronous server answers
// RESOURCE_EXHAUSTED ("Server Threadpool Exhausted") to a call it has no
// thread for, as for a moment during a flood it is still cutting; nothing
// ran, so any call may be tried again. Every RESOURCE_EXHAUSTED a handler
// answers (a quota, a full disk, a full server) is final and says so with
// gRPC's retry push-back trailer (MarkAnswerFinal).
#pragma once

namespace grpc {
class ChannelArguments;
class ServerBuilder;
class ServerContext;
}  // namespace grpc

namespace ferry {

// For a server: pings every 30 s (10 s to answer), so calls and sessions of
// clients that vanished do not linger.
void TuneServerForTransfers(grpc::ServerBuilder& builder);
// For a client channel: pings every 5 minutes (20 s to answer), as servers
// refuse client pings more often than that by default; a call the server shed
// is made again up to 4 times, after a random wait of up to 0.2, 0.4, 0.8 and
// 1.6 s.
void TuneChannelForTransfers(grpc::ChannelArguments& args);
// For a server handler about to answer RESOURCE_EXHAUSTED: the client must
// not try the call again.
void MarkAnswerFinal(grpc::ServerContext* ctx);

}  // namespace ferry
