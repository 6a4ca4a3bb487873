#include "client/connection.h"

#include <fmt/format.h>

#include "transfer/grpc_tuning.h"

namespace ferry {
namespace {

constexpr auto kLoginTimeout = std::chrono::seconds(30);

}  // namespace

Result<std::unique_ptr<Connection>> Connection::Open(const ClientOptions& options) {
  auto trusted = EstablishTrust(options.server, options.trust);
  if (!trusted.ok()) return trusted.status();

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = trusted->root_pem;
  grpc::ChannelArguments args;
  TuneChannelForTransfers(args);
  // One TCP connection per Connection, even for channels to the same server.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!trusted->target_name.empty()) {
    args.SetSslTargetNameOverride(trusted->target_name);
  }
  auto conn = std::make_unique<Connection>(PassKey());
  conn->server_ = options.server;
  conn->user_ = options.user;
  conn->channel_ = grpc::CreateCustomChannel(options.server, grpc::SslCredentials(ssl), args);
  conn->files_ = v1::Files::NewStub(conn->channel_);
  conn->jobs_ = v1::Jobs::NewStub(conn->channel_);
  conn->auth_ = v1::Auth::NewStub(conn->channel_);

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kLoginTimeout);
  v1::LoginRequest req;
  req.set_user(options.user);
  req.set_password(options.password);
  v1::LoginResponse resp;
  grpc::Status s = conn->auth_->Login(&ctx, req, &resp);
  if (!s.ok()) {
    Status status = FromGrpc(s);
    if (status.code() == Code::kUnavailable) {
      return Status::Unavailable(
          fmt::format("cannot reach ferry server {}: {}", options.server, status.message()));
    }
    return status;
  }
  conn->token_ = resp.token();
  return conn;
}

std::unique_ptr<Connection> Connection::OverChannel(std::shared_ptr<grpc::Channel> channel,
                                                    std::string server) {
  auto conn = std::make_unique<Connection>(PassKey());
  conn->server_ = std::move(server);
  conn->channel_ = std::move(channel);
  conn->files_ = v1::Files::NewStub(conn->channel_);
  conn->jobs_ = v1::Jobs::NewStub(conn->channel_);
  conn->auth_ = v1::Auth::NewStub(conn->channel_);
  return conn;  // no token: the destructor does not log out
}

Connection::~Connection() {
  if (token_.empty() || !auth_) return;
  auto ctx = Context(std::chrono::seconds(3));
  v1::LogoutResponse resp;
  (void)auth_->Logout(ctx.get(), v1::LogoutRequest(), &resp);
}

std::unique_ptr<grpc::ClientContext> Connection::Context(std::chrono::seconds timeout) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  ctx->AddMetadata("authorization", "Bearer " + token_);
  return ctx;
}

}  // namespace ferry
