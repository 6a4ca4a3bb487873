#include "cli/version.h"

#include <openssl/crypto.h>

#include <iostream>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

namespace ferry {

std::string VersionText() {
  // OpenSSL_version names itself ("OpenSSL 3.0.17 1 Jul 2025"); the version
  // loaded at run time, which may be newer than the headers ferry was built with.
  return fmt::format("ferry {}\ngRPC {}\n{}", FERRY_VERSION, grpc::Version(),
                     OpenSSL_version(OPENSSL_VERSION));
}

void AddVersionCommand(CLI::App& app) {
  app.set_version_flag(
      "--version", [] { return VersionText(); },
      "print ferry's version and those of gRPC and OpenSSL");
  app.add_subcommand("version", "print ferry's version and those of gRPC and OpenSSL")
      ->callback([] { std::cout << VersionText() << std::endl; });
}

}  // namespace ferry
