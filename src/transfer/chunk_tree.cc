#include "transfer/chunk_tree.h"

#include <fmt/format.h>

#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

constexpr uint8_t kNodePrefix = 0x01;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Digest HashNode(const Digest& left, const Digest& right) {
  Sha256 h;
  h.Update(&kNodePrefix, 1);
  h.Update(left.data(), left.size());
  h.Update(right.data(), right.size());
  return h.Finish();
}

}  // namespace

Result<Digest> DigestFromHex(std::string_view hex) {
  Digest out{};
  if (hex.size() != 2 * out.size()) {
    return Status::InvalidArgument(fmt::format("'{}' is not a SHA-256 (64 hex digits)", hex));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument(fmt::format("'{}' is not a SHA-256 (64 hex digits)", hex));
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

Digest ChunkTreeRoot(const std::vector<Digest>& chunk_sha256s) {
  if (chunk_sha256s.empty()) return Sha256().Finish();
  std::vector<Digest> layer = chunk_sha256s;
  while (layer.size() > 1) {
    size_t next = 0;
    for (size_t i = 0; i + 1 < layer.size(); i += 2)
      layer[next++] = HashNode(layer[i], layer[i + 1]);
    if (layer.size() % 2 == 1) layer[next++] = layer.back();  // the odd node is promoted
    layer.resize(next);
  }
  return layer.front();
}

Result<std::string> ChunkTreeRootHex(const std::vector<std::string>& chunk_sha256_hexes) {
  std::vector<Digest> leaves;
  leaves.reserve(chunk_sha256_hexes.size());
  for (size_t i = 0; i < chunk_sha256_hexes.size(); ++i) {
    auto d = DigestFromHex(chunk_sha256_hexes[i]);
    if (!d.ok()) {
      return Status::InvalidArgument(fmt::format("chunk hash {}: {}", i, d.status().message()));
    }
    leaves.push_back(*d);
  }
  return ToHex(ChunkTreeRoot(leaves));
}

Status VerifyChunkHashes(const std::vector<std::string>& chunk_sha256_hexes, int64_t size,
                         std::string_view root_hex) {
  auto want = DigestFromHex(root_hex);
  if (!want.ok()) return Status::InvalidArgument("chunk root: " + want.status().message());
  if (size < 0 || static_cast<int64_t>(chunk_sha256_hexes.size()) != ChunkCount(size)) {
    return Status::DataLoss(fmt::format("{} chunk hashes for a file of {} bytes, which has {}",
                                        chunk_sha256_hexes.size(), size, ChunkCount(size)));
  }
  auto got = ChunkTreeRootHex(chunk_sha256_hexes);
  if (!got.ok()) return got.status();
  if (*got != ToHex(*want)) {
    return Status::DataLoss(fmt::format(
        "the chunk hashes do not match their root {} (they give {})", ToHex(*want), *got));
  }
  return Status::Ok();
}

}  // namespace ferry
