#include "server/stream_watch.h"

#include <grpc/grpc.h>
#include <grpc/support/alloc.h>

#include <charconv>
#include <memory>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace ferry {
namespace {

using json = nlohmann::json;

// A channelz answer, parsed; null if gRPC gave none or it does not parse.
json Channelz(char* text) {
  if (text == nullptr) return json();
  std::unique_ptr<char, void (*)(void*)> owned(text, gpr_free);
  return json::parse(owned.get(), nullptr, /*allow_exceptions=*/false);
}

// The object at `key` of `j`, or an empty one: channelz answers with null or
// an error when a server or socket went away between two calls.
json Field(const json& j, const char* key) {
  if (!j.is_object()) return json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : json::object();
}

json List(const json& j, const char* key) {
  if (!j.is_object()) return json::array();
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : json::array();
}

// channelz writes int64 values as JSON strings.
int64_t Int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  int64_t n = 0;
  if (it->is_string()) {
    const auto& text = it->get_ref<const std::string&>();
    std::from_chars(text.data(), text.data() + text.size(), n);
  }
  return n;
}

// A channelz socket's name, "chttp2 ipv4:127.0.0.1:5555", as the
// ConnectionGate's endpoint "127.0.0.1:5555".
std::string EndpointOfSocket(std::string name) {
  if (name.rfind("chttp2 ", 0) == 0) name.erase(0, 7);
  for (const char* prefix : {"ipv4:", "ipv6:"}) {
    if (name.rfind(prefix, 0) == 0) return name.substr(5);
  }
  return name;
}

}  // namespace

StreamWatch::StreamWatch(ConnectionGate* gate, StreamLimits limits)
    : gate_(gate), limits_(limits), thread_([this] { Run(); }) {}

StreamWatch::~StreamWatch() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void StreamWatch::Run() {
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, limits_.period, [&] { return stop_; })) {
    lock.unlock();
    CheckOnce();
    lock.lock();
  }
}

int StreamWatch::CheckOnce() {
  ++pass_;
  int cut = 0;
  const auto now = std::chrono::steady_clock::now();
  json servers = Channelz(grpc_channelz_get_servers(0));
  for (const auto& server : List(servers, "server")) {
    const int64_t server_id = Int(Field(server, "ref"), "serverId");
    for (int64_t start = 0;;) {
      json page = Channelz(grpc_channelz_get_server_sockets(server_id, start, 100));
      const json refs = List(page, "socketRef");
      for (const auto& ref : refs) {
        const int64_t id = Int(ref, "socketId");
        start = std::max(start, id + 1);
        const json data = Field(Field(Channelz(grpc_channelz_get_socket(id)), "socket"), "data");
        Seen next{Int(data, "streamsFailed"), now, pass_};
        // Streams the client opened that the server has not ended yet.
        const int64_t open =
            Int(data, "streamsStarted") - Int(data, "streamsSucceeded") - next.failed;
        // A connection is first seen within a period of its start, so its
        // counts then are what it did in about one period.
        Seen before{0, now - limits_.period, pass_};
        auto it = seen_.try_emplace(id, before).first;
        const double seconds = std::chrono::duration<double>(now - it->second.at).count();
        const double failed = (next.failed - it->second.failed) / seconds;
        next.cut = it->second.cut;
        it->second = next;
        if (next.cut || (failed <= limits_.max_failed_per_second && open <= limits_.max_open)) {
          continue;
        }
        it->second.cut = true;
        const auto name = ref.find("name");
        if (name == ref.end() || !name->is_string()) continue;
        const std::string endpoint = EndpointOfSocket(name->get<std::string>());
        if (gate_->CutSource(endpoint) > 0) {
          ++cut;
          spdlog::warn(
              "connection {} has {} HTTP/2 streams open and ended {:.0f} a second without an "
              "answer: it resets streams; cut with every connection from its source, which is "
              "refused for {} s",
              endpoint, open, failed, gate_->limits().penalty.count());
        }
      }
      const auto end = page.is_object() ? page.find("end") : page.end();
      if (refs.empty() || (end != page.end() && end->is_boolean() && end->get<bool>())) break;
    }
  }
  std::erase_if(seen_, [&](const auto& e) { return e.second.pass != pass_; });
  return cut;
}

}  // namespace ferry
