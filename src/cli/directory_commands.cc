#include "cli/directory_commands.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/fail.h"
#include "cli/prompt.h"
#include "client/progress.h"
#include "core/credentials.h"
#include "core/display_text.h"
#include "core/rel_path.h"
#include "core/secrets.h"
#include "core/sha256.h"
#include "directory_api/wire_json.h"

namespace ferry {
namespace {

using json = nlohmann::json;
using dirapi::PeerInfo;
using dirapi::SearchHit;
using dirapi::SharedFile;
using dirclient::DirectoryClient;
using dirclient::SearchQuery;

// How many of a hit's peer addresses the table shows; --json has them all.
constexpr size_t kAddressesShown = 3;

struct Args {
  std::string text, sha256;
  int limit = 50;
  int offset = 0;
  bool json = false, files = false, password_stdin = false;
};

Result<std::unique_ptr<DirectoryClient>> Connect(const DirectoryLogin& login) {
  return DirectoryClient::Open(login.options);
}

// Runs `body` in a session: logs in, and out again afterwards (best effort:
// the token expires anyway).
Status WithSession(const DirectoryLogin& login,
                   const std::function<Status(DirectoryClient&)>& body) {
  auto client = Connect(login);
  if (!client.ok()) return client.status();
  auto session = (*client)->Login(login.user, login.password);
  if (!session.ok()) return session.status();
  Status s = body(**client);
  (void)(*client)->Logout();
  return s;
}

std::string Ago(int64_t unix_seconds) {
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  int64_t s = std::max<int64_t>(0, now - unix_seconds);
  if (s < 120) return fmt::format("{}s ago", s);
  if (s < 7200) return fmt::format("{}m ago", s / 60);
  if (s < 2 * 86400) return fmt::format("{}h ago", s / 3600);
  return fmt::format("{}d ago", s / 86400);
}

// Lays rows out as columns two spaces apart, left-aligned unless `right`
// says otherwise. Cells are already escaped.
std::vector<std::string> FormatTable(const std::vector<std::vector<std::string>>& rows,
                                     const std::vector<bool>& right,
                                     const std::string& indent = "") {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::vector<std::string> lines;
  for (const auto& row : rows) {
    std::string line = indent;
    for (size_t i = 0; i < row.size(); ++i) {
      bool last = i + 1 == row.size();
      bool align_right = i < right.size() && right[i];
      std::string pad(width[i] - row[i].size(), ' ');
      line += align_right ? pad + row[i] : (last ? row[i] : row[i] + pad);
      if (!last) line += "  ";
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right,
                const std::string& indent = "") {
  for (const auto& line : FormatTable(rows, right, indent)) std::cout << line << "\n";
}

void PrintJson(const json& j) {
  std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << std::endl;
}

std::string Size(int64_t bytes) { return HumanBytes(static_cast<double>(bytes)); }

void PrintHits(const std::vector<SearchHit>& hits) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "SIZE", "SHA256", "PEERS", "ADDRESSES"}};
  for (const auto& h : hits) {
    std::string addresses;
    for (size_t i = 0; i < h.peers.size() && i < kAddressesShown; ++i) {
      addresses += (i == 0 ? "" : ", ") + ForDisplay(h.peers[i].address);
    }
    if (h.peers.size() > kAddressesShown) {
      addresses += fmt::format(" (+{} more)", h.peers.size() - kAddressesShown);
    }
    rows.push_back({ForDisplay(h.name), Size(h.size), h.sha256.substr(0, 12),
                    std::to_string(h.peers.size()), addresses});
  }
  PrintTable(rows, {false, true, false, true, false});
}

Status Search(DirectoryClient& client, const Args& a) {
  SearchQuery q;
  q.text = a.text;
  q.sha256 = a.sha256;
  q.limit = a.limit;
  q.offset = a.offset;
  auto hits = client.Search(q);
  if (!hits.ok()) return hits.status();
  if (a.json) {
    json out = json::array();
    for (const auto& h : *hits) out.push_back(dirapi::ToJson(h));
    PrintJson(out);
  } else if (hits->empty()) {
    // No hit is an answer, not a failure: said on stdout, exit status 0.
    std::cout << (a.offset > 0 ? fmt::format("no hits past the first {}\n", a.offset)
                  : a.text.empty()
                      ? fmt::format("no online peer shares content {}\n", a.sha256)
                      : fmt::format("no online peer shares a file whose name contains '{}'\n",
                                    ForDisplay(a.text)));
  } else {
    PrintHits(*hits);
  }
  return Status::Ok();
}

Status Peers(DirectoryClient& client, const Args& a) {
  auto peers = client.AllPeers();
  if (!peers.ok()) return peers.status();
  // A peer that went offline since the listing has no files to show: it is
  // left out of --files rather than failing the whole command.
  std::map<std::string, std::vector<SharedFile>> files;
  std::vector<PeerInfo> shown;
  for (const auto& p : *peers) {
    if (a.files) {
      auto list = client.AllPeerFiles(p.peer_id);
      if (!list.ok() && list.status().code() == Code::kNotFound) continue;
      if (!list.ok()) return list.status();
      files[p.peer_id] = std::move(list).value();
    }
    shown.push_back(p);
  }
  if (a.json) {
    json out = json::array();
    for (const auto& p : shown) {
      json j = dirapi::ToJson(p);
      if (a.files) {
        json list = json::array();
        for (const auto& f : files[p.peer_id]) list.push_back(dirapi::ToJson(f));
        j["shared"] = std::move(list);
      }
      out.push_back(std::move(j));
    }
    PrintJson(out);
    return Status::Ok();
  }
  if (shown.empty()) {
    std::cout << "no peer is online\n";  // an answer, as for search
    return Status::Ok();
  }
  std::vector<std::vector<std::string>> rows = {{"PEER", "USER", "ADDRESS", "FILES", "LAST SEEN"}};
  for (const auto& p : shown) {
    rows.push_back({p.peer_id, ForDisplay(p.username), ForDisplay(p.address),
                    std::to_string(p.files), Ago(p.last_seen)});
  }
  if (!a.files) {
    PrintTable(rows, {false, false, false, true, false});
    return Status::Ok();
  }
  // With --files, each peer's line is followed by its files, indented.
  auto lines = FormatTable(rows, {false, false, false, true, false});
  std::cout << lines[0] << "\n";
  for (size_t i = 0; i < shown.size(); ++i) {
    std::cout << lines[i + 1] << "\n";
    std::vector<std::vector<std::string>> file_rows;
    for (const auto& f : files[shown[i].peer_id]) {
      file_rows.push_back({ForDisplay(f.path), Size(f.size), f.sha256.substr(0, 12)});
    }
    PrintTable(file_rows, {false, true, false}, "    ");
  }
  return Status::Ok();
}

}  // namespace

Result<DirectoryLogin> ResolveDirectoryLogin(const ClientFlags& flags, const std::string& url_flag,
                                             bool password_stdin, bool new_password) {
  DirectoryLogin login;
  auto config = ReadClientConfig();
  login.options.url = FirstOf(url_flag, "FERRY_DIRECTORY", config["directory"]);
  if (login.options.url.empty()) login.options.url = dirclient::kDefaultDirectoryUrl;
  auto endpoint = dirclient::ParseDirectoryUrl(login.options.url);
  if (!endpoint.ok()) return endpoint.status();
  std::string where = endpoint->Url();

  login.user = FirstOf(flags.user, "FERRY_USER", config["user"]);
  if (login.user.empty()) {
    auto typed = ReadVisible(fmt::format("user for the directory at {}: ", where));
    if (!typed || typed->empty()) {
      return Status::InvalidArgument("no user given: use --user NAME or set FERRY_USER");
    }
    login.user = *typed;
  }
  FERRY_RETURN_IF_ERROR(ValidateUserName(login.user));  // as the directory would, saying why
  if (password_stdin) {
    auto line = ReadStdinLine();
    if (!line) return Status::InvalidArgument("--password-stdin: nothing on standard input");
    login.password = std::move(*line);
  } else if (const char* pw = std::getenv("FERRY_PASSWORD"); pw != nullptr) {
    login.password = pw;
  } else {
    auto first = ReadHidden(
        fmt::format("{}password for {} at {}: ", new_password ? "new " : "", login.user, where));
    if (!first) {
      return Status::InvalidArgument(
          "no password: set FERRY_PASSWORD, use --password-stdin, or run from a terminal to be "
          "asked");
    }
    if (new_password) {
      auto second = ReadHidden("again: ");
      bool same = second && *second == *first;
      if (second) Wipe(*second);
      if (!same) {
        Wipe(*first);
        return Status::InvalidArgument("the passwords do not match");
      }
    }
    login.password = std::move(*first);
  }

  login.options.trust.ca_cert_file =
      FirstOf(flags.ca_cert, "FERRY_DIRECTORY_CA_CERT", config["directory_ca_cert"]);
  login.options.trust.trust_new_server = flags.trust_new_server;
  login.options.trust.known_servers_file = ConfigDir() + "/known_servers";
  login.options.trust.confirm = [](const std::string& q) { return Confirm(q); };
  return login;
}

void AddDirectoryClientCommands(CLI::App& app, ClientFlags& flags, int* exit_code) {
  auto url = std::make_shared<std::string>();
  app.add_option("--directory", *url,
                 "P2P directory URL, https://HOST:PORT or http://HOST:PORT (env FERRY_DIRECTORY; "
                 "default https://127.0.0.1:7080)");
  auto a = std::make_shared<Args>();
  auto run = [&flags, url, a, exit_code](bool new_password,
                                         const std::function<Status(const DirectoryLogin&)>& body) {
    auto login = ResolveDirectoryLogin(flags, *url, a->password_stdin, new_password);
    Status s = login.ok() ? body(*login) : login.status();
    if (login.ok()) Wipe(login->password);
    *exit_code = s.ok() ? 0 : Fail(s);
  };
  auto add_password_stdin = [a](CLI::App* cmd) {
    cmd->add_flag("--password-stdin", a->password_stdin,
                  "read the password from standard input (else FERRY_PASSWORD, else a prompt)");
  };

  auto* reg = app.add_subcommand("register", "create an account on the P2P directory");
  add_password_stdin(reg);
  reg->callback([run] {
    run(true, [](const DirectoryLogin& login) -> Status {
      auto client = Connect(login);
      if (!client.ok()) return client.status();
      auto name = (*client)->Register(login.user, login.password);
      if (!name.ok()) return name.status();
      std::cout << fmt::format("registered '{}' at {}\n", ForDisplay(*name),
                               (*client)->endpoint().Url());
      return Status::Ok();
    });
  });

  auto* search = app.add_subcommand(
      "search", "find files shared by online peers, by a part of their name or by content");
  search->add_option("text", a->text, "a part of the file name (case does not matter)");
  search->add_option("--sha256", a->sha256, "the file's SHA-256 (64 hex digits)");
  search->add_option("--limit", a->limit, "most hits to show (1-1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  search->add_option("--offset", a->offset, "hits to skip, for paging")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  search->add_flag("--json", a->json, "print the hits as JSON");
  add_password_stdin(search);
  search->callback([run, a, exit_code] {
    // Checked before any prompt for a password.
    if (a->text.empty() == a->sha256.empty()) {
      *exit_code = Fail(Status::InvalidArgument("give either TEXT or --sha256 HEX"));
      return;
    }
    if (!a->sha256.empty() && !IsSha256Hex(a->sha256)) {
      *exit_code = Fail(Status::InvalidArgument(
          fmt::format("'{}' is not a SHA-256 (64 hex digits)", ForDisplay(a->sha256))));
      return;
    }
    run(false, [a](const DirectoryLogin& login) {
      return WithSession(login, [a](DirectoryClient& c) { return Search(c, *a); });
    });
  });

  auto* peers = app.add_subcommand("peers", "list the peers online in the P2P directory");
  peers->add_flag("--files", a->files, "also list each peer's files");
  peers->add_flag("--json", a->json, "print the peers as JSON");
  add_password_stdin(peers);
  peers->callback([run, a] {
    run(false, [a](const DirectoryLogin& login) {
      return WithSession(login, [a](DirectoryClient& c) { return Peers(c, *a); });
    });
  });
}

}  // namespace ferry
