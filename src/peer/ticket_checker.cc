#include "peer/ticket_checker.h"

#include <algorithm>
#include <ctime>
#include <utility>

#include <fmt/format.h>

namespace ferry {

TicketChecker::TicketChecker(dirclient::DirectoryClientOptions directory, Login login,
                             std::function<std::string()> peer_id, TicketCheckerOptions options)
    : directory_(std::move(directory)),
      login_(std::move(login)),
      peer_id_(std::move(peer_id)),
      options_(options) {}

int64_t TicketChecker::directory_calls() const {
  std::lock_guard lock(mu_);
  return directory_calls_;
}

Result<std::string> TicketChecker::Check(const std::string& ticket) {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (auto it = remembered_.find(ticket); it != remembered_.end()) {
    if (it->second.until > now) return it->second.user;
    remembered_.erase(it);
  }
  std::chrono::seconds valid_for{0};
  Result<std::string> user = Ask(ticket, &valid_for);
  std::chrono::steady_clock::duration keep{};
  if (user.ok()) {
    keep = std::min<std::chrono::seconds>(options_.believe_for, valid_for);
  } else if (user.status().code() == Code::kPermissionDenied) {
    keep = options_.refuse_for;
  } else {
    return user;  // the directory could not say: ask again next time
  }
  if (remembered_.size() >= options_.max_remembered) {
    std::erase_if(remembered_, [&](const auto& e) { return e.second.until <= now; });
    if (remembered_.size() >= options_.max_remembered) remembered_.clear();
  }
  remembered_.insert_or_assign(ticket, Answer{user, now + keep});
  return user;
}

// REQUIRES: mu_ held.
Result<std::string> TicketChecker::Ask(const std::string& ticket, std::chrono::seconds* valid_for) {
  const std::string peer_id = peer_id_();
  if (peer_id.empty()) {
    return Status::Unavailable("this peer is not announced yet; try again in a moment");
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!client_) {
      auto client = dirclient::DirectoryClient::Open(directory_);
      if (!client.ok()) return Status::Unavailable(client.status().message());
      Status in = login_(**client);
      if (!in.ok()) return Status::Unavailable(in.message());
      client_ = std::move(client).value();
    }
    ++directory_calls_;
    auto holder = client_->CheckTicket(peer_id, ticket);
    if (holder.ok()) {
      // Believed until the directory's own expiry at the latest.
      const int64_t left = holder->expires_at - static_cast<int64_t>(std::time(nullptr));
      if (left <= 0) return Status::PermissionDenied("the ticket has expired");
      *valid_for = std::chrono::seconds(left);
      return holder->username;
    }
    switch (holder.status().code()) {
      case Code::kUnauthenticated:
        client_.reset();  // this peer's session ended: log in again, once
        continue;
      case Code::kPermissionDenied:
      case Code::kInvalidArgument:
        return Status::PermissionDenied("not a valid ticket for this peer");
      default:
        client_.reset();
        return Status::Unavailable(fmt::format("cannot check the ticket with the directory: {}",
                                               holder.status().message()));
    }
  }
  return Status::Unavailable("the directory refuses this peer's session");
}

}  // namespace ferry
