// `ferry_attack`: the hostile clients of the attack tests as a program, for
// bench/attack_bench.sh. Each attack is bounded in count and time and talks
// only to the loopback address it is given.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "tests/e2e/attacker.h"

int main(int argc, char** argv) {
  using namespace ferry::e2e;
  CLI::App app{"ferry_attack: bounded attacks on a ferry server on loopback"};
  app.require_subcommand(1);
  std::string address, source_ip = "127.0.0.2", path = "/ferry.v1.Files/Stat", token = "made-up";
  std::string ca_cert;
  int count = 20000, connections = 2, in_flight = 400;
  double seconds = 5, hold = 1;

  auto* flood = app.add_subcommand("flood", "bare TCP connections that send nothing");
  flood->add_option("--address", address)->required();
  flood->add_option("--source-ip", source_ip);
  flood->add_option("--count", count);
  flood->add_option("--seconds", seconds);
  flood->add_option("--hold", hold, "seconds the connections are held before closing");

  auto* storm = app.add_subcommand("storm", "HTTP/2 streams opened and reset at once");
  storm->add_option("--address", address)->required();
  storm->add_option("--source-ip", source_ip);
  storm->add_option("--path", path);
  storm->add_option("--connections", connections);
  storm->add_option("--seconds", seconds);

  auto* bad = app.add_subcommand("bad-token", "calls with a made-up token, many in flight");
  bad->add_option("--address", address)->required();
  bad->add_option("--ca-cert", ca_cert, "the server's certificate (PEM)")->required();
  bad->add_option("--in-flight", in_flight);
  bad->add_option("--seconds", seconds);
  CLI11_PARSE(app, argc, argv);

  auto ms = [](double s) { return std::chrono::milliseconds(static_cast<long>(s * 1000)); };
  if (flood->parsed()) {
    auto r = BareConnectionFlood(address, source_ip, count, ms(seconds), ms(hold));
    std::printf("flood: %d connections opened, %d failed\n", r.opened, r.failed);
  } else if (storm->parsed()) {
    auto r = ResetStorm(address, source_ip, path, connections, ms(seconds));
    std::printf("storm: %d connections, %ld streams reset, %d closed by the server\n",
                r.connections, r.streams, r.closed_by_peer);
  } else if (bad->parsed()) {
    auto r = BadTokenCalls(address, ca_cert, in_flight, ms(seconds));
    std::printf("bad-token: %ld calls, %ld refused as unauthenticated, %ld other errors\n", r.calls,
                r.unauthenticated, r.other);
  }
  return 0;
}
