#include "directory/directory_service.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/secrets.h"
#include "directory/sqlite_directory_store.h"
#include "directory_api/wire_rules.h"

namespace ferry {
namespace {

using std::chrono::milliseconds;

// Two services over one SQLite file with a shared fake clock, as two
// instances over one database would be.
class DirectoryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto().ok());
    char pattern[] = "/tmp/ferry-dirsvc-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    options_.heartbeat_interval = milliseconds(1000);
    options_.session_cache_ttl = milliseconds(500);
    a_ = Open();
    b_ = Open();
    ASSERT_TRUE(a_->Register({"alice", "alice-password"}).ok());
    auto login = a_->Login({"alice", "alice-password"}, "127.0.0.1");
    ASSERT_TRUE(login.ok()) << login.status().ToString();
    token_ = login->token;
    Announcement announce;
    announce.address = "127.0.0.1:9000";
    announce.cert_sha256 = std::string(64, 'a');
    announce.files = std::vector<SharedFile>{{"a/song.ogg", 3, std::string(64, 'b'), 1, ""}};
    auto peer = a_->Announce(token_, announce);
    ASSERT_TRUE(peer.ok()) << peer.status().ToString();
    peer_ = peer->peer_id;
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<DirectoryService> Open() {
    auto store = OpenSqliteDirectoryStore(dir_ + "/directory.db");
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return std::make_unique<DirectoryService>(std::move(store).value(), options_,
                                              [this] { return now_.load(); });
  }
  // The peer's last_seen as the store holds it.
  int64_t StoredLastSeen() {
    auto store = OpenSqliteDirectoryStore(dir_ + "/directory.db", 1);
    auto owner = (*store)->FindPeer(peer_);
    EXPECT_TRUE(owner.ok() && owner->has_value());
    return (*owner)->last_seen;
  }

  std::string dir_;
  DirectoryOptions options_;
  std::atomic<int64_t> now_{1'800'000'000'000};
  std::unique_ptr<DirectoryService> a_, b_;
  std::string token_, peer_;
};

TEST_F(DirectoryServiceTest, HeartbeatsAreHeldInMemoryUntilFlushed) {
  int64_t announced = now_;
  now_ += 700;
  ASSERT_TRUE(a_->Heartbeat(token_, peer_).ok());
  EXPECT_EQ(StoredLastSeen(), announced);
  a_->MaintainNow();
  EXPECT_EQ(StoredLastSeen(), announced + 700);
}

TEST_F(DirectoryServiceTest, ThreeMissedIntervalsExpireAPeer) {
  now_ += 2900;  // within 3 intervals of the announce
  ASSERT_TRUE(a_->Heartbeat(token_, peer_).ok());
  now_ += 3001;  // 3 intervals and a bit since that heartbeat
  auto late = a_->Heartbeat(token_, peer_);
  EXPECT_EQ(late.status().code(), Code::kNotFound) << late.status().ToString();
  auto peers = a_->Peers(token_, Page{10, 0});
  ASSERT_TRUE(peers.ok());
  EXPECT_TRUE(peers->empty());
}

TEST_F(DirectoryServiceTest, HeartbeatsThroughEitherInstanceCount) {
  for (int i = 0; i < 6; ++i) {
    now_ += 900;
    ASSERT_TRUE((i % 2 ? a_ : b_)->Heartbeat(token_, peer_).ok()) << i;
    (i % 2 ? a_ : b_)->MaintainNow();
  }
  // 5.4 s after the announce, well past 3 intervals: alive thanks to both.
  auto peers = b_->Peers(token_, Page{10, 0});
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 1u);
  // A flush of an older time never lowers what the other instance wrote.
  int64_t newest = StoredLastSeen();
  EXPECT_EQ(newest, now_.load());
}

TEST_F(DirectoryServiceTest, LogoutElsewhereReachesHeartbeatsAtTheNextFlush) {
  ASSERT_TRUE(b_->Heartbeat(token_, peer_).ok());  // b caches session and peer
  ASSERT_TRUE(a_->Logout(token_).ok());
  EXPECT_EQ(a_->Heartbeat(token_, peer_).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(a_->Verify(token_).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(b_->Verify(token_).status().code(), Code::kUnauthenticated);  // never cached
  // b's flush finds the peer gone, and b stops trusting its session.
  b_->MaintainNow();
  EXPECT_EQ(b_->Heartbeat(token_, peer_).status().code(), Code::kUnauthenticated);
}

TEST_F(DirectoryServiceTest, PeerRemovedElsewhereIsRefusedAfterTheNextFlush) {
  ASSERT_TRUE(b_->Heartbeat(token_, peer_).ok());
  ASSERT_TRUE(a_->RemovePeer(token_, peer_).ok());
  b_->MaintainNow();
  EXPECT_EQ(b_->Heartbeat(token_, peer_).status().code(), Code::kNotFound);
}

TEST_F(DirectoryServiceTest, AStaleCacheDoesNotExpireAPeerKeptAliveElsewhere) {
  ASSERT_TRUE(a_->Heartbeat(token_, peer_).ok());  // a caches the peer at t0
  for (int i = 0; i < 5; ++i) {                    // then only b hears from it
    now_ += 900;
    ASSERT_TRUE(b_->Heartbeat(token_, peer_).ok());
    b_->MaintainNow();
  }
  EXPECT_TRUE(a_->Heartbeat(token_, peer_).ok());  // 4.5 s later, via a again
}

std::vector<std::string> Names(const Result<SharedSearchAnswer>& answer) {
  std::vector<std::string> names;
  if (!answer.ok()) return {answer.status().ToString()};
  for (const auto& h : (*answer)->hits) names.push_back(h.name);
  return names;
}

TEST_F(DirectoryServiceTest, SearchAnswersAreReusedBrieflyAndLocalChangesShowAtOnce) {
  // A 1 s heartbeat interval caps the reuse at a quarter of it: 250 ms.
  const SearchQuery song{"song", "", 50, 0, 50};
  using Names_ = std::vector<std::string>;
  EXPECT_EQ(Names(a_->Search(token_, song)), (Names_{"song.ogg"}));
  Announcement other;
  other.address = "127.0.0.1:9001";
  other.cert_sha256 = std::string(64, 'c');
  other.files = std::vector<SharedFile>{{"song2.ogg", 4, std::string(64, 'd'), 1, ""}};
  auto elsewhere = b_->Announce(token_, other);
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status().ToString();
  // Through b at once; through a once its answer is 250 ms old.
  EXPECT_EQ(Names(b_->Search(token_, song)), (Names_{"song.ogg", "song2.ogg"}));
  now_ += 249;
  EXPECT_EQ(Names(a_->Search(token_, song)), (Names_{"song.ogg"}));
  now_ += 1;
  EXPECT_EQ(Names(a_->Search(token_, song)), (Names_{"song.ogg", "song2.ogg"}));
  // Changes through a itself show in a's very next answer.
  other.files = std::vector<SharedFile>{{"song3.ogg", 5, std::string(64, 'e'), 1, ""}};
  auto here = a_->Announce(token_, other);
  ASSERT_TRUE(here.ok()) << here.status().ToString();
  EXPECT_EQ(Names(a_->Search(token_, song)), (Names_{"song.ogg", "song2.ogg", "song3.ogg"}));
  ASSERT_TRUE(a_->RemovePeer(token_, peer_).ok());
  EXPECT_EQ(Names(a_->Search(token_, song)), (Names_{"song2.ogg", "song3.ogg"}));
  ASSERT_TRUE(a_->Logout(token_).ok());
  ASSERT_TRUE(a_->Register({"bob", "bob-password"}).ok());
  auto bob = a_->Login({"bob", "bob-password"}, "127.0.0.1");
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(Names(a_->Search(bob->token, song)), Names_{});
}

TEST_F(DirectoryServiceTest, ExpiredPeersLeaveCachedAnswersWithinAQuarterInterval) {
  const SearchQuery song{"song", "", 50, 0, 50};
  now_ += 2999;  // the peer's last moment online
  ASSERT_EQ(Names(a_->Search(token_, song)), std::vector<std::string>{"song.ogg"});
  now_ += 249;  // offline now, but the answer is reused for 250 ms at most
  EXPECT_EQ(Names(a_->Search(token_, song)), std::vector<std::string>{"song.ogg"});
  now_ += 1;
  EXPECT_EQ(Names(a_->Search(token_, song)), std::vector<std::string>{});
}

// Registers beyond one hashing and one waiting are refused at once, and a
// login refused so is not counted as a wrong password.
TEST_F(DirectoryServiceTest, PasswordHashingBeyondItsQueueIsRefused) {
  options_.hash_concurrency = 1;
  options_.hash_queue = 1;
  auto service = Open();
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      Status s = service->Register({"user" + std::to_string(i), "a-long-password"});
      if (s.ok()) ++ok;
      if (s.code() == Code::kResourceExhausted) {
        EXPECT_NE(s.message().find("too many passwords to check; wait 1 s"), std::string::npos);
        ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(refused.load(), 1);
  EXPECT_EQ(ok.load() + refused.load(), 8);
  // Nobody waits now: logins go through, and the refusals above were no failures.
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(service->Login({"alice", "alice-password"}, "10.0.0.1").ok()) << i;
  }
}

TEST_F(DirectoryServiceTest, AnotherUsersPeerIsRefused) {
  ASSERT_TRUE(a_->Register({"bob", "bob-password"}).ok());
  auto bob = a_->Login({"bob", "bob-password"}, "127.0.0.1");
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(a_->Heartbeat(bob->token, peer_).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(a_->RemovePeer(bob->token, peer_).code(), Code::kPermissionDenied);
  Announcement steal;
  steal.peer_id = peer_;
  steal.address = "10.9.9.9:1";
  EXPECT_EQ(a_->Announce(bob->token, steal).status().code(), Code::kPermissionDenied);
}

// Bob gets a ticket for alice's peer; alice, through another instance, learns
// from it that the fetcher is bob. Nobody else learns anything from it, and
// it is worth nothing as a token.
TEST_F(DirectoryServiceTest, ATicketNamesTheFetcherToTheServingPeersOwnerAlone) {
  ASSERT_TRUE(a_->Register({"bob", "bob-password"}).ok());
  ASSERT_TRUE(a_->Register({"carol", "carol-password"}).ok());
  auto bob = a_->Login({"bob", "bob-password"}, "127.0.0.1");
  auto carol = a_->Login({"carol", "carol-password"}, "127.0.0.1");
  ASSERT_TRUE(bob.ok() && carol.ok());
  Announcement announce;
  announce.address = "127.0.0.1:9001";
  announce.cert_sha256 = std::string(64, 'c');
  announce.files = std::vector<SharedFile>{};
  auto carols_peer = a_->Announce(carol->token, announce);
  ASSERT_TRUE(carols_peer.ok()) << carols_peer.status().ToString();

  auto ticket = a_->IssueTicket(bob->token, peer_);
  ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
  EXPECT_TRUE(dirapi::IsTicket(ticket->ticket));
  EXPECT_EQ(ticket->peer_id, peer_);
  EXPECT_EQ(ticket->expires_at, now_ / 1000 + 300);
  EXPECT_NE(a_->IssueTicket(bob->token, peer_)->ticket, ticket->ticket);  // fresh every time

  auto holder = b_->CheckTicket(token_, {peer_, ticket->ticket});
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  EXPECT_EQ(holder->username, "bob");
  EXPECT_EQ(holder->expires_at, ticket->expires_at);

  // Every refusal is the same one.
  auto refused = [](const Result<dirapi::TicketHolder>& r) {
    return r.status().code() == Code::kPermissionDenied &&
           r.status().message() == "not a valid ticket for this peer";
  };
  EXPECT_TRUE(refused(a_->CheckTicket(carol->token, {carols_peer->peer_id, ticket->ticket})));
  EXPECT_TRUE(refused(a_->CheckTicket(carol->token, {peer_, ticket->ticket})));  // not hers
  EXPECT_TRUE(refused(a_->CheckTicket(bob->token, {peer_, ticket->ticket})));    // nor his
  EXPECT_TRUE(refused(a_->CheckTicket(token_, {peer_, std::string(64, '0')})));  // unknown
  // A session token is not a ticket, and a ticket is not a token.
  EXPECT_TRUE(refused(a_->CheckTicket(token_, {peer_, bob->token})));
  EXPECT_EQ(a_->Verify(ticket->ticket).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(a_->IssueTicket(ticket->ticket, peer_).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(a_->CheckTicket(ticket->ticket, {peer_, ticket->ticket}).status().code(),
            Code::kUnauthenticated);

  // A peer that is not online gets no ticket.
  EXPECT_EQ(a_->IssueTicket(bob->token, std::string(32, 'f')).status().code(), Code::kNotFound);
}

TEST_F(DirectoryServiceTest, ATicketEndsWhenItExpiresOrItsPeerLeaves) {
  ASSERT_TRUE(a_->Register({"bob", "bob-password"}).ok());
  auto bob = a_->Login({"bob", "bob-password"}, "127.0.0.1");
  ASSERT_TRUE(bob.ok());
  auto ticket = a_->IssueTicket(bob->token, peer_);
  ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
  // Good for its whole lifetime while the peer heartbeats, then gone.
  for (int i = 0; i < 299; ++i) {
    now_ += 1000;
    ASSERT_TRUE(a_->Heartbeat(token_, peer_).ok());
  }
  EXPECT_TRUE(a_->CheckTicket(token_, {peer_, ticket->ticket}).ok());
  now_ += 1000;
  ASSERT_TRUE(a_->Heartbeat(token_, peer_).ok());
  EXPECT_EQ(a_->CheckTicket(token_, {peer_, ticket->ticket}).status().code(),
            Code::kPermissionDenied);

  // A peer that leaves takes its tickets with it: at once through the same
  // instance, and through another once that one flushes (as heartbeats).
  auto second = a_->IssueTicket(bob->token, peer_);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  a_->MaintainNow();  // b_ sees the heartbeats a_ took
  ASSERT_TRUE(b_->CheckTicket(token_, {peer_, second->ticket}).ok());
  ASSERT_TRUE(a_->RemovePeer(token_, peer_).ok());
  EXPECT_EQ(a_->CheckTicket(token_, {peer_, second->ticket}).status().code(),
            Code::kPermissionDenied);
  EXPECT_EQ(a_->IssueTicket(bob->token, peer_).status().code(), Code::kNotFound);
  ASSERT_TRUE(b_->Heartbeat(token_, peer_).ok());  // b_ does not know yet
  b_->MaintainNow();
  EXPECT_EQ(b_->CheckTicket(token_, {peer_, second->ticket}).status().code(),
            Code::kPermissionDenied);
}

// A ticket never outlives the session that asked for it.
TEST_F(DirectoryServiceTest, ATicketLastsNoLongerThanItsFetchersSession) {
  options_.ticket_lifetime = std::chrono::hours(48);
  auto generous = Open();
  auto ticket = generous->IssueTicket(token_, peer_);
  ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
  auto session = generous->Verify(token_);
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(ticket->expires_at, session->expires_at / 1000);
}

}  // namespace
}  // namespace ferry
