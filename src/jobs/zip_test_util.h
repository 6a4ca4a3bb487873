// Helpers shared by the Zip tests: a scratch directory with a home in it,
// snapshots of directory trees, running the real zip/unzip, and crafting
// archives (hostile ones included) with libzip.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/home_fs.h"
#include "core/rel_path.h"
#include "core/unique_fd.h"
#include "jobs/job_control.h"

namespace ferry::jobs::testing {

namespace fs = std::filesystem;

inline std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteAll(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t k = 0; k < 8 && i + k < n; ++k) s[i + k] = static_cast<char>(v >> (8 * k));
  }
  return s;
}

// Text-like, compressible, but not trivially repetitive.
inline std::string TextBytes(size_t n, uint64_t seed) {
  static const char* const kWords[] = {"ferry ", "zip ",    "archive ", "home ",  "deflate ",
                                       "block ", "stream ", "path\n",   "mtime ", "crc "};
  std::mt19937_64 rng(seed);
  std::string s;
  s.reserve(n + 16);
  while (s.size() < n) {
    s += kWords[rng() % 10];
    if (rng() % 7 == 0) s += std::to_string(rng() % 100000);
  }
  s.resize(n);
  return s;
}

// Relative path -> "D" for a directory, "F:<contents>" for a file,
// "L:<target>" for a symlink, "?" for anything else. Symlinks are not followed.
inline std::map<std::string, std::string> Snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    std::string rel = it->path().lexically_relative(root).string();
    auto st = it->symlink_status();
    if (fs::is_symlink(st)) {
      out[rel] = "L:" + fs::read_symlink(it->path()).string();
    } else if (fs::is_directory(st)) {
      out[rel] = "D";
    } else if (fs::is_regular_file(st)) {
      out[rel] = "F:" + ReadAll(it->path());
    } else {
      out[rel] = "?";
    }
  }
  return out;
}

// Runs a shell command with a UTF-8 locale; returns its exit status.
inline int Shell(const std::string& command) {
  int rc = std::system(("export LC_ALL=C.UTF-8; (" + command + ") >/dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

inline std::string Quote(const fs::path& p) { return "'" + p.string() + "'"; }

inline struct stat Lstat(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}

inline void SetMtime(const fs::path& p, time_t t) {
  struct timespec times[2] = {{t, 0}, {t, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << p;
}

inline UniqueFd OpenFd(const fs::path& p, int flags) {
  UniqueFd fd(::open(p.c_str(), flags | O_CLOEXEC, 0600));
  EXPECT_TRUE(fd.valid()) << p;
  return fd;
}

// A JobControl that asks to stop once `limit` bytes were reported done.
class StopAfter final : public JobControl {
 public:
  explicit StopAfter(uint64_t limit) : limit_(limit) {}
  void SetTotal(uint64_t) override {}
  void Advance(uint64_t bytes) override { done_ += bytes; }
  bool StopRequested() const override { return done_ >= limit_; }

 private:
  uint64_t limit_;
  std::atomic<uint64_t> done_{0};
};

// One entry of a crafted archive.
struct Crafted {
  std::string name;
  std::string data;
  enum Type { kFile, kDir, kSymlink } type = kFile;
  zip_int32_t method = ZIP_CM_DEFLATE;
};

// Writes `entries` with libzip, which takes any name it is given.
inline void CraftZip(const fs::path& out, const std::vector<Crafted>& entries) {
  int err = 0;
  zip_t* za = zip_open(out.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(za, nullptr) << err;
  for (const Crafted& e : entries) {
    zip_int64_t idx;
    if (e.type == Crafted::kDir) {
      idx = zip_dir_add(za, e.name.c_str(), 0);
    } else {
      zip_source_t* src = zip_source_buffer(za, e.data.data(), e.data.size(), 0);
      ASSERT_NE(src, nullptr);
      idx = zip_file_add(za, e.name.c_str(), src, 0);
      if (idx < 0) zip_source_free(src);
    }
    ASSERT_GE(idx, 0) << e.name << ": " << zip_strerror(za);
    auto i = static_cast<zip_uint64_t>(idx);
    if (e.type == Crafted::kSymlink) {
      ASSERT_EQ(zip_file_set_external_attributes(za, i, 0, ZIP_OPSYS_UNIX,
                                                 static_cast<zip_uint32_t>(S_IFLNK | 0777) << 16),
                0);
    }
    if (e.type == Crafted::kFile) {
      ASSERT_EQ(zip_set_file_compression(za, i, e.method, 0), 0);
    }
  }
  ASSERT_EQ(zip_close(za), 0) << zip_strerror(za);
}

// Little-endian field patching in local ("PK\3\4") and central ("PK\1\2")
// headers of the entry called `name`.
struct HeaderField {
  size_t local_offset;
  size_t central_offset;
  int width;  // bytes
};
inline constexpr HeaderField kMethodField{8, 10, 2};
inline constexpr HeaderField kCrcField{14, 16, 4};
inline constexpr HeaderField kUncompressedSizeField{22, 24, 4};

inline int PatchHeaders(std::string& zip, const std::string& name, HeaderField field,
                        uint32_t value) {
  auto u16 = [&](size_t at) {
    return static_cast<size_t>(static_cast<unsigned char>(zip[at])) |
           static_cast<size_t>(static_cast<unsigned char>(zip[at + 1])) << 8;
  };
  auto put = [&](size_t at) {
    for (int k = 0; k < field.width; ++k) zip[at + k] = static_cast<char>(value >> (8 * k));
  };
  int patched = 0;
  for (size_t p = 0; p + 46 <= zip.size(); ++p) {
    if (zip.compare(p, 4, "PK\3\4") == 0 && zip.compare(p + 30, name.size(), name) == 0 &&
        u16(p + 26) == name.size()) {
      put(p + field.local_offset);
      ++patched;
    } else if (zip.compare(p, 4, "PK\1\2") == 0 && zip.compare(p + 46, name.size(), name) == 0 &&
               u16(p + 28) == name.size()) {
      put(p + field.central_offset);
      ++patched;
    }
  }
  return patched;
}

// Entry names of an archive, in order, read back with libzip.
inline std::vector<std::string> ListZip(const fs::path& archive) {
  std::vector<std::string> names;
  int err = 0;
  zip_t* za = zip_open(archive.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
  EXPECT_NE(za, nullptr) << err;
  if (za == nullptr) return names;
  for (zip_int64_t i = 0; i < zip_get_num_entries(za, 0); ++i) {
    names.emplace_back(zip_get_name(za, static_cast<zip_uint64_t>(i), 0));
  }
  zip_discard(za);
  return names;
}

// A scratch directory holding "home" (with a HomeFs on it) and whatever else a test needs.
class ZipFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-zip-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    fs::create_directories(base_ / "home");
    auto h = HomeFs::Open((base_ / "home").string(), false);
    ASSERT_TRUE(h.ok());
    home_.emplace(std::move(h).value());
  }
  void TearDown() override {
    // Extracted directories may be read-only.
    for (auto& e : fs::recursive_directory_iterator(base_)) {
      if (e.is_directory(ec_) && !e.is_symlink(ec_)) {
        fs::permissions(e.path(), fs::perms::owner_all, fs::perm_options::add, ec_);
      }
    }
    fs::remove_all(base_);
  }

  static RelPath P(const std::string& s) { return *RelPath::Parse(s); }
  fs::path H(const std::string& rel) const { return base_ / "home" / rel; }

  std::error_code ec_;
  fs::path base_;
  std::optional<HomeFs> home_;
};

}  // namespace ferry::jobs::testing
