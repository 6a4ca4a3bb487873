#include "directory/directory_http.h"

#include <httplib.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "core/secrets.h"
#include "directory/sqlite_directory_store.h"

namespace ferry {
namespace {

class DirectoryHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto().ok());
    char pattern[] = "/tmp/ferry-dirhttp-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    auto store = OpenSqliteDirectoryStore(dir_ + "/directory.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    service_ = std::make_unique<DirectoryService>(std::move(store).value(), DirectoryOptions{});
  }
  void TearDown() override {
    service_.reset();
    std::filesystem::remove_all(dir_);
  }

  static httplib::Request Request(const std::string& method, const std::string& path) {
    httplib::Request req;
    req.method = method;
    req.path = path;
    return req;
  }

  std::string dir_;
  std::unique_ptr<DirectoryService> service_;
};

TEST_F(DirectoryHttpTest, OnlyReadsOfAStoreInThisProcessRunOnTheEventLoops) {
  DirectoryHttpOptions in_process;
  in_process.store_in_process = true;
  auto sqlite = DirectoryHttpServer::Unbound(service_.get(), in_process);
  auto server = DirectoryHttpServer::Unbound(service_.get());  // a PostgreSQL store's
  const std::string peer = "/api/v1/peers/" + std::string(32, 'a');

  for (const auto& [method, path] : {std::pair{"GET", "/api/v1/search"},
                                     {"HEAD", "/api/v1/search"},
                                     {"POST", "/api/v1/heartbeat"},
                                     {"GET", "/api/v1/verify"},
                                     {"GET", "/api/v1/peers"},
                                     {"GET", "/healthz"},
                                     {"GET", "/metrics"}}) {
    EXPECT_TRUE(sqlite->AnswersWithoutWaiting(Request(method, path))) << method << " " << path;
    EXPECT_FALSE(server->AnswersWithoutWaiting(Request(method, path))) << method << " " << path;
  }
  EXPECT_TRUE(sqlite->AnswersWithoutWaiting(Request("GET", peer + "/files")));
  EXPECT_FALSE(server->AnswersWithoutWaiting(Request("GET", peer + "/files")));

  // Password hashing and writes may wait, whatever the store.
  for (const auto& [method, path] : {std::pair{"POST", "/api/v1/register"},
                                     {"POST", "/api/v1/login"},
                                     {"POST", "/api/v1/logout"},
                                     {"POST", "/api/v1/announce"},
                                     {"DELETE", peer.c_str()}}) {
    EXPECT_FALSE(sqlite->AnswersWithoutWaiting(Request(method, path))) << method << " " << path;
    EXPECT_FALSE(server->AnswersWithoutWaiting(Request(method, path))) << method << " " << path;
  }
  // An unknown route is a 404 whatever the store.
  EXPECT_TRUE(server->AnswersWithoutWaiting(Request("GET", "/nowhere")));
}

}  // namespace
}  // namespace ferry
