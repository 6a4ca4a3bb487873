// One conformance suite for every DirectoryStore: each TEST_P runs against
// SQLite and against a throwaway PostgreSQL cluster, so the two stores answer
// alike. PostgreSQL-only checks (connection errors, the trigram plan, the
// cluster helper itself) follow at the end.
#include "directory/directory_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "core/sqlite.h"
#include "directory/postgres_directory_store.h"
#include "directory/sqlite_directory_store.h"
#include "tests/support/postgres_cluster.h"

namespace ferry {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::PostgresCluster;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kSince = kNow - 30'000;  // three 10 s heartbeats

SharedFile File(std::string path, int64_t size, char hash_digit, int64_t mtime = 1) {
  return SharedFile{std::move(path), size, std::string(64, hash_digit), mtime, ""};
}

NewPeer Peer(std::string id, std::vector<SharedFile> files, std::string session = "s1",
             std::string user = "alice") {
  return NewPeer{
      id,           std::move(user), std::move(session), "10.0.0.1:" + std::to_string(id.size()),
      "cert-" + id, std::move(files)};
}

std::vector<std::string> Paths(const std::vector<SharedFile>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.path);
  return out;
}

// "name|size|sha-first-char|peer,peer" per hit: one string compares a whole answer.
std::vector<std::string> Describe(const std::vector<SearchHit>& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) {
    std::string s = h.name + "|" + std::to_string(h.size) + "|" + h.sha256.substr(0, 1) + "|";
    for (size_t i = 0; i < h.peers.size(); ++i) s += (i ? "," : "") + h.peers[i].peer_id;
    out.push_back(s);
  }
  return out;
}

// kPostgres answers text searches from the database (as before the name
// index is loaded); kPostgresIndexed loads the in-memory name index first.
enum class Backend { kSqlite, kPostgres, kPostgresIndexed };

class DirectoryStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kSqlite) {
      char tmpl[] = "/tmp/ferry-directory-test-XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
    } else {
      auto cluster = PostgresCluster::Start();
      ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
      cluster_ = std::move(*cluster);
    }
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    cluster_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Another store over the same database, as a second directory instance.
  std::unique_ptr<DirectoryStore> Open() {
    auto store = GetParam() == Backend::kSqlite ? OpenSqliteDirectoryStore(dir_ + "/directory.db")
                                                : OpenPostgresDirectoryStore(cluster_->url(), 8);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    if (GetParam() == Backend::kPostgresIndexed) {
      for (int steps = 0;; ++steps) {
        auto pending = (*store)->CompactIndexes(std::chrono::milliseconds(100));
        EXPECT_TRUE(pending.ok()) << pending.status().ToString();
        if (!pending.ok() || !*pending || steps > 100) break;
      }
    }
    return std::move(*store);
  }

  std::vector<std::string> Online(DirectoryStore& store, int64_t since = kSince) {
    auto peers = store.OnlinePeers(since, 1000, 0);
    EXPECT_TRUE(peers.ok()) << peers.status().ToString();
    std::vector<std::string> ids;
    if (peers.ok()) {
      for (const auto& p : *peers) ids.push_back(p.peer_id);
    }
    return ids;
  }
  std::vector<std::string> Online() { return Online(*store_); }

  std::vector<std::string> SearchText(const std::string& text, int limit = 50, int offset = 0,
                                      int max_peers = 50, int64_t since = kSince) {
    auto hits = store_->Search(SearchQuery{text, "", limit, offset, max_peers}, since);
    EXPECT_TRUE(hits.ok()) << hits.status().ToString();
    return hits.ok() ? Describe(*hits) : std::vector<std::string>{"error"};
  }

  std::vector<std::string> Files(const std::string& peer_id, int limit = 100, int offset = 0) {
    auto files = store_->PeerFiles(peer_id, kSince, limit, offset);
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    if (!files.ok()) return {"error"};
    if (!files->has_value()) return {"absent"};
    return Paths(**files);
  }

  std::string dir_;
  std::unique_ptr<PostgresCluster> cluster_;
  std::unique_ptr<DirectoryStore> store_;
};

TEST_P(DirectoryStoreTest, AccountsAreUniqueAndKeepTheirHash) {
  ASSERT_TRUE(store_->AddAccount("alice", "hash-a", kNow).ok());
  ASSERT_TRUE(store_->AddAccount("bob", "hash-b", kNow).ok());
  EXPECT_EQ(store_->AddAccount("alice", "other", kNow).code(), Code::kAlreadyExists);
  EXPECT_EQ(store_->PasswordHash("alice")->value_or("none"), "hash-a");
  EXPECT_EQ(store_->PasswordHash("bob")->value_or("none"), "hash-b");
  EXPECT_EQ(store_->PasswordHash("carol")->value_or("none"), "none");
  EXPECT_EQ(store_->Counts(kSince)->accounts, 2);
}

TEST_P(DirectoryStoreTest, SessionsExpireAndGoOnRemove) {
  ASSERT_TRUE(store_->AddAccount("alice", "h", kNow).ok());
  ASSERT_TRUE(store_->AddSession("s1", "alice", kNow + 1000).ok());
  auto found = store_->FindSession("s1", kNow);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->username, "alice");
  EXPECT_EQ((*found)->expires_at, kNow + 1000);
  EXPECT_FALSE(store_->FindSession("s1", kNow + 5000)->has_value());
  EXPECT_FALSE(store_->FindSession("nope", kNow)->has_value());
  ASSERT_TRUE(store_->RemoveSession("s1").ok());
  EXPECT_FALSE(store_->FindSession("s1", kNow)->has_value());
  EXPECT_TRUE(store_->RemoveSession("s1").ok());
}

TEST_P(DirectoryStoreTest, TicketsAreFoundUntilTheyExpire) {
  ASSERT_TRUE(store_->AddTicket("t1", {"bob", "p1", kNow + 1000}).ok());
  auto found = store_->FindTicket("t1", kNow);
  ASSERT_TRUE(found.ok() && found->has_value()) << found.status().ToString();
  EXPECT_EQ((*found)->username, "bob");
  EXPECT_EQ((*found)->peer_id, "p1");
  EXPECT_EQ((*found)->expires_at, kNow + 1000);
  EXPECT_FALSE(store_->FindTicket("t1", kNow + 1000)->has_value());  // expired at that instant
  EXPECT_FALSE(store_->FindTicket("nope", kNow)->has_value());
  EXPECT_EQ(store_->AddTicket("t1", {"carol", "p2", kNow + 5000}).code(), Code::kAlreadyExists);
  EXPECT_EQ((*store_->FindTicket("t1", kNow))->username, "bob");  // the first one stays
  // Another instance over the same database sees it.
  auto other = Open();
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(other->FindTicket("t1", kNow)->has_value());
}

// Sessions and tickets are kept apart: a ticket's id is never a session's,
// nor the other way round, whatever the two ids are.
TEST_P(DirectoryStoreTest, ATicketIsNeverASessionNorASessionATicket) {
  ASSERT_TRUE(store_->AddSession("same", "alice", kNow + 60'000).ok());
  ASSERT_TRUE(store_->AddTicket("ticket", {"bob", "p1", kNow + 60'000}).ok());
  EXPECT_FALSE(store_->FindTicket("same", kNow)->has_value());
  EXPECT_FALSE(store_->FindSession("ticket", kNow)->has_value());
  // The same id in both tables names two different things.
  ASSERT_TRUE(store_->AddTicket("same", {"bob", "p1", kNow + 60'000}).ok());
  EXPECT_EQ((*store_->FindSession("same", kNow))->username, "alice");
  EXPECT_EQ((*store_->FindTicket("same", kNow))->username, "bob");
  ASSERT_TRUE(store_->RemoveSession("same").ok());
  EXPECT_TRUE(store_->FindTicket("same", kNow)->has_value());
}

// A database made before tickets existed opens and gains the table.
TEST_P(DirectoryStoreTest, ADatabaseWithoutTicketsIsUpgraded) {
  ASSERT_TRUE(store_->AddSession("s1", "alice", kNow + 60'000).ok());
  store_.reset();
  if (GetParam() == Backend::kSqlite) {
    auto db = Db::Open(dir_ + "/directory.db");
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("DROP TABLE tickets").ok());
  } else {
    pqxx::connection admin(cluster_->url());
    pqxx::work tx(admin);
    tx.exec0("DROP TABLE tickets");
    tx.commit();
  }
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_TRUE(store_->FindSession("s1", kNow)->has_value());
  ASSERT_TRUE(store_->AddTicket("t1", {"bob", "p1", kNow + 1000}).ok());
  EXPECT_TRUE(store_->FindTicket("t1", kNow)->has_value());
}

TEST_P(DirectoryStoreTest, RemoveSessionRemovesOnlyItsPeers) {
  ASSERT_TRUE(store_->AddSession("s1", "alice", kNow + 60'000).ok());
  ASSERT_TRUE(store_->AddSession("s2", "alice", kNow + 60'000).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("p1", {File("a.txt", 1, 'a')}, "s1"), kNow).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("p2", {File("a.txt", 1, 'a')}, "s1"), kNow).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("p3", {File("a.txt", 1, 'a')}, "s2"), kNow).ok());
  ASSERT_TRUE(store_->RemoveSession("s1").ok());
  EXPECT_THAT(Online(), ElementsAre("p3"));
  EXPECT_FALSE(store_->FindPeer("p1")->has_value());
  EXPECT_FALSE(store_->FindPeer("p2")->has_value());
  EXPECT_THAT(SearchText("a.txt"), ElementsAre("a.txt|1|a|p3"));
  EXPECT_TRUE(store_->FindSession("s2", kNow)->has_value());
  EXPECT_EQ(store_->Counts(kSince)->indexed_files, 1);
}

TEST_P(DirectoryStoreTest, AddPeerRejectsATakenIdAndKeepsTheFirst) {
  ASSERT_TRUE(
      store_->AddPeer(Peer("p1", {File("a.txt", 1, 'a'), File("b.txt", 2, 'b')}), kNow).ok());
  NewPeer again = Peer("p1", {File("c.txt", 3, 'c')}, "s9", "mallory");
  again.address = "6.6.6.6:1";
  EXPECT_EQ(store_->AddPeer(again, kNow + 5).code(), Code::kAlreadyExists);

  auto owner = store_->FindPeer("p1");
  ASSERT_TRUE(owner.ok() && owner->has_value());
  EXPECT_EQ((*owner)->username, "alice");
  EXPECT_EQ((*owner)->session_id, "s1");
  EXPECT_EQ((*owner)->last_seen, kNow);
  auto peers = store_->OnlinePeers(kSince, 10, 0);
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 1u);
  const PeerRow& p = (*peers)[0];
  EXPECT_EQ(p.peer_id, "p1");
  EXPECT_EQ(p.username, "alice");
  EXPECT_EQ(p.address, "10.0.0.1:2");
  EXPECT_EQ(p.cert_sha256, "cert-p1");
  EXPECT_EQ(p.file_count, 2);
  EXPECT_EQ(p.last_seen, kNow);
  EXPECT_THAT(Files("p1"), ElementsAre("a.txt", "b.txt"));
  EXPECT_FALSE(store_->FindPeer("p2")->has_value());
}

TEST_P(DirectoryStoreTest, PeerFilesAreOrderedByPathAndPaged) {
  ASSERT_TRUE(store_
                  ->AddPeer(Peer("p1", {File("b.txt", 1, 'a'), File("a/z.txt", 2, 'b'),
                                        File("a/b.txt", 3, 'c'), File("B.txt", 4, 'd')}),
                            kNow)
                  .ok());
  EXPECT_THAT(Files("p1"), ElementsAre("B.txt", "a/b.txt", "a/z.txt", "b.txt"));
  EXPECT_THAT(Files("p1", 2, 1), ElementsAre("a/b.txt", "a/z.txt"));
  EXPECT_THAT(Files("p1", 10, 4), IsEmpty());
  EXPECT_THAT(Files("unknown"), ElementsAre("absent"));
  auto files = store_->PeerFiles("p1", kSince, 1, 1);
  ASSERT_TRUE(files.ok() && files->has_value());
  ASSERT_EQ((*files)->size(), 1u);
  const SharedFile& f = (**files)[0];
  EXPECT_EQ(f.path, "a/b.txt");
  EXPECT_EQ(f.size, 3);
  EXPECT_EQ(f.sha256, std::string(64, 'c'));
  EXPECT_EQ(f.mtime, 1);
}

TEST_P(DirectoryStoreTest, UpdatePeerReplacesThenRemovesThenAdds) {
  ASSERT_TRUE(store_->AddPeer(Peer("p1", {File("a", 1, 'a'), File("b", 1, 'b')}), kNow).ok());
  PeerUpdate update;
  update.peer_id = "p1";
  update.cert_sha256 = "new-cert";
  update.replace_files =
      std::vector<SharedFile>{File("x", 1, 'c'), File("y", 1, 'd'), File("z", 1, 'e')};
  update.removed = {"y", "w", "a"};  // y from the new list; w not there yet
  update.added = {File("w", 7, 'f'), File("z", 9, '9', 42)};  // z replaced in place
  ASSERT_TRUE(store_->UpdatePeer(update, kNow + 100).ok());

  auto files = store_->PeerFiles("p1", kSince, 100, 0);
  ASSERT_TRUE(files.ok() && files->has_value());
  EXPECT_THAT(Paths(**files), ElementsAre("w", "x", "z"));
  EXPECT_EQ((**files)[2].size, 9);
  EXPECT_EQ((**files)[2].sha256, std::string(64, '9'));
  EXPECT_EQ((**files)[2].mtime, 42);
  auto peers = store_->OnlinePeers(kSince, 10, 0);
  ASSERT_TRUE(peers.ok() && peers->size() == 1);
  EXPECT_EQ((*peers)[0].address, "10.0.0.1:2");  // not in the update: kept
  EXPECT_EQ((*peers)[0].cert_sha256, "new-cert");
  EXPECT_EQ((*peers)[0].file_count, 3);
  EXPECT_EQ((*peers)[0].last_seen, kNow + 100);  // an update is a heartbeat
  EXPECT_THAT(SearchText("a"), IsEmpty());
  EXPECT_THAT(SearchText("z"), ElementsAre("z|9|9|p1"));

  // Without replace_files the list is edited, not replaced.
  PeerUpdate edit;
  edit.peer_id = "p1";
  edit.address = "10.9.9.9:9";
  edit.removed = {"x"};
  edit.added = {File("v", 1, 'a')};
  ASSERT_TRUE(store_->UpdatePeer(edit, kNow + 200).ok());
  EXPECT_THAT(Files("p1"), ElementsAre("v", "w", "z"));
  EXPECT_EQ((*store_->OnlinePeers(kSince, 10, 0))[0].address, "10.9.9.9:9");

  PeerUpdate missing;
  missing.peer_id = "nope";
  missing.added = {File("q", 1, 'a')};
  EXPECT_EQ(store_->UpdatePeer(missing, kNow).code(), Code::kNotFound);
  EXPECT_THAT(SearchText("q"), IsEmpty());
}

TEST_P(DirectoryStoreTest, UpdatePeerBringsAnOfflinePeerBack) {
  ASSERT_TRUE(store_->AddPeer(Peer("p1", {File("a.txt", 1, 'a')}), kNow - 60'000).ok());
  EXPECT_THAT(Online(), IsEmpty());
  PeerUpdate update;
  update.peer_id = "p1";
  ASSERT_TRUE(store_->UpdatePeer(update, kNow).ok());
  EXPECT_THAT(Online(), ElementsAre("p1"));
  EXPECT_EQ((*store_->FindPeer("p1"))->last_seen, kNow);
  EXPECT_THAT(Files("p1"), ElementsAre("a.txt"));
}

TEST_P(DirectoryStoreTest, HeartbeatsNeverLowerLastSeen) {
  ASSERT_TRUE(store_->AddPeer(Peer("p1", {}), kNow - 60'000).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("p2", {}), kNow).ok());
  auto missing = store_->RecordHeartbeats(
      {{"p1", kNow - 10}, {"p2", kNow - 20'000}, {"ghost", kNow}, {"p1", kNow - 50}});
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_THAT(*missing, ElementsAre("ghost"));
  EXPECT_EQ((*store_->FindPeer("p1"))->last_seen, kNow - 10);
  EXPECT_EQ((*store_->FindPeer("p2"))->last_seen, kNow);
  EXPECT_FALSE(store_->FindPeer("ghost")->has_value());
  auto none = store_->RecordHeartbeats({});
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
  EXPECT_THAT(Online(), ElementsAre("p1", "p2"));
}

TEST_P(DirectoryStoreTest, HeartbeatsReturnExactlyThePeersThatAreGone) {
  ASSERT_TRUE(store_->AddSession("s1", "alice", kNow + 60'000).ok());
  ASSERT_TRUE(store_->AddSession("s2", "alice", kNow + 60'000).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("live", {}), kNow).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("offline", {}), kSince - 1).ok());  // still a row
  ASSERT_TRUE(store_->AddPeer(Peer("removed", {}), kNow).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("expired", {}), kSince - 10).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("logged-out", {}, "s2"), kNow).ok());
  ASSERT_TRUE(store_->RemovePeer("removed").ok());
  ASSERT_TRUE(store_->RemoveSession("s2").ok());
  // "offline" is only 1 ms late: RemoveExpired at kSince - 5 keeps it.
  ASSERT_TRUE(store_->RemoveExpired(kSince - 5, kNow).ok());

  auto missing = store_->RecordHeartbeats({{"live", kNow - 5},
                                           {"removed", kNow + 1},
                                           {"offline", kNow + 2},
                                           {"never", kNow},
                                           {"expired", kNow + 3},
                                           {"live", kNow + 7},
                                           {"logged-out", kNow + 4}});
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_THAT(*missing,
              ::testing::UnorderedElementsAre("removed", "never", "expired", "logged-out"));
  EXPECT_EQ((*store_->FindPeer("live"))->last_seen, kNow + 7);
  EXPECT_EQ((*store_->FindPeer("offline"))->last_seen, kNow + 2);  // back online
  EXPECT_FALSE(store_->FindPeer("never")->has_value());            // not created by a heartbeat
  EXPECT_THAT(Online(), ElementsAre("live", "offline"));
  // An older heartbeat of a known peer is not "missing" though it changes nothing.
  auto again = store_->RecordHeartbeats({{"live", kNow}});
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(*again, IsEmpty());
  EXPECT_EQ((*store_->FindPeer("live"))->last_seen, kNow + 7);
}

TEST_P(DirectoryStoreTest, OfflinePeersAreLeftOutOfEveryAnswer) {
  ASSERT_TRUE(store_->AddAccount("alice", "h", kNow).ok());
  ASSERT_TRUE(
      store_->AddPeer(Peer("old", {File("song.mp3", 5, 'a'), File("x.mp3", 1, 'b')}), kSince - 1)
          .ok());
  ASSERT_TRUE(store_->AddPeer(Peer("edge", {File("song.mp3", 5, 'a')}), kSince).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("new", {File("song.mp3", 5, 'a')}), kNow).ok());
  EXPECT_THAT(Online(), ElementsAre("edge", "new"));  // last_seen == online_since is online
  EXPECT_THAT(Files("old"), ElementsAre("absent"));
  EXPECT_THAT(Files("edge"), ElementsAre("song.mp3"));
  EXPECT_TRUE(store_->FindPeer("old")->has_value());  // known, just offline
  EXPECT_THAT(SearchText("mp3"), ElementsAre("song.mp3|5|a|edge,new"));
  auto by_hash = store_->Search(SearchQuery{"", std::string(64, 'b'), 50, 0, 50}, kSince);
  ASSERT_TRUE(by_hash.ok());
  EXPECT_THAT(*by_hash, IsEmpty());
  auto counts = store_->Counts(kSince);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->online_peers, 2);
  EXPECT_EQ(counts->indexed_files, 2);
  EXPECT_EQ(counts->accounts, 1);
  EXPECT_THAT(Online(*store_, kSince - 1), ElementsAre("edge", "new", "old"));
}

TEST_P(DirectoryStoreTest, OnlinePeersArePaged) {
  for (const char* id : {"p4", "p2", "p5", "p1", "p3"}) {
    ASSERT_TRUE(store_->AddPeer(Peer(id, {}), kNow).ok());
  }
  auto page = store_->OnlinePeers(kSince, 2, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].peer_id, "p2");
  EXPECT_EQ((*page)[1].peer_id, "p3");
  EXPECT_THAT(*store_->OnlinePeers(kSince, 10, 5), IsEmpty());
}

TEST_P(DirectoryStoreTest, SearchIsCaseInsensitiveOnTheLastPathComponent) {
  ASSERT_TRUE(store_
                  ->AddPeer(Peer("p1", {File("photos/Holiday Photo.JPG", 10, 'a'),
                                        File("music/rock/song.mp3", 20, 'b')}),
                            kNow)
                  .ok());
  EXPECT_THAT(SearchText("photo.jpg"), ElementsAre("Holiday Photo.JPG|10|a|p1"));
  EXPECT_THAT(SearchText("DAY pHo"), ElementsAre("Holiday Photo.JPG|10|a|p1"));  // the middle
  EXPECT_THAT(SearchText("rock"), IsEmpty());  // a folder, not the name
  EXPECT_THAT(SearchText("photos/"), IsEmpty());
  EXPECT_THAT(SearchText("o"), ElementsAre("Holiday Photo.JPG|10|a|p1", "song.mp3|20|b|p1"));
  EXPECT_THAT(SearchText("zzz"), IsEmpty());
}

TEST_P(DirectoryStoreTest, SearchTakesLikeWildcardsLiterally) {
  ASSERT_TRUE(store_
                  ->AddPeer(Peer("p1", {File("100%.txt", 1, 'a'), File("a_b.txt", 1, 'b'),
                                        File("axb.txt", 1, 'c'), File("back\\slash.txt", 1, 'd'),
                                        File("plain.txt", 1, 'e'), File("quote'\".txt", 1, 'f')}),
                            kNow)
                  .ok());
  EXPECT_THAT(SearchText("%"), ElementsAre("100%.txt|1|a|p1"));
  EXPECT_THAT(SearchText("_"), ElementsAre("a_b.txt|1|b|p1"));
  EXPECT_THAT(SearchText("a_b"), ElementsAre("a_b.txt|1|b|p1"));
  EXPECT_THAT(SearchText("0%."), ElementsAre("100%.txt|1|a|p1"));
  EXPECT_THAT(SearchText("\\"), ElementsAre("back\\slash.txt|1|d|p1"));
  EXPECT_THAT(SearchText("'\""), ElementsAre("quote'\".txt|1|f|p1"));
  EXPECT_THAT(SearchText("*"), IsEmpty());
}

TEST_P(DirectoryStoreTest, SearchBySha256) {
  ASSERT_TRUE(
      store_->AddPeer(Peer("p2", {File("copy.bin", 3, 'a'), File("o.bin", 3, 'b')}), kNow).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("p1", {File("dir/orig.bin", 3, 'a')}), kNow).ok());
  auto hits = store_->Search(SearchQuery{"", std::string(64, 'a'), 50, 0, 50}, kSince);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_THAT(Describe(*hits), ElementsAre("copy.bin|3|a|p2", "orig.bin|3|a|p1"));
  ASSERT_EQ((*hits)[1].peers.size(), 1u);
  EXPECT_EQ((*hits)[1].peers[0].address, "10.0.0.1:2");
  EXPECT_EQ((*hits)[1].peers[0].cert_sha256, "cert-p1");
  EXPECT_THAT(*store_->Search(SearchQuery{"", std::string(64, 'c'), 50, 0, 50}, kSince), IsEmpty());
}

SharedFile Rooted(std::string path, int64_t size, char hash_digit, char root_digit) {
  SharedFile f = File(std::move(path), size, hash_digit);
  f.chunk_root = std::string(64, root_digit);
  return f;
}

// "peer|size|root-first-char" per source ('-' for no root).
std::vector<std::string> Describe(const std::vector<dirapi::ContentSource>& sources) {
  std::vector<std::string> out;
  for (const auto& s : sources) {
    out.push_back(s.peer.peer_id + "|" + std::to_string(s.size) + "|" +
                  (s.chunk_root.empty() ? "-" : s.chunk_root.substr(0, 1)));
  }
  return out;
}

TEST_P(DirectoryStoreTest, SourcesAreTheOnlinePeersOfAContentWithTheirRoots) {
  ASSERT_TRUE(store_->AddPeer(Peer("p3", {Rooted("a/film.mkv", 100, 'a', 'c')}), kNow).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("p1", {File("film.mkv", 100, 'a')}), kNow).ok());
  // Twice on one peer, once with a root: the peer counts once, with it.
  ASSERT_TRUE(
      store_
          ->AddPeer(Peer("p2", {File("x/copy.mkv", 100, 'a'), Rooted("y/film.mkv", 100, 'a', 'd')}),
                    kNow)
          .ok());
  ASSERT_TRUE(store_->AddPeer(Peer("p4", {Rooted("film.mkv", 100, 'b', 'e')}), kNow).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("p5", {File("film.mkv", 100, 'a')}), kNow - 60'000).ok());

  auto sources = store_->Sources(std::string(64, 'a'), kSince, 50);
  ASSERT_TRUE(sources.ok()) << sources.status().ToString();
  EXPECT_THAT(Describe(*sources), ElementsAre("p1|100|-", "p2|100|d", "p3|100|c"));
  EXPECT_EQ((*sources)[2].peer.address, "10.0.0.1:2");
  EXPECT_EQ((*sources)[2].peer.cert_sha256, "cert-p3");
  EXPECT_THAT(Describe(*store_->Sources(std::string(64, 'a'), kSince, 2)),
              ElementsAre("p1|100|-", "p2|100|d"));
  EXPECT_THAT(*store_->Sources(std::string(64, 'f'), kSince, 50), IsEmpty());

  // Files keep their root, and an update replaces it.
  auto files = store_->PeerFiles("p3", kSince, 10, 0);
  ASSERT_TRUE(files.ok() && files->has_value());
  ASSERT_EQ((*files)->size(), 1u);
  EXPECT_EQ((**files)[0].chunk_root, std::string(64, 'c'));
  PeerUpdate update;
  update.peer_id = "p3";
  update.added = {Rooted("a/film.mkv", 100, 'a', '9')};
  ASSERT_TRUE(store_->UpdatePeer(update, kNow).ok());
  EXPECT_THAT(Describe(*store_->Sources(std::string(64, 'a'), kSince, 50)),
              ElementsAre("p1|100|-", "p2|100|d", "p3|100|9"));
}

// A database made before files had a chunk_root opens, gains the column and
// keeps its files (without a root).
TEST_P(DirectoryStoreTest, ADatabaseWithoutChunkRootsIsUpgraded) {
  ASSERT_TRUE(store_->AddPeer(Peer("p1", {File("old.txt", 1, 'a')}), kNow).ok());
  store_.reset();
  if (GetParam() == Backend::kSqlite) {
    auto db = Db::Open(dir_ + "/directory.db");
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("ALTER TABLE files DROP COLUMN chunk_root").ok());
  } else {
    pqxx::connection admin(cluster_->url());
    pqxx::work tx(admin);
    tx.exec0("ALTER TABLE files DROP COLUMN chunk_root");
    tx.commit();
  }
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_THAT(Describe(*store_->Sources(std::string(64, 'a'), kSince, 50)), ElementsAre("p1|1|-"));
  ASSERT_TRUE(store_->AddPeer(Peer("p2", {Rooted("new.txt", 1, 'a', 'b')}), kNow).ok());
  EXPECT_THAT(Describe(*store_->Sources(std::string(64, 'a'), kSince, 50)),
              ElementsAre("p1|1|-", "p2|1|b"));
}

TEST_P(DirectoryStoreTest, SearchGroupsOneFileAcrossPeers) {
  ASSERT_TRUE(store_->AddPeer(Peer("p3", {File("a/film.mkv", 100, 'a')}), kNow).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("p1", {File("film.mkv", 100, 'a')}), kNow).ok());
  // The same file twice on one peer still lists that peer once.
  ASSERT_TRUE(
      store_
          ->AddPeer(Peer("p2", {File("x/film.mkv", 100, 'a'), File("y/film.mkv", 100, 'a')}), kNow)
          .ok());
  ASSERT_TRUE(store_->AddPeer(Peer("p4", {File("film.mkv", 100, 'b')}), kNow).ok());  // other sha
  ASSERT_TRUE(store_->AddPeer(Peer("p5", {File("film.mkv", 99, 'a')}), kNow).ok());   // other size
  ASSERT_TRUE(store_->AddPeer(Peer("p6", {File("Film.mkv", 100, 'a')}), kNow).ok());  // other name
  // In the order each hit was first indexed; peers by peer_id.
  EXPECT_THAT(SearchText("film"), ElementsAre("film.mkv|100|a|p1,p2,p3", "film.mkv|100|b|p4",
                                              "film.mkv|99|a|p5", "Film.mkv|100|a|p6"));
}

TEST_P(DirectoryStoreTest, HitsComeInTheOrderTheyWereFirstIndexed) {
  ASSERT_TRUE(
      store_->AddPeer(Peer("p9", {File("zeta.log", 1, 'a'), File("alpha.log", 2, 'b')}), kNow)
          .ok());
  ASSERT_TRUE(
      store_->AddPeer(Peer("p1", {File("mid.log", 3, 'c'), File("alpha.log", 2, 'b')}), kNow).ok());
  // A later copy on an earlier peer id does not move the hit.
  EXPECT_THAT(SearchText(".log"),
              ElementsAre("zeta.log|1|a|p9", "alpha.log|2|b|p1,p9", "mid.log|3|c|p1"));
  // Once its first peer goes offline a hit ranks by its first online copy.
  ASSERT_TRUE(store_->RecordHeartbeats({{"p1", kNow + 40'000}}).ok());
  EXPECT_THAT(SearchText(".log", 50, 0, 50, kNow + 20'000),
              ElementsAre("mid.log|3|c|p1", "alpha.log|2|b|p1"));
  auto by_hash = store_->Search(SearchQuery{"", std::string(64, 'b'), 50, 0, 50}, kSince);
  ASSERT_TRUE(by_hash.ok()) << by_hash.status().ToString();
  EXPECT_THAT(Describe(*by_hash), ElementsAre("alpha.log|2|b|p1,p9"));
}

// More hits than one internal batch, with a run of copies of the first hit
// ahead of the others and copies mixed in later: every page holds the next
// hits in first-indexed order, and together the pages hold each hit once.
TEST_P(DirectoryStoreTest, PagingOverManyHitsAndCopiesYieldsEachHitOnce) {
  std::vector<SharedFile> copies;
  for (int i = 0; i < 300; ++i)
    copies.push_back(File("c" + std::to_string(i) + "/same.bin", 1, 'a'));
  ASSERT_TRUE(store_->AddPeer(Peer("pa", copies), kNow).ok());
  std::vector<SharedFile> mixed;
  std::vector<std::string> expected = {"same.bin|1|a|pa,pb"};
  for (int i = 0; i < 150; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "f%03d.bin", i);
    mixed.push_back(File(name, 10 + i, 'b'));
    mixed.push_back(File("again/" + std::to_string(i) + "/" + name, 10 + i, 'b'));
    mixed.push_back(File("copy" + std::to_string(i) + "/same.bin", 1, 'a'));
    if (i % 10 == 0) mixed.push_back(File("q" + std::to_string(i) + "/same.bin", 1, 'a'));
    expected.push_back(std::string(name) + "|" + std::to_string(10 + i) + "|b|pb");
  }
  ASSERT_TRUE(store_->AddPeer(Peer("pb", mixed), kNow).ok());

  EXPECT_EQ(SearchText(".bin", 1000), expected);
  for (int limit : {1, 7, 50}) {
    std::vector<std::string> all;
    for (int offset = 0; offset < 200; offset += limit) {
      auto page = SearchText(".bin", limit, offset);
      ASSERT_LE(page.size(), static_cast<size_t>(limit));
      if (offset + limit <= 151) {
        ASSERT_EQ(page.size(), static_cast<size_t>(limit)) << offset;
      }
      all.insert(all.end(), page.begin(), page.end());
    }
    EXPECT_EQ(all, expected) << "limit " << limit;
  }
  EXPECT_THAT(SearchText(".bin", 5, 151), IsEmpty());
  EXPECT_THAT(SearchText("f149", 5, 0), ElementsAre("f149.bin|159|b|pb"));
  auto by_hash = store_->Search(SearchQuery{"", std::string(64, 'b'), 3, 100, 1}, kSince);
  ASSERT_TRUE(by_hash.ok()) << by_hash.status().ToString();
  EXPECT_THAT(Describe(*by_hash),
              ElementsAre("f100.bin|110|b|pb", "f101.bin|111|b|pb", "f102.bin|112|b|pb"));
  auto same = store_->Search(SearchQuery{"", std::string(64, 'a'), 3, 0, 1}, kSince);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_THAT(Describe(*same), ElementsAre("same.bin|1|a|pa"));
}

TEST_P(DirectoryStoreTest, LimitAndOffsetCountHitsAndPeersPerHitAreCapped) {
  for (const char* id : {"p5", "p3", "p1", "p4", "p2"}) {
    ASSERT_TRUE(store_
                    ->AddPeer(Peer(id, {File("n1.dat", 1, 'a'), File("n2.dat", 2, 'b'),
                                        File("n3.dat", 3, 'c'), File("n4.dat", 4, 'd')}),
                              kNow)
                    .ok());
  }
  EXPECT_THAT(SearchText(".dat", 2, 1),
              ElementsAre("n2.dat|2|b|p1,p2,p3,p4,p5", "n3.dat|3|c|p1,p2,p3,p4,p5"));
  EXPECT_THAT(SearchText(".dat", 3, 2, 2), ElementsAre("n3.dat|3|c|p1,p2", "n4.dat|4|d|p1,p2"));
  EXPECT_THAT(SearchText(".dat", 10, 4), IsEmpty());
  // An offline peer neither takes a slot nor shows.
  ASSERT_TRUE(store_->RecordHeartbeats({{"p2", kNow + 40'000}}).ok());
  EXPECT_THAT(SearchText("n1", 10, 0, 3, kNow + 20'000), ElementsAre("n1.dat|1|a|p2"));
}

// A hit's peers carry their current address and certificate, however often
// the same peers were named before.
TEST_P(DirectoryStoreTest, HitsNameEachPeersCurrentAddress) {
  ASSERT_TRUE(store_->AddPeer(Peer("p1", {File("tune.ogg", 3, 'a')}), kNow).ok());
  auto address = [&]() -> std::string {
    auto hits = store_->Search(SearchQuery{"tune", "", 50, 0, 50}, kSince);
    if (!hits.ok()) return hits.status().ToString();
    if (hits->empty()) return "none";
    return hits->at(0).peers.at(0).address + " " + hits->at(0).peers.at(0).cert_sha256;
  };
  EXPECT_EQ(address(), "10.0.0.1:2 cert-p1");
  EXPECT_EQ(address(), "10.0.0.1:2 cert-p1");
  PeerUpdate update;
  update.peer_id = "p1";
  update.address = "10.0.0.2:22";
  ASSERT_TRUE(store_->UpdatePeer(update, kNow).ok());
  EXPECT_EQ(address(), "10.0.0.2:22 cert-p1");
  update.address.reset();
  update.cert_sha256 = "cert-2";
  ASSERT_TRUE(store_->UpdatePeer(update, kNow).ok());
  EXPECT_EQ(address(), "10.0.0.2:22 cert-2");
  // The same id removed and announced again elsewhere.
  ASSERT_TRUE(store_->RemovePeer("p1").ok());
  EXPECT_EQ(address(), "none");
  NewPeer again = Peer("p1", {File("tune.ogg", 3, 'a')});
  again.address = "10.0.0.3:33";
  ASSERT_TRUE(store_->AddPeer(again, kNow).ok());
  EXPECT_EQ(address(), "10.0.0.3:33 cert-p1");
}

// Many offline peers ahead of the online ones (in peer_id order) on one file:
// still the first online ones, up to the cap.
TEST_P(DirectoryStoreTest, OfflinePeersDoNotCrowdOutOnlineOnes) {
  for (int i = 0; i < 40; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "p%02d", i);
    ASSERT_TRUE(
        store_->AddPeer(Peer(id, {File("crowd.iso", 7, 'a')}), i < 30 ? kSince - 1 : kNow).ok());
  }
  EXPECT_THAT(SearchText("crowd", 10, 0, 3), ElementsAre("crowd.iso|7|a|p30,p31,p32"));
  EXPECT_THAT(SearchText("crowd", 10, 0, 50),
              ElementsAre("crowd.iso|7|a|p30,p31,p32,p33,p34,p35,p36,p37,p38,p39"));
}

TEST_P(DirectoryStoreTest, RemovePeerAndRemoveExpired) {
  ASSERT_TRUE(store_->AddSession("old", "alice", kNow - 1).ok());
  ASSERT_TRUE(store_->AddTicket("spent", {"bob", "stays", kNow}).ok());
  ASSERT_TRUE(store_->AddTicket("fresh", {"bob", "stays", kNow + 1}).ok());
  ASSERT_TRUE(store_->AddSession("live", "alice", kNow + 60'000).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("gone1", {File("a", 1, 'a')}, "live"), kSince - 5).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("gone2", {File("a", 1, 'a')}, "live"), kSince - 1).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("stays", {File("a", 1, 'a')}, "old"), kSince).ok());
  ASSERT_TRUE(store_->AddPeer(Peer("removed", {File("a", 1, 'a')}, "live"), kNow).ok());
  ASSERT_TRUE(store_->RemovePeer("removed").ok());
  EXPECT_TRUE(store_->RemovePeer("removed").ok());
  EXPECT_FALSE(store_->FindPeer("removed")->has_value());

  auto removed = store_->RemoveExpired(kSince, kNow);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 2);
  EXPECT_FALSE(store_->FindPeer("gone1")->has_value());
  EXPECT_FALSE(store_->FindPeer("gone2")->has_value());
  EXPECT_TRUE(store_->FindPeer("stays")->has_value());
  // Deleted, not just hidden: even an earlier `now` does not find it.
  EXPECT_FALSE(store_->FindSession("old", kNow - 100)->has_value());
  EXPECT_TRUE(store_->FindSession("live", kNow)->has_value());
  EXPECT_FALSE(store_->FindTicket("spent", kNow - 100)->has_value());
  EXPECT_TRUE(store_->FindTicket("fresh", kNow)->has_value());
  EXPECT_THAT(Online(*store_, 0), ElementsAre("stays"));
  EXPECT_EQ(*store_->RemoveExpired(kSince, kNow), 0);
  EXPECT_THAT(SearchText("a", 50, 0, 50, 0), ElementsAre("a|1|a|stays"));
}

TEST_P(DirectoryStoreTest, PingAndCounts) {
  EXPECT_TRUE(store_->Ping().ok());
  auto empty = store_->Counts(kSince);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->online_peers, 0);
  EXPECT_EQ(empty->indexed_files, 0);
  EXPECT_EQ(empty->accounts, 0);
}

// How fast is the benchmark's business (bench/directory_bench.sh); this is
// that a large announce goes in whole and is searchable.
TEST_P(DirectoryStoreTest, AnnounceOfManyFilesIsIndexedWhole) {
  std::vector<SharedFile> files;
  for (int i = 0; i < 2000; ++i) files.push_back(File("dir/file" + std::to_string(i), i, 'a'));
  ASSERT_TRUE(store_->AddPeer(Peer("p1", files), kNow).ok());
  EXPECT_EQ(store_->Counts(kSince)->indexed_files, 2000);
  EXPECT_THAT(SearchText("file1999"), ElementsAre("file1999|1999|a|p1"));
}

TEST_P(DirectoryStoreTest, ConcurrentAnnouncesAndSearches) {
  constexpr int kThreads = 8, kPeersPerThread = 10, kFiles = 30;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPeersPerThread; ++i) {
        std::string id = "t" + std::to_string(t) + "p" + std::to_string(i);
        std::vector<SharedFile> files = {File("common.iso", 700, 'c')};
        for (int f = 1; f < kFiles; ++f)
          files.push_back(File(id + "-" + std::to_string(f), f, 'd'));
        if (!store_->AddPeer(Peer(id, files, "s" + std::to_string(t)), kNow).ok()) ++failures;
        if (!store_->RecordHeartbeats({{id, kNow + 1}}).ok()) ++failures;
        PeerUpdate update;
        update.peer_id = id;
        update.added = {File(id + "-extra", 1, 'e')};
        if (!store_->UpdatePeer(update, kNow + 2).ok()) ++failures;
        auto hits = store_->Search(SearchQuery{"common", "", 10, 0, 5}, kSince);
        if (!hits.ok() || hits->size() != 1 || (*hits)[0].peers.empty()) ++failures;
        if (!store_->Counts(kSince).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto counts = store_->Counts(kSince);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->online_peers, kThreads * kPeersPerThread);
  EXPECT_EQ(counts->indexed_files, kThreads * kPeersPerThread * (kFiles + 1));
  auto hits = store_->Search(SearchQuery{"common.iso", "", 10, 0, 1000}, kSince);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].peers.size(), static_cast<size_t>(kThreads * kPeersPerThread));
  EXPECT_EQ((*hits)[0].peers.front().peer_id, "t0p0");
  EXPECT_EQ((*hits)[0].peers.back().peer_id, "t7p9");
}

TEST_P(DirectoryStoreTest, TwoStoresOverOneDatabaseSeeEachOther) {
  auto other = Open();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(store_->AddAccount("alice", "h", kNow).ok());
  EXPECT_EQ(other->AddAccount("alice", "h2", kNow).code(), Code::kAlreadyExists);
  ASSERT_TRUE(store_->AddSession("s1", "alice", kNow + 60'000).ok());
  EXPECT_TRUE(other->FindSession("s1", kNow)->has_value());
  ASSERT_TRUE(store_->AddPeer(Peer("p1", {File("shared.txt", 1, 'a')}), kNow - 25'000).ok());
  auto hits = other->Search(SearchQuery{"shared", "", 10, 0, 10}, kSince);
  // The other instance's name index hears of the new row by NOTIFY, a moment
  // after the commit.
  for (int i = 0; GetParam() == Backend::kPostgresIndexed && i < 100 && hits.ok() && hits->empty();
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    hits = other->Search(SearchQuery{"shared", "", 10, 0, 10}, kSince);
  }
  ASSERT_TRUE(hits.ok());
  EXPECT_THAT(Describe(*hits), ElementsAre("shared.txt|1|a|p1"));
  // A heartbeat through either instance keeps the peer alive for both.
  ASSERT_TRUE(other->RecordHeartbeats({{"p1", kNow + 20'000}}).ok());
  EXPECT_THAT(Online(*store_, kNow), ElementsAre("p1"));
  ASSERT_TRUE(other->RemoveSession("s1").ok());
  EXPECT_THAT(Online(*store_, 0), IsEmpty());
}

TEST_P(DirectoryStoreTest, CompactingIndexesChangesNoAnswer) {
  // One announce per peer, so SQLite's name index gets one segment each.
  for (int i = 0; i < 40; ++i) {
    std::string id = "p" + std::to_string(100 + i);
    ASSERT_TRUE(store_
                    ->AddPeer(Peer(id, {File("disc" + std::to_string(i % 7) + ".iso", i % 7, 'a'),
                                        File(id + "-notes.txt", i, 'b')}),
                              kNow)
                    .ok());
  }
  ASSERT_TRUE(store_->RemovePeer("p105").ok());
  PeerUpdate update;
  update.peer_id = "p110";
  update.removed = {"p110-notes.txt"};
  ASSERT_TRUE(store_->UpdatePeer(update, kNow).ok());
  const auto discs = SearchText("DISC", 50, 0, 3);
  const auto notes = SearchText("notes", 100);
  ASSERT_EQ(discs.size(), 7u);
  ASSERT_EQ(notes.size(), 38u);
  // A zero budget still makes one step; until none is left, and once more.
  int steps = 0;
  for (bool pending = true; pending; ++steps) {
    ASSERT_LT(steps, 1000);
    auto left = store_->CompactIndexes(std::chrono::milliseconds(0));
    ASSERT_TRUE(left.ok()) << left.status().ToString();
    pending = *left;
  }
  auto again = store_->CompactIndexes(std::chrono::milliseconds(100));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(SearchText("DISC", 50, 0, 3), discs);
  EXPECT_EQ(SearchText("notes", 100), notes);
  EXPECT_THAT(SearchText("p110-notes"), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Stores, DirectoryStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres,
                                           Backend::kPostgresIndexed),
                         [](const ::testing::TestParamInfo<Backend>& param) {
                           switch (param.param) {
                             case Backend::kSqlite:
                               return "Sqlite";
                             case Backend::kPostgres:
                               return "Postgres";
                             case Backend::kPostgresIndexed:
                               break;
                           }
                           return "PostgresIndexed";
                         });

// ---- SQLite only -------------------------------------------------------------

// Searches read every segment of the FTS5 name index, and each write adds one:
// CompactIndexes merges them, a bounded step at a time.
TEST(SqliteDirectoryStoreTest, CompactingMergesTheNameIndexIntoOneSegment) {
  char tmpl[] = "/tmp/ferry-directory-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/directory.db";
  auto store = OpenSqliteDirectoryStore(path, 1);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int i = 0; i < 40; ++i) {
    std::vector<SharedFile> files;
    for (int f = 0; f < 50; ++f) {
      files.push_back(File("dir/track-" + std::to_string(i) + "-" + std::to_string(f), f, 'a'));
    }
    ASSERT_TRUE((*store)->AddPeer(Peer("p" + std::to_string(i), files), kNow).ok());
  }
  auto segments = [&] {
    auto db = Db::Open(path);
    EXPECT_TRUE(db.ok());
    auto stmt = db->Prepare("SELECT count(DISTINCT segid) FROM files_names_idx");
    EXPECT_TRUE(stmt.ok() && stmt->Step().ok());
    return stmt->Int(0);
  };
  // While files keep being written it leaves the segments alone (merging
  // them into one then would rewrite the index again and again).
  for (int i = 40; i < 43; ++i) {
    auto left = (*store)->CompactIndexes(std::chrono::milliseconds(100));
    ASSERT_TRUE(left.ok());
    EXPECT_TRUE(*left);
    ASSERT_TRUE(
        (*store)->AddPeer(Peer("p" + std::to_string(i), {File("late.txt", i, 'b')}), kNow).ok());
  }
  const int64_t before = segments();
  EXPECT_GT(before, 1);
  // Once they stop, step by step (a zero budget is one step), it merges and
  // says when it is done.
  int steps = 0;
  for (bool pending = true; pending; ++steps) {
    ASSERT_LT(steps, 1000);
    auto left = (*store)->CompactIndexes(std::chrono::milliseconds(0));
    ASSERT_TRUE(left.ok()) << left.status().ToString();
    pending = *left;
  }
  EXPECT_GT(steps, 1);
  EXPECT_EQ(segments(), 1) << "from " << before << " in " << steps << " steps";
  auto hits = (*store)->Search(SearchQuery{"TRACK-39-4", "", 50, 0, 50}, kSince);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(Describe(*hits),
            (std::vector<std::string>{
                "track-39-4|4|a|p39", "track-39-40|40|a|p39", "track-39-41|41|a|p39",
                "track-39-42|42|a|p39", "track-39-43|43|a|p39", "track-39-44|44|a|p39",
                "track-39-45|45|a|p39", "track-39-46|46|a|p39", "track-39-47|47|a|p39",
                "track-39-48|48|a|p39", "track-39-49|49|a|p39"}));
  store->reset();
  std::filesystem::remove_all(tmpl);
}

// ---- PostgreSQL only ---------------------------------------------------------

TEST(PostgresDirectoryStoreTest, UnreachableServerIsUnavailableWithoutThePassword) {
  int port = testing::pg_internal::FreeLoopbackPort();  // nothing listens there
  auto store = OpenPostgresDirectoryStore(
      "postgresql://ferry:s3cret-pw@127.0.0.1:" + std::to_string(port) + "/ferry", 2);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kUnavailable);
  EXPECT_THAT(store.status().message(),
              ::testing::StartsWith("cannot reach the directory database at 127.0.0.1:" +
                                    std::to_string(port) + ": "));
  EXPECT_THAT(store.status().message(), ::testing::Not(::testing::HasSubstr("s3cret")));
}

TEST(PostgresDirectoryStoreTest, ServerGoneIsUnavailable) {
  auto cluster = PostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  const int port = (*cluster)->port();
  auto store = OpenPostgresDirectoryStore((*cluster)->url(), 2);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Ping().ok());
  cluster->reset();  // stops the server under the pooled connection
  Status s = (*store)->Ping();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_THAT(s.message(), ::testing::StartsWith("cannot reach the directory database at "
                                                 "127.0.0.1:" +
                                                 std::to_string(port)));
  EXPECT_EQ((*store)->AddAccount("a", "h", kNow).code(), Code::kUnavailable);
}

TEST(PostgresDirectoryStoreTest, InstancesStartingAtOnceBothCreateTheSchema) {
  auto cluster = PostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  std::vector<Status> results(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      auto store = OpenPostgresDirectoryStore((*cluster)->url(), 1);
      results[i] = store.ok() ? (*store)->Ping() : store.status();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(PostgresDirectoryStoreTest, AnnounceIsOneTransaction) {
  auto cluster = PostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto store = OpenPostgresDirectoryStore((*cluster)->url(), 2);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  // PostgreSQL cannot store a NUL byte: the whole announce fails, peer included.
  Status s = (*store)->AddPeer(
      Peer("p1", {File("ok.txt", 1, 'a'), File(std::string("b\0d", 3), 1, 'b')}), kNow);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_FALSE((*store)->FindPeer("p1")->has_value());
  EXPECT_EQ((*store)->Counts(0)->indexed_files, 0);
}

TEST(PostgresDirectoryStoreTest, TextSearchUsesTheTrigramIndex) {
  auto cluster = PostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto store = OpenPostgresDirectoryStore((*cluster)->url(), 2);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  // 100 peers x 1000 files = 100k rows.
  for (int p = 0; p < 100; ++p) {
    std::vector<SharedFile> files;
    for (int f = 0; f < 1000; ++f) {
      files.push_back(File("d/track-" + std::to_string(p) + "-" + std::to_string(f) + ".flac", f,
                           'a' + static_cast<char>(f % 6)));
    }
    ASSERT_TRUE((*store)->AddPeer(Peer("peer" + std::to_string(p), files), kNow).ok());
  }
  pqxx::connection c((*cluster)->url());
  pqxx::nontransaction tx(c);
  tx.exec0("ANALYZE");
  std::string plan;
  for (const auto& row :
       tx.exec("EXPLAIN SELECT id FROM files WHERE name_lc LIKE lower('%TRACK-42-99%') AND "
               "id > 0 ORDER BY id LIMIT 91")) {
    plan += row[0].as<std::string>() + "\n";
  }
  EXPECT_THAT(plan, ::testing::HasSubstr("files_name_lc_trgm")) << plan;
  // A common text instead walks the ids in order, inside the index alone.
  tx.exec0("VACUUM files");
  plan.clear();
  for (const auto& row : tx.exec("EXPLAIN SELECT id FROM files WHERE name_lc LIKE "
                                 "lower('%TRACK-%') AND id > 0 ORDER BY id LIMIT 91")) {
    plan += row[0].as<std::string>() + "\n";
  }
  EXPECT_THAT(plan, ::testing::HasSubstr("Index Only Scan using files_id_name")) << plan;
  auto hits = (*store)->Search(SearchQuery{"TRACK-42-999.", "", 50, 0, 50}, kSince);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_THAT(Describe(*hits), ElementsAre("track-42-999.flac|999|d|peer42"));
}

// Loads a store's name index: upkeep until none is left.
void LoadNameIndex(DirectoryStore& store) {
  for (int steps = 0; steps < 100; ++steps) {
    auto pending = store.CompactIndexes(std::chrono::milliseconds(100));
    ASSERT_TRUE(pending.ok()) << pending.status().ToString();
    if (!*pending) return;
  }
  FAIL() << "the name index did not finish loading";
}

int64_t NamesInMemory(DirectoryStore& store) {
  auto counts = store.Counts(0);
  EXPECT_TRUE(counts.ok()) << counts.status().ToString();
  return counts.ok() ? counts->names_in_memory : -1;
}

// Searches until the answer is `want`, for up to 2 s: another instance's rows
// reach the name index by NOTIFY, a moment after their commit.
std::vector<std::string> SearchUntil(DirectoryStore& store, const std::string& text,
                                     const std::vector<std::string>& want) {
  std::vector<std::string> got;
  for (int i = 0; i < 100; ++i) {
    auto hits = store.Search(SearchQuery{text, "", 50, 0, 50}, kSince);
    if (!hits.ok()) return {hits.status().ToString()};
    got = Describe(*hits);
    if (got == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return got;
}

TEST(PostgresDirectoryStoreTest, NameIndexFollowsWritesThroughAnotherInstance) {
  auto cluster = PostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto writer = OpenPostgresDirectoryStore((*cluster)->url(), 2);
  auto reader = OpenPostgresDirectoryStore((*cluster)->url(), 2);
  ASSERT_TRUE(writer.ok() && reader.ok());
  ASSERT_TRUE((*writer)->AddPeer(Peer("p1", {File("Before.txt", 1, 'a')}), kNow).ok());
  EXPECT_EQ(NamesInMemory(**reader), 0);  // not loaded: searches go to the database
  LoadNameIndex(**reader);
  EXPECT_EQ(NamesInMemory(**reader), 1);
  EXPECT_THAT(*(*reader)->Search(SearchQuery{"BEFORE", "", 50, 0, 50}, kSince),
              ::testing::SizeIs(1));

  ASSERT_TRUE(
      (*writer)
          ->AddPeer(Peer("p2", {File("after.txt", 2, 'b'), File("x.museum.y", 3, 'c')}), kNow)
          .ok());
  EXPECT_THAT(SearchUntil(**reader, "AFTER", {"after.txt|2|b|p2"}),
              ElementsAre("after.txt|2|b|p2"));
  EXPECT_EQ(NamesInMemory(**reader), 3);
  // Separators count: "museum.y" is in one name, "museum y" in none.
  EXPECT_THAT(SearchUntil(**reader, "museum.y", {"x.museum.y|3|c|p2"}),
              ElementsAre("x.museum.y|3|c|p2"));
  EXPECT_THAT(*(*reader)->Search(SearchQuery{"museum y", "", 50, 0, 50}, kSince), IsEmpty());

  // Replaced files get new rows. The reader still remembers the old rows its
  // searches read, but the table has no peer for them, so they are no hits;
  // the search after that reads them from the table, and the name index
  // forgets the ones it no longer finds.
  PeerUpdate update;
  update.peer_id = "p2";
  update.replace_files = std::vector<SharedFile>{File("renamed.txt", 2, 'b')};
  ASSERT_TRUE((*writer)->UpdatePeer(update, kNow).ok());
  EXPECT_THAT(SearchUntil(**reader, "renamed", {"renamed.txt|2|b|p2"}),
              ElementsAre("renamed.txt|2|b|p2"));
  for (int round = 0; round < 2; ++round) {
    EXPECT_THAT(*(*reader)->Search(SearchQuery{"after", "", 50, 0, 50}, kSince), IsEmpty());
    EXPECT_THAT(*(*reader)->Search(SearchQuery{"museum", "", 50, 0, 50}, kSince), IsEmpty());
  }
  EXPECT_EQ(NamesInMemory(**reader), 2);  // Before.txt, renamed.txt
  // The writer's own index has its rows at once, without waiting for NOTIFY.
  LoadNameIndex(**writer);
  ASSERT_TRUE((*writer)->AddPeer(Peer("p3", {File("mine.txt", 4, 'd')}), kNow).ok());
  EXPECT_EQ(NamesInMemory(**writer), 3);
  EXPECT_THAT(Describe(*(*writer)->Search(SearchQuery{"mine", "", 50, 0, 50}, kSince)),
              ElementsAre("mine.txt|4|d|p3"));
}

// A search remembers the rows it read; a file removed through another
// instance since then is never answered with the peer that removed it, and
// a copy elsewhere still is.
TEST(PostgresDirectoryStoreTest, RememberedRowsNameOnlyPeersThatStillShareTheFile) {
  auto cluster = PostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto writer = OpenPostgresDirectoryStore((*cluster)->url(), 2);
  auto reader = OpenPostgresDirectoryStore((*cluster)->url(), 2);
  ASSERT_TRUE(writer.ok() && reader.ok());
  ASSERT_TRUE((*writer)
                  ->AddPeer(Peer("p1", {File("tune.ogg", 5, 'e'), File("solo.ogg", 6, 'f')}), kNow)
                  .ok());
  ASSERT_TRUE((*writer)->AddPeer(Peer("p2", {File("tune.ogg", 5, 'e')}), kNow).ok());
  LoadNameIndex(**reader);
  const SearchQuery ogg{"ogg", "", 50, 0, 50};
  EXPECT_THAT(Describe(*(*reader)->Search(ogg, kSince)),
              ElementsAre("tune.ogg|5|e|p1,p2", "solo.ogg|6|f|p1"));

  PeerUpdate update;
  update.peer_id = "p1";
  update.removed = {"tune.ogg", "solo.ogg"};
  ASSERT_TRUE((*writer)->UpdatePeer(update, kNow).ok());
  EXPECT_THAT(Describe(*(*reader)->Search(ogg, kSince)), ElementsAre("tune.ogg|5|e|p2"));
  EXPECT_THAT(Describe(*(*reader)->Search(ogg, kSince)), ElementsAre("tune.ogg|5|e|p2"));
  // Announced again, the file is a new row, found as before.
  update.removed.clear();
  update.added = {File("solo.ogg", 6, 'f')};
  ASSERT_TRUE((*writer)->UpdatePeer(update, kNow).ok());
  EXPECT_THAT(SearchUntil(**reader, "ogg", {"tune.ogg|5|e|p2", "solo.ogg|6|f|p1"}),
              ElementsAre("tune.ogg|5|e|p2", "solo.ogg|6|f|p1"));
}

// A file committed through another instance is found by the very next
// search, before (here: without) its announcement arriving.
TEST(PostgresDirectoryStoreTest, NameIndexFindsNewerRowsBeforeTheirAnnouncement) {
  auto cluster = PostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto writer = OpenPostgresDirectoryStore((*cluster)->url(), 2);
  auto reader = OpenPostgresDirectoryStore((*cluster)->url(), 2);
  ASSERT_TRUE(writer.ok() && reader.ok());
  ASSERT_TRUE((*writer)->AddPeer(Peer("p1", {File("first.txt", 1, 'a')}), kNow).ok());
  LoadNameIndex(**reader);
  ASSERT_EQ(NamesInMemory(**reader), 1);
  {
    // Written as an instance would, minus the NOTIFY.
    pqxx::connection admin((*cluster)->url());
    pqxx::work tx(admin);
    tx.exec_params0(
        "INSERT INTO files (peer_id, path, name, size, sha256, mtime) VALUES ($1, $2, $3, $4, "
        "$5, 0)",
        "p1", "dir/Unannounced.txt", "Unannounced.txt", 5, std::string(64, 'e'));
    tx.commit();
  }
  EXPECT_THAT(Describe(*(*reader)->Search(SearchQuery{"unannounced", "", 50, 0, 50}, kSince)),
              ElementsAre("Unannounced.txt|5|e|p1"));
  EXPECT_EQ(NamesInMemory(**reader), 2);
}

// Each instance keeps the peers its searches name (address, certificate,
// when seen) in memory; a change made through another instance still shows.
TEST(PostgresDirectoryStoreTest, PeerBookFollowsChangesThroughAnotherInstance) {
  auto cluster = PostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto writer = OpenPostgresDirectoryStore((*cluster)->url(), 2);
  auto reader = OpenPostgresDirectoryStore((*cluster)->url(), 2);
  ASSERT_TRUE(writer.ok() && reader.ok());
  ASSERT_TRUE((*writer)->AddPeer(Peer("p1", {File("book.pdf", 1, 'a')}), kNow).ok());
  LoadNameIndex(**reader);
  auto address_of_p1 = [&](int64_t since) -> std::string {
    auto hits = (*reader)->Search(SearchQuery{"book", "", 50, 0, 50}, since);
    if (!hits.ok()) return hits.status().ToString();
    if (hits->empty()) return "offline";
    return hits->at(0).peers.at(0).address + " " + hits->at(0).peers.at(0).cert_sha256;
  };
  EXPECT_EQ(address_of_p1(kSince), "10.0.0.1:2 cert-p1");
  {
    // Changed behind every instance's back (no NOTIFY): the reader answers
    // from memory, without reading the peer again.
    pqxx::connection admin((*cluster)->url());
    pqxx::work tx(admin);
    tx.exec0("UPDATE peers SET address = '10.6.6.6:6' WHERE peer_id = 'p1'");
    tx.commit();
  }
  EXPECT_EQ(address_of_p1(kSince), "10.0.0.1:2 cert-p1");

  // Changed through an instance: the reader hears of it.
  PeerUpdate update;
  update.peer_id = "p1";
  update.address = "10.0.0.9:9";
  update.cert_sha256 = "cert-new";
  ASSERT_TRUE((*writer)->UpdatePeer(update, kNow).ok());
  std::string got;
  for (int i = 0; i < 100; ++i) {
    got = address_of_p1(kSince);
    if (got == "10.0.0.9:9 cert-new") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(got, "10.0.0.9:9 cert-new");

  // Seen through the other instance long after the reader last read it:
  // still online to the reader, and offline once that sighting is old too.
  ASSERT_TRUE((*writer)->RecordHeartbeats({{"p1", kNow + 100'000}}).ok());
  EXPECT_EQ(address_of_p1(kNow + 90'000), "10.0.0.9:9 cert-new");
  EXPECT_EQ(address_of_p1(kNow + 100'001), "offline");

  // Removed, and its id announced again elsewhere with another address.
  ASSERT_TRUE((*writer)->RemovePeer("p1").ok());
  NewPeer again = Peer("p1", {File("book.pdf", 1, 'a')});
  again.address = "10.0.0.7:7";
  ASSERT_TRUE((*writer)->AddPeer(again, kNow + 200'000).ok());
  for (int i = 0; i < 100; ++i) {
    got = address_of_p1(kNow + 100'000);  // the old entry would still count as online
    if (got == "10.0.0.7:7 cert-p1") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(got, "10.0.0.7:7 cert-p1");
}

TEST(PostgresDirectoryStoreTest, NameIndexReloadsAfterItsConnectionBroke) {
  auto cluster = PostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto writer = OpenPostgresDirectoryStore((*cluster)->url(), 2);
  auto reader = OpenPostgresDirectoryStore((*cluster)->url(), 2);
  ASSERT_TRUE(writer.ok() && reader.ok());
  LoadNameIndex(**reader);
  {
    pqxx::connection admin((*cluster)->url());
    pqxx::nontransaction tx(admin);
    auto killed = tx.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'ferry directory name index'");
    ASSERT_EQ(killed.size(), 1u);
    // pg_terminate_backend only signals: wait until the backend has gone.
    for (int i = 0; i < 200; ++i) {
      if (tx.exec1("SELECT count(*) FROM pg_stat_activity "
                   "WHERE application_name = 'ferry directory name index'")[0]
              .as<int>() == 0) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  // Announced while nobody listens for the reader: its index never hears of it.
  ASSERT_TRUE((*writer)->AddPeer(Peer("p1", {File("missed.txt", 1, 'a')}), kNow).ok());
  // The next maintenance pass that reads the closed socket finds it broken
  // (the backend's socket may close a moment after it left pg_stat_activity).
  Status broken = Status::Ok();
  for (int i = 0; i < 100 && broken.ok(); ++i) {
    broken = (*reader)->CompactIndexes(std::chrono::milliseconds(100)).status();
    if (broken.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.code(), Code::kUnavailable) << broken.ToString();
  // Withdrawn: the database answers meanwhile.
  EXPECT_EQ(NamesInMemory(**reader), 0);
  EXPECT_THAT(Describe(*(*reader)->Search(SearchQuery{"missed", "", 50, 0, 50}, kSince)),
              ElementsAre("missed.txt|1|a|p1"));
  LoadNameIndex(**reader);
  EXPECT_EQ(NamesInMemory(**reader), 1);
  EXPECT_THAT(Describe(*(*reader)->Search(SearchQuery{"missed", "", 50, 0, 50}, kSince)),
              ElementsAre("missed.txt|1|a|p1"));
}

// SQLite's in-memory name index follows this process's writes exactly,
// including a row id that SQLite hands out again after the last row went.
TEST(SqliteDirectoryStoreTest, NameIndexFollowsThisProcessesWrites) {
  char tmpl[] = "/tmp/ferry-directory-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  auto store = OpenSqliteDirectoryStore(std::string(tmpl) + "/directory.db", 1);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  DirectoryStore& s = **store;
  auto search = [&](const std::string& text) {
    auto hits = s.Search(SearchQuery{text, "", 50, 0, 50}, kSince);
    EXPECT_TRUE(hits.ok()) << hits.status().ToString();
    return hits.ok() ? Describe(*hits) : std::vector<std::string>{"error"};
  };
  EXPECT_EQ(NamesInMemory(s), 0);
  ASSERT_TRUE(
      s.AddPeer(Peer("p1", {File("Alpha One.txt", 1, 'a'), File("beta.txt", 2, 'b')}), kNow).ok());
  EXPECT_EQ(NamesInMemory(s), 2);
  EXPECT_THAT(search("ALPHA o"), ElementsAre("Alpha One.txt|1|a|p1"));
  PeerUpdate update;
  update.peer_id = "p1";
  update.replace_files = std::vector<SharedFile>{File("gamma.txt", 3, 'c')};
  update.added = {File("delta.txt", 4, 'd')};
  ASSERT_TRUE(s.UpdatePeer(update, kNow).ok());
  EXPECT_EQ(NamesInMemory(s), 2);
  EXPECT_THAT(search("alpha"), IsEmpty());
  EXPECT_THAT(search(".txt"), ElementsAre("gamma.txt|3|c|p1", "delta.txt|4|d|p1"));
  // The last row goes and its id comes back with another name.
  PeerUpdate remove;
  remove.peer_id = "p1";
  remove.removed = {"delta.txt"};
  ASSERT_TRUE(s.UpdatePeer(remove, kNow).ok());
  ASSERT_TRUE(s.AddPeer(Peer("p2", {File("epsilon.txt", 5, 'e')}), kNow).ok());
  EXPECT_THAT(search("delta"), IsEmpty());
  EXPECT_THAT(search("epsilon"), ElementsAre("epsilon.txt|5|e|p2"));
  ASSERT_TRUE(s.RemovePeer("p1").ok());
  EXPECT_THAT(search(".txt"), ElementsAre("epsilon.txt|5|e|p2"));
  EXPECT_EQ(NamesInMemory(s), 1);
  store->reset();
  std::filesystem::remove_all(tmpl);
}

// Another process writing the same file: its rows are not in this process's
// name index, so the index is set aside (the database answers) until upkeep
// reloads it.
TEST(SqliteDirectoryStoreTest, AnotherProcessesWriteSetsTheNameIndexAsideUntilReloaded) {
  char tmpl[] = "/tmp/ferry-directory-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/directory.db";
  auto mine = OpenSqliteDirectoryStore(path, 1);
  auto theirs = OpenSqliteDirectoryStore(path, 1);
  ASSERT_TRUE(mine.ok() && theirs.ok());
  ASSERT_TRUE((*mine)->AddPeer(Peer("p1", {File("mine.txt", 1, 'a')}), kNow).ok());
  ASSERT_TRUE((*theirs)->AddPeer(Peer("p2", {File("theirs.txt", 2, 'b')}), kNow).ok());
  EXPECT_EQ(NamesInMemory(**mine), 1);
  EXPECT_THAT(Describe(*(*mine)->Search(SearchQuery{"theirs", "", 50, 0, 50}, kSince)),
              ElementsAre("theirs.txt|2|b|p2"));
  EXPECT_EQ(NamesInMemory(**mine), 0);  // set aside
  auto pending = (*mine)->CompactIndexes(std::chrono::milliseconds(100));
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  EXPECT_EQ(NamesInMemory(**mine), 2);
  EXPECT_THAT(Describe(*(*mine)->Search(SearchQuery{".txt", "", 50, 0, 50}, kSince)),
              ElementsAre("mine.txt|1|a|p1", "theirs.txt|2|b|p2"));
  // Peers' addresses, kept in memory like the names, are read again too.
  PeerUpdate update;
  update.peer_id = "p1";
  update.address = "10.0.0.5:55";
  ASSERT_TRUE((*theirs)->UpdatePeer(update, kNow).ok());
  pending = (*mine)->CompactIndexes(std::chrono::milliseconds(100));
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  ASSERT_EQ(NamesInMemory(**mine), 2);  // the search below uses the index
  auto hits = (*mine)->Search(SearchQuery{"mine", "", 50, 0, 50}, kSince);
  ASSERT_TRUE(hits.ok() && hits->size() == 1) << hits.status().ToString();
  EXPECT_EQ(hits->at(0).peers.at(0).address, "10.0.0.5:55");
  mine->reset();
  theirs->reset();
  std::filesystem::remove_all(tmpl);
}

// The helper itself: CI runs as root, where initdb and postgres refuse to run
// unless handed to the postgres user.
TEST(PostgresClusterTest, StartsServesAndCleansUp) {
  std::filesystem::path data;
  std::string url;
  {
    auto cluster = PostgresCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    data = (*cluster)->data_dir();
    url = (*cluster)->url();
    EXPECT_THAT(url, ::testing::MatchesRegex("postgresql://ferry@127\\.0\\.0\\.1:[0-9]+/ferry"));
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    EXPECT_EQ(tx.exec1("SELECT current_user")[0].as<std::string>(), "ferry");
    EXPECT_EQ(tx.exec1("SELECT current_database()")[0].as<std::string>(), "ferry");
    EXPECT_EQ(tx.exec1("SHOW fsync")[0].as<std::string>(), "off");
    struct stat st {};
    ASSERT_EQ(::stat(data.c_str(), &st), 0);
    if (::geteuid() == 0) {
      EXPECT_NE(st.st_uid, 0u) << "the server must not run as root";
    } else {
      EXPECT_EQ(st.st_uid, ::geteuid());
    }
  }
  EXPECT_FALSE(std::filesystem::exists(data));
  EXPECT_THROW(pqxx::connection{url}, pqxx::broken_connection);
}

}  // namespace
}  // namespace ferry
