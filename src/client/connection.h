// A logged-in connection to a ferry server: trust, TLS channel and session.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "core/status.h"
#include "ferry/v1/files.grpc.pb.h"
#include "ferry/v1/jobs.grpc.pb.h"
#include "net/trust.h"
#include "transfer/grpc_status.h"

namespace ferry {

struct ClientOptions {
  std::string server = "127.0.0.1:7070";
  std::string user;
  std::string password;
  TrustOptions trust;
};

class Connection {
 public:
  // Establishes trust, opens the channel and logs in.
  static Result<std::unique_ptr<Connection>> Open(const ClientOptions& options);
  // A connection over a channel the caller made, without trust or login: for
  // tests against an in-process server. `server` is what server() reports.
  static std::unique_ptr<Connection> OverChannel(std::shared_ptr<grpc::Channel> channel,
                                                 std::string server);
  // Logs out (best effort, with a short deadline).
  ~Connection();
  Connection(const Connection&) = delete;
  struct PassKey {
   private:
    friend class Connection;
    PassKey() = default;
  };
  explicit Connection(PassKey) {}
  Connection& operator=(const Connection&) = delete;

  // A context for one call: the session token and a deadline.
  std::unique_ptr<grpc::ClientContext> Context(std::chrono::seconds timeout) const;
  v1::Files::Stub& files() { return *files_; }
  v1::Jobs::Stub& jobs() { return *jobs_; }
  const std::string& server() const { return server_; }
  const std::string& user() const { return user_; }

 private:
  std::string server_;
  std::string user_;
  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Files::Stub> files_;
  std::unique_ptr<v1::Jobs::Stub> jobs_;
  std::unique_ptr<v1::Auth::Stub> auth_;
};

}  // namespace ferry
