#include "peer/done_record.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "transfer/publish.h"

namespace ferry {
namespace {

std::string Header(const std::string& sha256, int64_t chunk_count) {
  return fmt::format("ferry-done 1 {} {}\n", sha256, chunk_count);
}

}  // namespace

std::string DoneRecordName(const std::string& partial_leaf) { return partial_leaf + ".done"; }

Result<std::vector<bool>> LoadDoneRecord(const std::string& path, const std::string& sha256,
                                         int64_t chunk_count) {
  std::vector<bool> done(static_cast<size_t>(chunk_count), false);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return done;
    return Status::Unavailable(fmt::format("{}: {}", path, std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  std::string header = Header(sha256, chunk_count);
  if (s.size() != header.size() + done.size() || s.compare(0, header.size(), header) != 0) {
    return done;
  }
  for (size_t i = 0; i < done.size(); ++i) {
    char c = s[header.size() + i];
    if (c != '0' && c != '1') return std::vector<bool>(done.size(), false);
    done[i] = c == '1';
  }
  return done;
}

Status SaveDoneRecord(const std::string& path, const std::string& sha256,
                      const std::vector<bool>& done) {
  std::string s = Header(sha256, static_cast<int64_t>(done.size()));
  s.reserve(s.size() + done.size());
  for (bool d : done) s += d ? '1' : '0';
  return PublishFile(path, s, 0600);
}

}  // namespace ferry
