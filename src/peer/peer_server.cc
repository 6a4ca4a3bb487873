#include "peer/peer_server.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/process_tuning.h"
#include "transfer/grpc_tuning.h"

namespace ferry {

Result<std::unique_ptr<PeerServer>> PeerServer::Start(const HostPort& listen,
                                                      const CertPair& identity,
                                                      ChunkService* service,
                                                      const PeerServerOptions& options) {
  std::unique_ptr<PeerServer> peer(new PeerServer());
  TcpAcceptor::Options acceptor_options;
  acceptor_options.on_fatal = options.on_fatal;
  auto acceptor = TcpAcceptor::Listen(listen, acceptor_options);
  if (!acceptor.ok()) {
    return Status::Unavailable(fmt::format(
        "cannot listen on {} for other peers ({}: in use, or not an address of this machine?)",
        listen.ToString(), acceptor.status().message()));
  }
  peer->acceptor_ = std::move(acceptor).value();
  peer->port_ = peer->acceptor_->port();

  // Room for the share's files and the index besides the connections.
  const long fit = std::max(1L, RaiseDescriptorLimit() - 256);
  ConnectionLimits limits;
  limits.max_connections = static_cast<int>(std::min<long>(options.max_connections, fit));
  limits.max_per_source = std::min(options.max_connections_per_source, limits.max_connections);
  peer->gate_ = std::make_unique<ConnectionGate>(limits);

  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({identity.key_pem, identity.cert_pem});
  grpc::ServerBuilder builder;
  peer->handoff_ = builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
      grpc::SslServerCredentials(ssl));
  builder.RegisterService(service);
  TuneServerForTransfers(builder);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_streams_per_connection);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             options.handshake_timeout_seconds * 1000);
  peer->server_ = builder.BuildAndStart();
  if (!peer->server_) return Status::Unavailable("cannot start the peer's gRPC server");
  peer->acceptor_->Start(
      peer->gate_.get(), [handoff = peer->handoff_.get()](UniqueFd fd, const std::string&) {
        grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
        p.fd = fd.Release();
        handoff->HandleNewConnection(&p);
      });
  return peer;
}

PeerServer::~PeerServer() { Shutdown(std::chrono::milliseconds(0)); }

void PeerServer::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_ || !server_) return;
  shut_down_ = true;
  acceptor_->Stop();
  server_->Shutdown(std::chrono::system_clock::now() + grace);
}

}  // namespace ferry
