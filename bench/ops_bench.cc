// Small operations per second against a running ferry server: N concurrent
// clients, each with its own connection and session, run one kind of
// operation in a loop for a fixed time. Prints a Markdown table.
//
//   ferry_ops_bench --server 127.0.0.1:7070 --user U --ca-cert DATA/tls/server.crt
//                   [--clients 64] [--seconds 5]     (password from FERRY_PASSWORD)
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "client/connection.h"
#include "client/file_client.h"
#include "core/process_tuning.h"
#include "core/secrets.h"

namespace {

using Clock = std::chrono::steady_clock;
using ferry::Connection;
using ferry::Status;

struct Op {
  const char* name;
  // One operation by client `id`, iteration `i`.
  std::function<Status(Connection&, int id, int64_t i)> run;
};

}  // namespace

int main(int argc, char** argv) {
  ferry::TuneAllocatorForStreaming();
  if (!ferry::InitCrypto().ok()) return 1;
  CLI::App app("ferry small-operations benchmark");
  ferry::ClientOptions options;
  int clients = 64;
  double seconds = 5;
  app.add_option("--server", options.server)->required();
  app.add_option("--user", options.user)->required();
  app.add_option("--ca-cert", options.trust.ca_cert_file)->required();
  app.add_option("--clients", clients);
  app.add_option("--seconds", seconds);
  CLI11_PARSE(app, argc, argv);
  const char* pw = std::getenv("FERRY_PASSWORD");
  if (pw == nullptr) {
    std::cerr << "set FERRY_PASSWORD\n";
    return 2;
  }
  options.password = pw;

  std::vector<std::unique_ptr<Connection>> conns;
  for (int c = 0; c < clients; ++c) {
    auto conn = Connection::Open(options);
    if (!conn.ok()) {
      std::cerr << "client " << c << ": " << conn.status().ToString() << "\n";
      return 1;
    }
    conns.push_back(std::move(conn).value());
  }
  // Each client gets a directory with a few files to list and stat.
  (void)ferry::MakeRemoteDirectory(*conns[0], "ops-bench", true);
  for (int c = 0; c < clients; ++c) {
    std::string dir = fmt::format("ops-bench/c{}", c);
    Status s = ferry::MakeRemoteDirectory(*conns[static_cast<size_t>(c)], dir, true);
    for (int f = 0; s.ok() && f < 20; ++f) {
      s = ferry::TouchRemote(*conns[static_cast<size_t>(c)], fmt::format("{}/f{}", dir, f));
      if (s.code() == ferry::Code::kAlreadyExists) s = Status::Ok();
    }
    if (!s.ok()) {
      std::cerr << "setup: " << s.ToString() << "\n";
      return 1;
    }
  }

  std::vector<Op> ops = {
      {"stat",
       [](Connection& c, int id, int64_t i) {
         return ferry::StatRemote(c, fmt::format("ops-bench/c{}/f{}", id, i % 20), false).status();
       }},
      {"ls (20 entries)",
       [](Connection& c, int id, int64_t) {
         return ferry::ListRemote(c, fmt::format("ops-bench/c{}", id)).status();
       }},
      {"touch+rm",
       [](Connection& c, int id, int64_t i) {
         std::string p = fmt::format("ops-bench/c{}/t{}", id, i);
         Status s = ferry::TouchRemote(c, p);
         return s.ok() ? ferry::RemoveRemote(c, p, false) : s;
       }},
  };

  std::cout << fmt::format("| operation | clients | ops/s | p50 ms | p99 ms | errors |\n");
  std::cout << "|---|---|---|---|---|---|\n";
  for (const auto& op : ops) {
    std::vector<std::vector<double>> latencies(static_cast<size_t>(clients));
    std::atomic<int64_t> errors{0};
    std::barrier start(clients + 1);
    auto deadline = std::make_shared<Clock::time_point>();
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        start.arrive_and_wait();
        auto& mine = latencies[static_cast<size_t>(c)];
        for (int64_t i = 0; Clock::now() < *deadline; ++i) {
          auto t0 = Clock::now();
          Status s = op.run(*conns[static_cast<size_t>(c)], c, i);
          if (!s.ok()) errors++;
          mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
      });
    }
    auto t0 = Clock::now();
    *deadline =
        t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    start.arrive_and_wait();
    for (auto& t : threads) t.join();
    double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> all;
    for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) {
      return all.empty() ? 0.0
                         : all[std::min(all.size() - 1,
                                        static_cast<size_t>(p * static_cast<double>(all.size())))];
    };
    std::cout << fmt::format("| {} | {} | {:.0f} | {:.2f} | {:.2f} | {} |\n", op.name, clients,
                             static_cast<double>(all.size()) / elapsed, pct(0.5), pct(0.99),
                             errors.load());
  }
  (void)ferry::RemoveRemote(*conns[0], "ops-bench", true);
  return 0;
}
