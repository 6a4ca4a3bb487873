// The peer's gRPC server: the chunk service over TLS with the peer's own
// certificate (whose fingerprint the directory publishes, so fetchers pin
// it), tuned for transfers like the file server. Its port faces anyone, so
// it takes connections as the file server does (net/tcp_acceptor.h): each
// is counted against ConnectionGate's caps before gRPC spends a handshake on
// it, and a flood of bare connections neither exhausts its descriptors nor
// keeps others out.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>

#include "core/host_port.h"
#include "core/status.h"
#include "net/connection_gate.h"
#include "net/tcp_acceptor.h"
#include "net/tls_identity.h"
#include "peer/chunk_service.h"

namespace ferry {

struct PeerServerOptions {
  // HTTP/2 streams a connection may have open (MAX_CONCURRENT_STREAMS).
  int max_streams_per_connection = 32;
  // A connection that has not finished its TLS handshake by then is closed.
  int handshake_timeout_seconds = 10;
  // Connections open at once, in all and from one source (an IPv4 address or
  // an IPv6 /64): fetchers hold one each. max_connections is lowered to what
  // the process's descriptor limit leaves room for.
  int max_connections = 512;
  int max_connections_per_source = 16;
  // Called once if the port can no longer accept (net/tcp_acceptor.h).
  std::function<void(const std::string& why)> on_fatal;
};

class PeerServer {
 public:
  // Listens on `listen` (port 0: one the system picks) and serves `service`,
  // which must outlive the server. UNAVAILABLE if the address cannot be bound.
  static Result<std::unique_ptr<PeerServer>> Start(const HostPort& listen, const CertPair& identity,
                                                   ChunkService* service,
                                                   const PeerServerOptions& options = {});
  // Stops taking calls and lets running ones finish for up to `grace`.
  ~PeerServer();
  PeerServer(const PeerServer&) = delete;
  PeerServer& operator=(const PeerServer&) = delete;

  int port() const { return port_; }
  void Shutdown(std::chrono::milliseconds grace);

 private:
  PeerServer() = default;

  std::unique_ptr<ConnectionGate> gate_;
  std::unique_ptr<TcpAcceptor> acceptor_;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> handoff_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace ferry
