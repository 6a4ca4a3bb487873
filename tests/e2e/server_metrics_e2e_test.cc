// `ferry server --metrics-listen`: the /metrics text, read by the Prometheus
// client's own parser (tests/metrics/check_prometheus.py), moves with what
// clients do; nothing else is served, and nothing listens without the flag.
#include <httplib.h>
#include <stdio.h>
#include <sys/wait.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/harness.h"

namespace ferry::e2e {
namespace {

using namespace std::chrono_literals;

// Sample line ("name{label=\"v\",...}" with sorted labels) -> value.
using Samples = std::map<std::string, double>;

// How many TCP sockets process `pid` has listening (its descriptors matched
// against /proc/net/tcp and tcp6, state 0A).
int ListeningSockets(pid_t pid) {
  std::set<std::string> inodes;
  for (const auto& fd :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code ec;
    std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
    if (!ec && target.rfind("socket:[", 0) == 0) {
      inodes.insert(target.substr(8, target.size() - 9));
    }
  }
  int listening = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::istringstream lines(ReadFile(table));
    std::string line;
    std::getline(lines, line);  // the header
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::vector<std::string> f;
      for (std::string w; fields >> w;) f.push_back(w);
      if (f.size() > 9 && f[3] == "0A" && inodes.count(f[9])) ++listening;
    }
  }
  return listening;
}

class ServerMetricsE2eTest : public E2eTest {
 protected:
  ServerMetricsE2eTest() { server_flags_ = {"--metrics-listen", "127.0.0.1:0", "--workers", "1"}; }

  // The port the server printed for its metrics; 0 if it printed none.
  int MetricsPort() {
    static const std::regex kMetrics("metrics on http://127\\.0\\.0\\.1:([0-9]+)/metrics");
    for (int i = 0; i < 100; ++i) {
      std::smatch m;
      std::string log = server_.log();
      if (std::regex_search(log, m, kMetrics)) return std::stoi(m[1].str());
      std::this_thread::sleep_for(20ms);
    }
    return 0;
  }

  httplib::Result Get(const std::string& path) {
    httplib::Client client("127.0.0.1", MetricsPort());
    client.set_read_timeout(30s);
    return client.Get(path);
  }

  // Fetches /metrics and parses it with the Prometheus client; fails the
  // test if it does not parse or breaks a convention.
  Samples Scrape(std::string* text = nullptr) {
    auto res = Get("/metrics");
    EXPECT_TRUE(res) << "no answer from /metrics";
    if (!res) return {};
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u)
        << res->get_header_value("Content-Type");
    if (text) *text = res->body;
    const std::string file = Path("metrics.txt");
    WriteFile(file, res->body);
    std::string out;
    const std::string command =
        std::string("/usr/bin/python3 ") + FERRY_METRICS_CHECK + " " + file + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    EXPECT_NE(pipe, nullptr);
    if (!pipe) return {};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    int status = ::pclose(pipe);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "the Prometheus parser refused /metrics:\n"
        << out << "\nthe text:\n"
        << res->body;
    Samples samples;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      auto space = line.rfind(' ');
      if (space == std::string::npos) continue;
      samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return samples;
  }

  static double At(const Samples& s, const std::string& key) {
    auto it = s.find(key);
    return it == s.end() ? 0 : it->second;
  }
};

TEST_F(ServerMetricsE2eTest, CountsCallsTransfersAndJobs) {
  ASSERT_NE(MetricsPort(), 0) << server_.log();
  const Samples before = Scrape();
  ASSERT_FALSE(before.empty());

  constexpr size_t kSize = 700 * 1024;
  WriteRandomFile(Path("up.bin"), kSize, 21);
  ASSERT_OK(Ferry({"mkdir", "docs"}));
  ASSERT_OK(Ferry({"put", Path("up.bin"), "docs/up.bin"}));
  ASSERT_OK(Ferry({"get", "docs/up.bin", Path("down.bin")}));
  ASSERT_OK(Ferry({"zip", "docs", "--wait"}));
  // A session held open (each ferry command logs out as it ends).
  auto channel = RawChannel(server_.address(), data_);
  grpc::Status login;
  const std::string token = RawLogin(channel, "alice", "alice-password", &login);
  ASSERT_NE(token, "") << login.error_message();
  // One call that fails: exactly one NOT_FOUND for Stat.
  const Samples middle = Scrape();
  v1::StatRequest stat;
  stat.set_path("docs/missing.txt");
  v1::StatResponse stat_reply;
  grpc::Status missing =
      v1::Files::NewStub(channel)->Stat(RawContext(token).get(), stat, &stat_reply);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND) << missing.error_message();

  std::string text;
  const Samples after = Scrape(&text);
  auto delta = [&](const std::string& key) { return At(after, key) - At(before, key); };

  EXPECT_GE(delta("ferry_server_transfer_bytes_total{direction=\"upload\"}"), kSize) << text;
  EXPECT_GE(delta("ferry_server_transfer_bytes_total{direction=\"download\"}"), kSize) << text;
  EXPECT_GE(delta("ferry_server_transfer_seconds_count{direction=\"upload\"}"), 1) << text;
  EXPECT_GE(delta("ferry_server_transfer_seconds_count{direction=\"download\"}"), 1) << text;
  const std::string stat_not_found =
      "ferry_server_grpc_calls_total{code=\"NOT_FOUND\",method=\"ferry.v1.Files/Stat\"}";
  EXPECT_EQ(At(after, stat_not_found) - At(middle, stat_not_found), 1) << text;
  EXPECT_GE(delta("ferry_server_grpc_calls_total{code=\"OK\",method=\"ferry.v1.Auth/Login\"}"), 1)
      << text;
  EXPECT_GE(delta("ferry_server_grpc_calls_total{code=\"OK\",method=\"ferry.v1.Files/Upload\"}"), 1)
      << text;
  EXPECT_GE(delta("ferry_server_grpc_calls_total{code=\"OK\",method=\"ferry.v1.Jobs/Submit\"}"), 1)
      << text;
  EXPECT_EQ(delta("ferry_server_jobs_finished_total{outcome=\"done\"}"), 1) << text;
  EXPECT_EQ(At(after, "ferry_server_job_queue_depth{}"), 0) << text;
  EXPECT_TRUE(after.count("ferry_server_job_queue_depth{}")) << text;
  EXPECT_GE(delta("ferry_server_connections_accepted_total{}"), 5) << text;
  EXPECT_TRUE(after.count("ferry_server_connections_refused_total{reason=\"server_full\"}"))
      << text;
  EXPECT_GE(At(after, "ferry_server_sessions_open{}"), 1) << text;
  EXPECT_EQ(At(after, "ferry_server_audit_write_failures_total{}"), 0) << text;
  EXPECT_TRUE(after.count("ferry_server_audit_write_failures_total{}")) << text;
  bool build_info = false;
  for (const auto& [key, value] : after) {
    if (key.rfind("ferry_server_build_info{version=\"", 0) == 0 && value == 1) build_info = true;
    EXPECT_EQ(key.rfind("ferry_server_", 0), 0u) << key;
  }
  EXPECT_TRUE(build_info) << text;
  // No user, path or address is a label value.
  EXPECT_EQ(text.find("alice"), std::string::npos) << text;
  EXPECT_EQ(text.find("up.bin"), std::string::npos) << text;
  EXPECT_EQ(text.find("127.0.0.1"), std::string::npos) << text;
}

TEST_F(ServerMetricsE2eTest, ServesOnlyGetMetrics) {
  ASSERT_NE(MetricsPort(), 0) << server_.log();
  EXPECT_EQ(ListeningSockets(server_.child().pid()), 2);  // gRPC and metrics
  auto other = Get("/metrics/extra");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  auto root = Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 404);
  httplib::Client client("127.0.0.1", MetricsPort());
  auto post = client.Post("/metrics", "", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
}

TEST_F(ServerMetricsE2eTest, RefusesANonLoopbackAddressWithoutConsent) {
  auto refused = RunFerry({"server", "--data", Path("other-data"), "--listen", "127.0.0.1:0",
                           "--metrics-listen", "0.0.0.0:0"},
                          {}, "", 60s);
  EXPECT_FAILS_WITH(refused, "INVALID_ARGUMENT: --metrics-listen 0.0.0.0:0 is not a loopback");
}

class ServerWithoutMetricsE2eTest : public E2eTest {};

TEST_F(ServerWithoutMetricsE2eTest, NoListenerWithoutTheFlag) {
  ASSERT_OK(Ferry({"ls"}));
  EXPECT_EQ(server_.log().find("metrics on"), std::string::npos) << server_.log();
  EXPECT_EQ(ListeningSockets(server_.child().pid()), 1);  // gRPC alone
}

}  // namespace
}  // namespace ferry::e2e
