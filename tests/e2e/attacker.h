// Hostile clients for the attack tests: each is bounded in count and time,
// talks only to the loopback address it is given, and stops by itself.
#pragma once

#include <chrono>
#include <string>

namespace ferry::e2e {

// Lets this process hold `n` descriptors; false if the hard limit is lower.
bool AllowDescriptors(long n);

struct FloodResult {
  int opened = 0;  // connections whose connect() succeeded
  int failed = 0;  // connect() errors (refused, no descriptors left, ...)
};

// Opens up to `count` bare TCP connections to `address` ("host:port") from
// `source_ip` within `duration`, sends nothing, holds them for `hold`, then
// closes them all.
FloodResult BareConnectionFlood(const std::string& address, const std::string& source_ip, int count,
                                std::chrono::milliseconds duration, std::chrono::milliseconds hold);

struct ResetStormResult {
  int connections = 0;     // TLS connections that were set up
  long streams = 0;        // HEADERS frames sent (each followed by RST_STREAM)
  int closed_by_peer = 0;  // connections the server closed (GOAWAY or EOF) mid-storm
};

// "Rapid reset": on `connections` TLS connections to `address` from
// `source_ip`, opens HTTP/2
// streams for `path` and resets each at once (HEADERS + RST_STREAM), as fast
// as the socket takes them, for `duration`. A connection the server closes is
// not opened again.
ResetStormResult ResetStorm(const std::string& address, const std::string& source_ip,
                            const std::string& path, int connections,
                            std::chrono::milliseconds duration);

struct BadTokenResult {
  long calls = 0;
  long unauthenticated = 0;  // answered UNAUTHENTICATED, as they should be
  long other = 0;            // any other answer
};

// Calls Files.Stat with a made-up bearer token from `in_flight` threads at
// once for `duration`, over TLS trusting the certificate in `ca_cert_file`.
BadTokenResult BadTokenCalls(const std::string& address, const std::string& ca_cert_file,
                             int in_flight, std::chrono::milliseconds duration);

}  // namespace ferry::e2e
