// The peer's gRPC server: the chunk service over TLS with the peer's own
// certificate (whose fingerprint the directory publishes, so fetchers pin
// it), tuned for transfers like the file server.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>

#include "core/host_port.h"
#include "core/status.h"
#include "net/tls_identity.h"
#include "peer/chunk_service.h"

namespace ferry {

struct PeerServerOptions {
  // HTTP/2 streams a connection may have open (MAX_CONCURRENT_STREAMS).
  int max_streams_per_connection = 32;
  // A connection that has not finished its TLS handshake by then is closed.
  int handshake_timeout_seconds = 10;
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
  PeerServer(std::unique_ptr<grpc::Server> server, int port)
      : server_(std::move(server)), port_(port) {}

  std::unique_ptr<grpc::Server> server_;
  int port_;
  bool shut_down_ = false;
};

}  // namespace ferry
