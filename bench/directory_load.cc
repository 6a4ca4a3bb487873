// Fills a running `ferry directory` for the directory benchmark: registers a
// few users, logs each in, announces `peers` peers sharing `files` files each
// over several keep-alive connections, and writes what the wrk scripts read:
//
//   PEERS_OUT    one "peer_id token" line per announced peer (heartbeat.lua)
//   QUERIES_OUT  one URL-encoded search text per line (search.lua), each a
//                piece of names that exist, chosen to match some but not most
//
// File names are two to four words from a built-in list (with separators, a
// number or year now and then, and an extension), so substring searches hit
// the way they would on real shares; a tenth of each peer's files come from a
// pool of popular files (same name, size and content on many peers). Sizes,
// times and hashes are random. The data depends only on --seed, so two runs
// (SQLite, PostgreSQL) load the same entries.
//
//   ferry_directory_load --url http://127.0.0.1:7080 --peers-out peers.txt
//                        --queries-out queries.txt [--peers 10000] [--files 100]
//                        [--users 8] [--threads 4] [--seed 1]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Words file names are made of: everyday nouns and adjectives, music, film and
// photo vocabulary, places and a few names.
constexpr std::string_view kWords[] = {
    "abbey",     "acoustic", "admiral",  "after",    "air",      "alpine",     "amber",
    "anchor",    "angel",    "anthem",   "apple",    "april",    "archive",    "arctic",
    "autumn",    "avenue",   "backup",   "ballad",   "bamboo",   "band",       "banner",
    "baroque",   "basin",    "bay",      "beach",    "beacon",   "bear",       "beat",
    "bells",     "berlin",   "birch",    "bird",     "birthday", "bitter",     "black",
    "blossom",   "blue",     "blues",    "boat",     "bonus",    "border",     "boulevard",
    "breeze",    "bridge",   "bright",   "broken",   "bronze",   "brook",      "budget",
    "cabin",     "cactus",   "cairo",    "camera",   "campus",   "candle",     "canyon",
    "capital",   "captain",  "carbon",   "cargo",    "carnival", "castle",     "cathedral",
    "cedar",     "cellar",   "chamber",  "chapter",  "charcoal", "cherry",     "chess",
    "chorus",    "cinema",   "circle",   "citadel",  "city",     "classic",    "clay",
    "cliff",     "clock",    "cloud",    "coast",    "cobalt",   "coffee",     "comet",
    "concert",   "copper",   "coral",    "corner",   "cosmic",   "cotton",     "country",
    "crimson",   "crystal",  "dance",    "dawn",     "december", "deep",       "delta",
    "demo",      "desert",   "diamond",  "diary",    "digital",  "dinner",     "disco",
    "distant",   "dragon",   "dream",    "drive",    "dublin",   "dune",       "dusk",
    "eagle",     "early",    "earth",    "echo",     "eclipse",  "edition",    "electric",
    "ember",     "empire",   "engine",   "epic",     "escape",   "evening",    "falcon",
    "family",    "farewell", "feather",  "festival", "fever",    "field",      "final",
    "fire",      "flame",    "flight",   "flower",   "folk",     "forest",     "fortune",
    "fountain",  "fox",      "frame",    "freedom",  "frost",    "funk",       "galaxy",
    "garden",    "gate",     "ghost",    "giant",    "glacier",  "glass",      "gold",
    "golden",    "gospel",   "granite",  "gravity",  "green",    "grove",      "guitar",
    "harbor",    "harvest",  "haven",    "hazel",    "heart",    "heaven",     "helsinki",
    "heritage",  "hidden",   "highway",  "hill",     "holiday",  "hollow",     "home",
    "honey",     "horizon",  "hunter",   "hymn",     "ice",      "indigo",     "island",
    "ivory",     "jade",     "jasmine",  "jazz",     "journey",  "july",       "jungle",
    "kingdom",   "kitchen",  "lagoon",   "lake",     "lantern",  "last",       "lava",
    "legend",    "lemon",    "letters",  "library",  "light",    "lighthouse", "lilac",
    "lisbon",    "live",     "london",   "lost",     "lotus",    "lullaby",    "lunar",
    "madrid",    "magic",    "magnolia", "maple",    "marble",   "march",      "market",
    "meadow",    "melody",   "memory",   "mercury",  "meridian", "midnight",   "mirror",
    "mist",      "monday",   "moon",     "morning",  "mosaic",   "mountain",   "museum",
    "night",     "noble",    "nocturne", "north",    "notes",    "november",   "oasis",
    "ocean",     "october",  "olive",    "opera",    "orange",   "orbit",      "orchard",
    "orchestra", "origin",   "oslo",     "pacific",  "palace",   "paper",      "paradise",
    "paris",     "party",    "passage",  "pearl",    "phoenix",  "piano",      "pilot",
    "pine",      "planet",   "poem",     "polar",    "prague",   "prairie",    "prelude",
    "prism",     "project",  "purple",   "quartz",   "quiet",    "radio",      "rain",
    "rainbow",   "raven",    "record",   "red",      "reef",     "remix",      "report",
    "rhapsody",  "ridge",    "river",    "road",     "rock",     "rome",       "rose",
    "royal",     "ruby",     "rust",     "saffron",  "sahara",   "sail",       "salt",
    "sapphire",  "saturn",   "scarlet",  "school",   "season",   "secret",     "serenade",
    "shadow",    "shelter",  "shore",    "signal",   "silent",   "silver",     "sketch",
    "sky",       "snow",     "solar",    "solstice", "sonata",   "song",       "soul",
    "spring",    "square",   "star",     "station",  "steel",    "stone",      "storm",
    "story",     "street",   "summer",   "summit",   "sunday",   "sunrise",    "sunset",
    "swan",      "symphony", "tango",    "temple",   "thunder",  "tide",       "tiger",
    "timber",    "tokyo",    "tower",    "trail",    "train",    "travel",     "tropical",
    "tulip",     "tundra",   "twilight", "union",    "urban",    "valley",     "vapor",
    "velvet",    "venice",   "violet",   "violin",   "vision",   "voyage",     "waltz",
    "wander",    "water",    "wave",     "wedding",  "west",     "whisper",    "white",
    "wild",      "willow",   "wind",     "window",   "winter",   "wolf",       "wonder",
    "yellow",    "zenith",   "zephyr",
};
constexpr std::string_view kExtensions[] = {
    ".mp3", ".ogg", ".flac",   ".jpg",  ".png", ".mkv", ".mp4", ".pdf",  ".epub", ".txt",
    ".zip", ".iso", ".tar.gz", ".docx", ".odt", ".wav", ".avi", ".webm", ".cr2",  ".csv",
};
constexpr std::string_view kFolders[] = {
    "music",     "videos", "photos", "books",    "documents",
    "downloads", "shared", "backup", "podcasts", "archive",
};
constexpr char kSeparators[] = {' ', '_', '-', '.'};

struct File {
  std::string path;
  int64_t size;
  std::string sha256;
  int64_t mtime;
};

std::string RandomHex(std::mt19937_64& rng, int bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < bytes; ++i) {
    auto b = rng();
    out += kHex[(b >> 4) & 15];
    out += kHex[b & 15];
  }
  return out;
}

template <typename T, size_t N>
const T& Pick(std::mt19937_64& rng, const T (&items)[N]) {
  return items[rng() % N];
}

// "Blue Moon Harbor 2019.mp3", "winter_sunset-07.jpg", ...
std::string RandomName(std::mt19937_64& rng) {
  int words = 2 + static_cast<int>(rng() % 3);
  char sep = Pick(rng, kSeparators);
  bool capitalized = rng() % 2 == 0;
  std::string name;
  for (int w = 0; w < words; ++w) {
    if (w > 0) name += sep;
    std::string word(Pick(rng, kWords));
    if (capitalized) word[0] = static_cast<char>(word[0] - 'a' + 'A');
    name += word;
  }
  switch (rng() % 4) {
    case 0:
      name += fmt::format("{}{}", sep, 1990 + rng() % 36);
      break;
    case 1:
      name += fmt::format("{}{:02}", sep, 1 + rng() % 30);
      break;
    default:
      break;
  }
  return name + std::string(Pick(rng, kExtensions));
}

// Log-uniform from 1 KiB to 4 GiB.
int64_t RandomSize(std::mt19937_64& rng) {
  double exp = 10 + std::uniform_real_distribution<double>(0, 22)(rng);
  return static_cast<int64_t>(std::pow(2.0, exp));
}

File RandomFile(std::mt19937_64& rng) {
  File f;
  f.path = fmt::format("{}/{}", Pick(rng, kFolders), RandomName(rng));
  f.size = RandomSize(rng);
  f.sha256 = RandomHex(rng, 32);
  f.mtime = 1'420'000'000 + static_cast<int64_t>(rng() % 340'000'000);
  return f;
}

// Everything one peer shares; depends only on (seed, peer index).
std::vector<File> PeerFiles(uint64_t seed, int peer, int count, const std::vector<File>& popular) {
  std::mt19937_64 rng(seed * 1'000'003 + static_cast<uint64_t>(peer));
  std::vector<File> files;
  std::unordered_set<std::string> paths;
  for (int attempts = 0; static_cast<int>(files.size()) < count && attempts < count * 10;
       ++attempts) {
    File f = rng() % 10 == 0 ? popular[rng() % popular.size()] : RandomFile(rng);
    if (paths.insert(f.path).second) files.push_back(std::move(f));
  }
  return files;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

struct QueryStats {
  std::vector<std::string> queries;
  std::vector<int64_t> estimated_hits;
};

// Search texts cut from the names of a sample of the files: a whole word, a
// 4-6 letter piece of one, or two words with their separator. Keeps those a
// sample scan says match from 1 file to 1% of all, so a query returns some
// hits but never most of the index.
QueryStats ChooseQueries(std::mt19937_64& rng, const std::vector<std::string>& sample_names,
                         int64_t total_files, int wanted) {
  QueryStats out;
  std::unordered_set<std::string> seen;
  double scale = static_cast<double>(total_files) / static_cast<double>(sample_names.size());
  for (int attempts = 0; static_cast<int>(out.queries.size()) < wanted && attempts < wanted * 20;
       ++attempts) {
    const std::string& name = sample_names[rng() % sample_names.size()];
    std::string stem = name.substr(0, name.find_last_of('.'));
    std::vector<std::string> words;
    std::string current;
    std::vector<char> seps;
    for (char c : stem) {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        current += c;
      } else {
        if (!current.empty()) words.push_back(current);
        if (!current.empty()) seps.push_back(c);
        current.clear();
      }
    }
    if (!current.empty()) words.push_back(current);
    if (words.size() < 2) continue;
    std::string query;
    size_t w = rng() % words.size();
    switch (rng() % 3) {
      case 0:
        query = words[w];
        break;
      case 1: {
        const std::string& word = words[w];
        size_t len = std::min<size_t>(word.size(), 4 + rng() % 3);
        query = word.substr(rng() % (word.size() - len + 1), len);
        break;
      }
      default:
        w = std::min(w, words.size() - 2);
        query = words[w] + seps[w] + words[w + 1];
        break;
    }
    query = Lower(query);
    if (query.size() < 3 || !seen.insert(query).second) continue;
    int64_t hits = 0;
    for (const auto& n : sample_names) hits += n.find(query) != std::string::npos;
    auto estimate = static_cast<int64_t>(static_cast<double>(std::max<int64_t>(hits, 1)) * scale);
    if (estimate > total_files / 100) continue;
    out.queries.push_back(query);
    out.estimated_hits.push_back(estimate);
  }
  return out;
}

bool Ok(const httplib::Result& res, int want, const std::string& what) {
  if (res && res->status == want) return true;
  std::cerr << "ferry_directory_load: " << what << ": "
            << (res ? fmt::format("HTTP {} {}", res->status, res->body)
                    : httplib::to_string(res.error()))
            << "\n";
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("fills a ferry directory for the benchmark");
  std::string url, peers_out, queries_out, password = "bench-password";
  int peers = 10'000, files = 100, users = 8, threads = 4, queries = 500;
  uint64_t seed = 1;
  app.add_option("--url", url, "http://HOST:PORT of a `ferry directory --plain-http`")->required();
  app.add_option("--peers-out", peers_out, "writes 'peer_id token' lines")->required();
  app.add_option("--queries-out", queries_out, "writes URL-encoded search texts")->required();
  app.add_option("--peers", peers);
  app.add_option("--files", files, "files per peer");
  app.add_option("--users", users, "accounts the peers are spread over");
  app.add_option("--threads", threads, "concurrent announcing connections");
  app.add_option("--queries", queries, "search texts to write");
  app.add_option("--seed", seed);
  CLI11_PARSE(app, argc, argv);
  if (peers < 1 || files < 1 || users < 1 || threads < 1 || queries < 1) {
    std::cerr << "--peers, --files, --users, --threads and --queries must be at least 1\n";
    return 2;
  }

  auto client = [&] {
    auto c = std::make_unique<httplib::Client>(url);
    c->set_keep_alive(true);
    c->set_connection_timeout(std::chrono::seconds(10));
    c->set_read_timeout(std::chrono::seconds(120));
    c->set_write_timeout(std::chrono::seconds(120));
    return c;
  };

  // Accounts and one session each (a user name taken by an earlier run is fine).
  std::vector<std::string> tokens;
  {
    auto c = client();
    for (int u = 0; u < users; ++u) {
      std::string name = fmt::format("bench{}", u);
      json creds = {{"username", name}, {"password", password}};
      auto reg = c->Post("/api/v1/register", creds.dump(), "application/json");
      if (!(reg && reg->status == 409) && !Ok(reg, 201, "register " + name)) return 1;
      auto login = c->Post("/api/v1/login", creds.dump(), "application/json");
      if (!Ok(login, 200, "login " + name)) return 1;
      tokens.push_back(json::parse(login->body).at("token").get<std::string>());
    }
  }

  std::mt19937_64 rng(seed);
  std::vector<File> popular;
  for (int i = 0; i < 2000; ++i) popular.push_back(RandomFile(rng));

  std::vector<std::string> peer_ids(static_cast<size_t>(peers));
  std::vector<std::string> sample_names;  // every 10th file name, lower case
  std::mutex sample_mu;
  std::atomic<int> next{0}, done{0};
  std::atomic<bool> failed{false};
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto c = client();
      std::mt19937_64 peer_rng(seed + 7919 * static_cast<uint64_t>(t + 1));
      std::vector<std::string> sample;
      for (int p; !failed && (p = next++) < peers;) {
        auto list = PeerFiles(seed, p, files, popular);
        json body = {
            {"address", fmt::format("10.{}.{}.{}:7443", (p >> 16) & 255, (p >> 8) & 255, p & 255)},
            {"cert_sha256", RandomHex(peer_rng, 32)},
            {"files", json::array()}};
        for (size_t i = 0; i < list.size(); ++i) {
          const File& f = list[i];
          body["files"].push_back(
              {{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}, {"mtime", f.mtime}});
          if (i % 10 == 0) sample.push_back(Lower(f.path.substr(f.path.rfind('/') + 1)));
        }
        httplib::Headers auth = {
            {"Authorization", "Bearer " + tokens[static_cast<size_t>(p % users)]}};
        std::string text = body.dump();
        // A dropped keep-alive connection is retried on a new one, a few times.
        auto res = c->Post("/api/v1/announce", auth, text, "application/json");
        for (int attempt = 1; !res && attempt < 3; ++attempt) {
          res = c->Post("/api/v1/announce", auth, text, "application/json");
        }
        if (!Ok(res, 200, fmt::format("announce peer {}", p))) {
          failed = true;
          break;
        }
        peer_ids[static_cast<size_t>(p)] = json::parse(res->body).at("peer_id").get<std::string>();
        int n = ++done;
        if (n % 1000 == 0) {
          double s = std::chrono::duration<double>(Clock::now() - start).count();
          std::cerr << fmt::format(
              "ferry_directory_load: {} peers ({:.0f} peers/s, {:.0f} files/s)\n", n, n / s,
              n * static_cast<double>(files) / s);
        }
      }
      std::lock_guard lock(sample_mu);
      sample_names.insert(sample_names.end(), sample.begin(), sample.end());
    });
  }
  for (auto& w : workers) w.join();
  if (failed) return 1;
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::ofstream peers_file(peers_out);
  for (int p = 0; p < peers; ++p) {
    peers_file << peer_ids[static_cast<size_t>(p)] << ' ' << tokens[static_cast<size_t>(p % users)]
               << '\n';
  }
  // The sample's order depends on thread timing; sort it so the queries do not.
  std::sort(sample_names.begin(), sample_names.end());
  std::mt19937_64 query_rng(seed + 1);
  auto chosen = ChooseQueries(query_rng, sample_names, int64_t{peers} * files, queries);
  std::ofstream queries_file(queries_out);
  for (const auto& q : chosen.queries) queries_file << UrlEncode(q) << '\n';
  if (!peers_file || !queries_file) {
    std::cerr << "ferry_directory_load: cannot write " << peers_out << " or " << queries_out
              << "\n";
    return 1;
  }
  auto hits = chosen.estimated_hits;
  std::sort(hits.begin(), hits.end());
  auto at = [&](double q) {
    return hits.empty() ? 0 : hits[static_cast<size_t>(q * (hits.size() - 1))];
  };
  // One line for the benchmark script: key=value pairs.
  std::cout << fmt::format(
      "peers={} files={} users={} words={} seconds={:.1f} queries={} hits_p50={} hits_p90={} "
      "hits_max={}\n",
      peers, int64_t{peers} * files, users, std::size(kWords), seconds, chosen.queries.size(),
      at(0.5), at(0.9), at(1.0));
  return 0;
}
