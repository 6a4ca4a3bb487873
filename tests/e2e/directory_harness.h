// End-to-end support for the directory: a running `ferry directory` process and
// a small JSON-over-HTTP caller for its REST API.
#pragma once

#include <httplib.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/harness.h"

namespace ferry::e2e {

// A `ferry directory` on 127.0.0.1 with a free port.
class DirectoryProcess {
 public:
  // Starts it with `extra` flags and waits until it listens.
  void Start(const std::string& data_dir, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"directory", "--listen", "127.0.0.1:0", "--data", data_dir};
    args.insert(args.end(), extra.begin(), extra.end());
    stderr_file_ = data_dir + ".directory-stderr-" + std::to_string(std::rand());
    child_ = Child::Spawn(args, {}, "/dev/null", stderr_file_);
    static const std::regex kListening("listening on (https?)://([^ ]+):([0-9]+) ");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      std::string text = ReadFile(stderr_file_);
      if (std::regex_search(text, m, kListening)) {
        url_ = m[1].str() + "://" + m[2].str() + ":" + m[3].str();
        port_ = std::stoi(m[3].str());
        return;
      }
      if (!child_.Running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "directory did not start; its log:\n" << ReadFile(stderr_file_);
  }
  void Stop(int sig = SIGTERM) {
    child_.Signal(sig);
    child_.Wait(std::chrono::seconds(30));
  }
  const std::string& url() const { return url_; }  // "http://127.0.0.1:PORT"
  int port() const { return port_; }
  std::string log() const { return ReadFile(stderr_file_); }
  Child& child() { return child_; }

 private:
  Child child_;
  std::string url_;
  int port_ = 0;
  std::string stderr_file_;
};

struct HttpReply {
  int status = 0;  // 0: no answer
  nlohmann::json body;
  std::string raw;
  httplib::Headers headers;
};

// Calls a plain-HTTP directory. `token` goes in Authorization when not empty.
inline HttpReply Call(int port, const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& token = "") {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::seconds(10));
  client.set_read_timeout(std::chrono::seconds(30));
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  auto send = [&]() -> httplib::Result {
    if (method == "POST") return client.Post(path, headers, body, "application/json");
    if (method == "DELETE") return client.Delete(path, headers, body, "application/json");
    if (method == "PUT") return client.Put(path, headers, body, "application/json");
    return client.Get(path, headers);
  };
  httplib::Result r = send();
  HttpReply reply;
  if (!r) return reply;
  reply.status = r->status;
  reply.raw = r->body;
  reply.headers = r->headers;
  reply.body = nlohmann::json::parse(r->body, nullptr, false);
  return reply;
}

}  // namespace ferry::e2e
