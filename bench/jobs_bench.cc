// Tiny background jobs per second against a running ferry server: `clients`
// threads, each with its own connection and session, submit `jobs` small zip
// jobs between them and follow each to its end. Prints one Markdown table row.
//
//   ferry_jobs_bench --server 127.0.0.1:7070 --user U --ca-cert DATA/tls/server.crt
//                    --input tiny.txt [--jobs 500] [--clients 8]   (password from FERRY_PASSWORD)
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "client/connection.h"
#include "client/job_client.h"
#include "core/secrets.h"

int main(int argc, char** argv) {
  if (!ferry::InitCrypto().ok()) return 1;
  CLI::App app("ferry tiny-jobs benchmark");
  ferry::ClientOptions options;
  std::string input;
  int jobs = 500, clients = 8;
  app.add_option("--server", options.server)->required();
  app.add_option("--user", options.user)->required();
  app.add_option("--ca-cert", options.trust.ca_cert_file)->required();
  app.add_option("--input", input, "a small file in the user's home to zip")->required();
  app.add_option("--jobs", jobs);
  app.add_option("--clients", clients);
  CLI11_PARSE(app, argc, argv);
  const char* pw = std::getenv("FERRY_PASSWORD");
  if (pw == nullptr) {
    std::cerr << "set FERRY_PASSWORD\n";
    return 2;
  }
  options.password = pw;

  std::vector<std::unique_ptr<ferry::Connection>> conns;
  for (int c = 0; c < clients; ++c) {
    auto conn = ferry::Connection::Open(options);
    if (!conn.ok()) {
      std::cerr << conn.status().ToString() << "\n";
      return 1;
    }
    conns.push_back(std::move(conn).value());
  }
  std::atomic<int> next{0}, done{0}, failed{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::vector<std::string> mine;
      for (int i; (i = next++) < jobs;) {
        ferry::v1::SubmitJobRequest req;
        req.set_kind(ferry::v1::JOB_KIND_ZIP);
        req.add_paths(input);
        req.set_to(fmt::format("jobs-bench/{}.zip", i));
        req.set_force(true);
        auto job = ferry::SubmitJob(*conns[c], req);
        if (!job.ok()) {
          std::cerr << job.status().ToString() << "\n";
          ++failed;
          continue;
        }
        mine.push_back(job->id());
      }
      for (const auto& id : mine) {
        for (;;) {
          auto job = ferry::GetJob(*conns[c], id);
          if (!job.ok() || ferry::IsFinal(job->state())) {
            (job.ok() && job->state() == ferry::v1::JOB_STATE_DONE ? done : failed)++;
            break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << fmt::format("| {} | {} | {} | {:.2f} | {:.0f} |\n", jobs, clients, failed.load(),
                           seconds, done / seconds);
  return failed == 0 ? 0 : 1;
}
