// Hostile input to a real `ferry directory` with its default settings, from
// anyone on loopback: each test sends what an attack from issue 17 sends
// (bounded in count and time), checks that it is refused with the right
// status while the directory's resident memory stays bounded, and that a
// legitimate user still registers, logs in, announces and searches after.
//
// A directory whose memory passes a test's kill bound is killed at once (the
// test then fails), so that a directory without these limits cannot take the
// machine's memory.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/directory_harness.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr size_t kMiB = 1 << 20;

// Samples a process's resident memory every 10 ms until destroyed, keeping
// the peak, and kills the process with SIGKILL if it passes `kill_above`.
class RssWatch {
 public:
  RssWatch(pid_t pid, size_t kill_above) : pid_(pid), kill_above_(kill_above) {
    thread_ = std::thread([this] {
      while (!done_) {
        size_t rss = ResidentBytes(pid_);
        peak_ = std::max(peak_.load(), rss);
        if (rss > kill_above_) {
          ::kill(pid_, SIGKILL);
          killed_ = true;
          return;
        }
        std::this_thread::sleep_for(10ms);
      }
    });
  }
  ~RssWatch() { Finish(); }
  RssWatch(const RssWatch&) = delete;
  RssWatch& operator=(const RssWatch&) = delete;

  // Stops watching; the peak seen.
  size_t Finish() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
    return peak_;
  }
  bool killed() const { return killed_; }

 private:
  const pid_t pid_;
  const size_t kill_above_;
  std::atomic<bool> done_{false};
  std::atomic<bool> killed_{false};
  std::atomic<size_t> peak_{0};
  std::thread thread_;
};

struct RawReply {
  int status = 0;                              // 0: no reply
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  // The reply said Connection: close, and the server closed the connection.
  bool closed = false;
};

// Status and headers from a reply's head (without the blank line).
void ParseHead(std::string_view lines, RawReply* reply) {
  if (lines.starts_with("HTTP/1.1 ") && lines.size() >= 12) {
    reply->status = std::atoi(std::string(lines.substr(9, 3)).c_str());
  }
  size_t start = lines.find("\r\n");
  while (start != std::string_view::npos) {
    size_t end = lines.find("\r\n", start + 2);
    std::string_view line = lines.substr(start + 2, end - start - 2);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::string value(line.substr(colon + 1));
      value.erase(0, value.find_first_not_of(' '));
      reply->headers[name] = value;
    }
    start = end;
  }
}

// Sends `head` and then `body` over a new connection from `from` (an address
// of the loopback network) and reads one reply. The body goes in 64 KiB
// pieces and stops as soon as a reply comes, as a client that reads while it
// sends would.
RawReply Exchange(int port, const std::string& head, std::string_view body,
                  const std::string& from = "127.0.0.1") {
  RawReply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return reply;
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, from.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(static_cast<uint16_t>(port));
  remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
    close(fd);
    return reply;
  }
  auto readable = [fd] {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
  };
  bool sent = send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size());
  for (size_t at = 0; sent && at < body.size() && !readable();) {
    size_t n = std::min<size_t>(64 << 10, body.size() - at);
    ssize_t wrote = send(fd, body.data() + at, n, MSG_NOSIGNAL);
    if (wrote <= 0) break;
    at += static_cast<size_t>(wrote);
  }
  std::string in;
  size_t header_end = std::string::npos;
  size_t length = 0;
  char buf[16384];
  for (;;) {
    if (header_end != std::string::npos && in.size() >= header_end + 4 + length) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    if (header_end == std::string::npos &&
        (header_end = in.find("\r\n\r\n")) != std::string::npos) {
      ParseHead(std::string_view(in.data(), header_end), &reply);
      length = static_cast<size_t>(std::atoll(reply.headers["content-length"].c_str()));
    }
  }
  if (header_end != std::string::npos) reply.body = in.substr(header_end + 4, length);
  if (reply.headers["connection"] == "close") {
    // End of stream, or a reset for body bytes the server did not read.
    tv = timeval{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t more = recv(fd, buf, sizeof buf, 0);
    reply.closed = more == 0 || (more < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }
  close(fd);
  return reply;
}

std::string Head(const std::string& method, const std::string& path, size_t length,
                 const std::string& token = "", const std::string& extra = "") {
  std::string head = method + " " + path + " HTTP/1.1\r\nHost: directory\r\n";
  if (!token.empty()) head += "Authorization: Bearer " + token + "\r\n";
  head += "Content-Type: application/json\r\nContent-Length: " + std::to_string(length) + "\r\n";
  return head + extra + "\r\n";
}

// One JSON request as a person's client sends it, from `from`.
RawReply JsonCall(int port, const std::string& method, const std::string& path,
                  const std::string& body, const std::string& token = "",
                  const std::string& from = "127.0.0.1") {
  return Exchange(port, Head(method, path, body.size(), token, "Connection: close\r\n"), body,
                  from);
}

std::string Credentials(const std::string& user) {
  return json{{"username", user}, {"password", user + "-password"}}.dump();
}

std::string AnnounceBody(const std::string& path) {
  json file{{"path", path}, {"size", 5}, {"sha256", std::string(64, '1')}, {"mtime", 1700000000}};
  return json{{"address", "127.0.0.1:9000"},
              {"cert_sha256", std::string(64, 'e')},
              {"files", json::array({file})}}
      .dump();
}

// Prints what a test measured, for the record.
void Report(const std::string& what, size_t before, size_t peak, size_t after) {
  std::printf("[ measured ] %s: RSS before %zu MiB, peak %zu MiB, after %zu MiB\n", what.c_str(),
              before >> 20, peak >> 20, after >> 20);
}

class AttackDirectoryE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "ferry-attack-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    directory_.Start(dir_ + "/data", {"--plain-http"});
    port_ = directory_.port();
    // Settle, then take the idle size.
    ASSERT_EQ(JsonCall(port_, "GET", "/healthz", "").status, 200);
    idle_ = ResidentBytes(directory_.child().pid());
    ASSERT_GT(idle_, 0u);
  }
  void TearDown() override {
    directory_.Stop(SIGKILL);
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Registers `user` from `from`, logs in, announces a file named after the
  // user and finds it by search: the token.
  void ExpectALegitimateUserIsServed(const std::string& user, const std::string& from) {
    RawReply reg = JsonCall(port_, "POST", "/api/v1/register", Credentials(user), "", from);
    ASSERT_EQ(reg.status, 201) << reg.body;
    RawReply login = JsonCall(port_, "POST", "/api/v1/login", Credentials(user), "", from);
    ASSERT_EQ(login.status, 200) << login.body;
    std::string token = json::parse(login.body).value("token", "");
    const std::string file = "shared/" + user + "-notes.txt";
    RawReply announce =
        JsonCall(port_, "POST", "/api/v1/announce", AnnounceBody(file), token, from);
    ASSERT_EQ(announce.status, 200) << announce.body;
    RawReply search = JsonCall(port_, "GET", "/api/v1/search?q=" + user, "", token, from);
    ASSERT_EQ(search.status, 200) << search.body;
    EXPECT_NE(search.body.find("\"" + user + "-notes.txt\""), std::string::npos) << search.body;
  }

  // Waits up to `within` for the resident memory to come back below `bound`;
  // the last size read.
  size_t SettledResidentBytes(size_t bound, std::chrono::seconds within) {
    auto deadline = std::chrono::steady_clock::now() + within;
    size_t rss = ResidentBytes(directory_.child().pid());
    while (rss > bound && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);
      rss = ResidentBytes(directory_.child().pid());
    }
    return rss;
  }

  std::string dir_;
  DirectoryProcess directory_;
  int port_ = 0;
  size_t idle_ = 0;
};

// Row 5: 16 MiB of nested '[' to register, 8 at once. Register is small: its
// body is refused on its Content-Length, unread.
TEST_F(AttackDirectoryE2eTest, NestedMegabytesToRegisterAreRefusedUnread) {
  const std::string nested(16 * kMiB, '[');
  RssWatch watch(directory_.child().pid(), idle_ + 1024 * kMiB);
  std::vector<RawReply> replies(8);
  std::vector<std::thread> attackers;
  auto start = std::chrono::steady_clock::now();
  for (auto& reply : replies) {
    attackers.emplace_back(
        [&] { reply = Exchange(port_, Head("POST", "/api/v1/register", nested.size()), nested); });
  }
  for (auto& t : attackers) t.join();
  auto took = std::chrono::steady_clock::now() - start;
  size_t peak = watch.Finish();
  ASSERT_FALSE(watch.killed()) << "the directory passed " << (idle_ >> 20) << " + 1024 MiB";
  for (const auto& reply : replies) {
    EXPECT_EQ(reply.status, 413) << reply.body;
    EXPECT_NE(reply.body.find("larger than 4096 bytes"), std::string::npos) << reply.body;
    EXPECT_TRUE(reply.closed);
  }
  Report("8 x 16 MiB nested to register", idle_, peak, ResidentBytes(directory_.child().pid()));
  EXPECT_LT(took, 5s * kSlowdown);
  if (!kSanitizerBuild) {
    EXPECT_LT(peak, idle_ + 32 * kMiB) << "idle " << (idle_ >> 20) << " MiB";
  }

  // Sent chunked, so that no Content-Length gives it away: refused as it
  // crosses the limit.
  RawReply chunked = Exchange(
      port_, "POST /api/v1/register HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n",
      "1000000\r\n" + nested);
  EXPECT_EQ(chunked.status, 413) << chunked.body;
  EXPECT_TRUE(chunked.closed);

  ExpectALegitimateUserIsServed("alice", "127.0.0.1");
}

// Row 5 for a user with a token, whose announce may be 16 MiB: deep JSON is
// refused at level 33, without building a tree of 16 million levels, and
// the memory the bodies took comes back: at once for 16 MiB bodies (which
// glibc maps on their own), after a trim of the heap for smaller ones.
TEST_F(AttackDirectoryE2eTest, NestedMegabytesInAnAnnounceAreRefusedUnbuilt) {
  ASSERT_EQ(JsonCall(port_, "POST", "/api/v1/register", Credentials("mallory")).status, 201);
  RawReply login = JsonCall(port_, "POST", "/api/v1/login", Credentials("mallory"));
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string token = json::parse(login.body).value("token", "");
  const size_t before = ResidentBytes(directory_.child().pid());

  for (size_t size : {16 * kMiB, 15 * kMiB + kMiB / 2}) {
    const std::string nested(size, '[');
    RssWatch watch(directory_.child().pid(), before + 1024 * kMiB);
    std::vector<RawReply> replies(8);
    std::vector<std::thread> attackers;
    auto start = std::chrono::steady_clock::now();
    for (auto& reply : replies) {
      attackers.emplace_back([&] {
        reply = Exchange(port_, Head("POST", "/api/v1/announce", nested.size(), token), nested);
      });
    }
    for (auto& t : attackers) t.join();
    auto took = std::chrono::steady_clock::now() - start;
    size_t peak = watch.Finish();
    ASSERT_FALSE(watch.killed()) << "the directory passed " << (before >> 20) << " + 1024 MiB";
    for (const auto& reply : replies) {
      EXPECT_EQ(reply.status, 400) << reply.body;
      EXPECT_EQ(reply.body, R"({"error":"the JSON nests deeper than 32 levels"})");
    }
    EXPECT_LT(took, 5s * kSlowdown);
    // The bodies themselves (8 of them) are read, and nothing built from them.
    if (!kSanitizerBuild) {
      EXPECT_LT(peak, before + 8 * 40 * kMiB) << "before " << (before >> 20) << " MiB";
    }
    size_t after = SettledResidentBytes(before + 32 * kMiB, 20s);
    Report(fmt::format("8 x {} KiB nested to announce", size >> 10), before, peak, after);
    if (!kSanitizerBuild) {
      EXPECT_LT(after, before + 32 * kMiB)
          << "before " << (before >> 20) << " MiB, peak " << (peak >> 20) << " MiB";
    }
  }

  ExpectALegitimateUserIsServed("alice", "127.0.0.1");
}

TEST_F(AttackDirectoryE2eTest, ADuplicateKeyIsRefused) {
  RawReply twice =
      JsonCall(port_, "POST", "/api/v1/register",
               R"({"username":"alice","password":"alice-password","username":"root"})");
  EXPECT_EQ(twice.status, 400) << twice.body;
  EXPECT_EQ(twice.body, R"({"error":"the key 'username' appears twice in one object"})");
  ExpectALegitimateUserIsServed("alice", "127.0.0.1");
}

// A body whose framing the directory does not implement is refused, and the
// connection closed, instead of its bytes being read as the next request.
TEST_F(AttackDirectoryE2eTest, AnUnimplementedTransferEncodingIsRefused) {
  for (const std::string coding : {"gzip", "gzip, chunked", "chunked, gzip"}) {
    const std::string body = "5\r\nhello\r\n0\r\n\r\n";
    RawReply reply = Exchange(
        port_,
        "POST /api/v1/register HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: " + coding + "\r\n\r\n",
        body);
    EXPECT_EQ(reply.status, 501) << coding << ": " << reply.body;
    EXPECT_NE(reply.body.find("Transfer-Encoding '" + coding + "' is not implemented"),
              std::string::npos)
        << reply.body;
    EXPECT_TRUE(reply.closed) << coding;
  }
  ExpectALegitimateUserIsServed("alice", "127.0.0.1");
}

// Row 11: registers from 32 threads for 3 s, then logins likewise. Each
// address gets its burst and then 429 with Retry-After; password hashing
// stays within a few hashes' memory; another address is served as before.
TEST_F(AttackDirectoryE2eTest, FloodsOfRegistersAndLoginsAreRateLimitedPerAddress) {
  ASSERT_EQ(
      JsonCall(port_, "POST", "/api/v1/register", Credentials("victim"), "", "127.0.0.3").status,
      201);
  RssWatch watch(directory_.child().pid(), idle_ + 1024 * kMiB);
  std::atomic<int> created{0}, limited{0}, other{0}, logged_in{0};
  std::atomic<bool> retry_after_ok{true};
  auto flood = [&](const std::string& path, std::atomic<int>* successes, int success_status,
                   bool distinct_users) {
    std::vector<std::thread> threads;
    auto until = std::chrono::steady_clock::now() + 3s;
    for (int t = 0; t < 32; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
          std::string user = distinct_users ? fmt::format("flood-{}-{}", t, i) : "victim";
          RawReply r = JsonCall(port_, "POST", path, Credentials(user));
          if (r.status == success_status) {
            ++*successes;
          } else if (r.status == 429) {
            ++limited;
            auto it = r.headers.find("retry-after");
            if (it == r.headers.end() || std::atoi(it->second.c_str()) < 1) retry_after_ok = false;
          } else {
            ++other;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  };
  flood("/api/v1/register", &created, 201, true);
  RawReply refused = JsonCall(port_, "POST", "/api/v1/register", Credentials("alice"));
  flood("/api/v1/login", &logged_in, 200, false);
  size_t peak = watch.Finish();
  ASSERT_FALSE(watch.killed()) << "the directory passed " << (idle_ >> 20) << " + 1024 MiB";

  Report("register and login floods", idle_, peak, ResidentBytes(directory_.child().pid()));
  std::printf("[ measured ] %d accounts and %d logins made, %d refused with 429\n", created.load(),
              logged_in.load(), limited.load());
  // 10 at once and one more every 6 s; 120 at once and one more every 0.5 s.
  EXPECT_LE(created.load(), 11);
  EXPECT_LE(logged_in.load(), 127);
  EXPECT_GT(limited.load(), 32);
  EXPECT_EQ(other.load(), 0);
  EXPECT_TRUE(retry_after_ok.load());
  // At most 4 Argon2id hashes of 19 MiB at once.
  if (!kSanitizerBuild) {
    EXPECT_LT(peak, idle_ + 128 * kMiB) << "idle " << (idle_ >> 20) << " MiB";
  }

  EXPECT_EQ(refused.status, 429);
  EXPECT_NE(refused.body.find("too many register requests from 127.0.0.1"), std::string::npos)
      << refused.body;
  ExpectALegitimateUserIsServed("bob", "127.0.0.2");
}

TEST(AttackDirectoryFlagsTest, LimitsOutOfRangeAreRefusedWithTheirRange) {
  std::string pattern = (fs::temp_directory_path() / "ferry-attack-flags-XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--max-small-body", "10"}, "--max-small-body must be from 256 to 1048576 bytes"},
      {{"--max-body", "100"}, "--max-body must be from 1024 to 1073741824 bytes"},
      {{"--max-json-depth", "2"}, "--max-json-depth must be from 3 to 1024"},
      {{"--register-per-minute", "-1"}, "--register-per-minute must be from 0 (no limit)"},
      {{"--login-per-minute", "100001"}, "--login-per-minute must be from 0 (no limit)"},
      {{"--rate-limit-addresses", "0"}, "--rate-limit-addresses must be from 1 to 16777216"},
      {{"--hash-concurrency", "-2"}, "--hash-concurrency must be from 0 (automatic) to 1024"},
      {{"--hash-queue", "5000"}, "--hash-queue must be from 0 to 4096"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> args = {"directory",   "--plain-http", "--listen",
                                     "127.0.0.1:0", "--data",       pattern};
    args.insert(args.end(), flags.begin(), flags.end());
    RunResult run = RunFerry(args, {}, "", std::chrono::seconds(30));
    EXPECT_NE(run.exit_code, 0) << flags[0];
    EXPECT_NE(run.err.find(message), std::string::npos) << flags[0] << ": " << run.err;
  }
  fs::remove_all(pattern);
}

}  // namespace
}  // namespace ferry::e2e
