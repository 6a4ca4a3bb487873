#include "transfer/grpc_tuning.h"

#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/channel_arguments.h>

#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

// gRPC retries a call only while it has not started to receive the answer
// and has sent at most its retry buffer (256 KiB), so a shed Upload is tried
// again only if its first messages fit.
constexpr char kRetryShedCalls[] = R"({
  "methodConfig": [{
    "name": [{"service": "ferry.v1.Files"}, {"service": "ferry.v1.Jobs"},
             {"service": "ferry.v1.Auth"}],
    "retryPolicy": {
      "maxAttempts": 5,
      "initialBackoff": "0.2s",
      "maxBackoff": "2s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["RESOURCE_EXHAUSTED"]
    }
  }]
})";

}  // namespace

void TuneServerForTransfers(grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, kMaxFrameBytes);
}

void TuneChannelForTransfers(grpc::ChannelArguments& args) {
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5 * 60 * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
  args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, kMaxFrameBytes);
  args.SetServiceConfigJSON(kRetryShedCalls);
}

void MarkAnswerFinal(grpc::ServerContext* ctx) {
  // A negative push-back is gRPC's "do not retry".
  ctx->AddTrailingMetadata("grpc-retry-pushback-ms", "-1");
}

}  // namespace ferry
