#include "peer/peer_server.h"

#include <fmt/format.h>

#include "transfer/grpc_tuning.h"

namespace ferry {

Result<std::unique_ptr<PeerServer>> PeerServer::Start(const HostPort& listen,
                                                      const CertPair& identity,
                                                      ChunkService* service,
                                                      const PeerServerOptions& options) {
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({identity.key_pem, identity.cert_pem});
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen.ToString(), grpc::SslServerCredentials(ssl), &port);
  builder.RegisterService(service);
  TuneServerForTransfers(builder);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_streams_per_connection);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             options.handshake_timeout_seconds * 1000);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    return Status::Unavailable(
        fmt::format("cannot listen on {} for other peers (in use, or not an address of this "
                    "machine?)",
                    listen.ToString()));
  }
  return std::unique_ptr<PeerServer>(new PeerServer(std::move(server), port));
}

PeerServer::~PeerServer() { Shutdown(std::chrono::milliseconds(0)); }

void PeerServer::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
}

}  // namespace ferry
