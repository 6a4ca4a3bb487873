// The chunk tree: one SHA-256 (the root) that commits to every grid chunk
// hash of a file (transfer_limits.h), so a fetcher that knows the root from a
// trusted source (the directory) can check a list of chunk hashes received
// from an untrusted peer before it trusts any of them. docs/protocol.md
// ("Chunk hashes and their root") defines it; it is part of the wire format.
//
//   leaves:  the SHA-256 digests (32 raw bytes) of the chunks, in grid order;
//   a node:  SHA-256(0x01 || left || right) over two 32-byte children;
//   a layer of odd length promotes its last node unchanged to the next layer;
//   root:    the single node left. One chunk: its own digest (which equals the
//            SHA-256 of the whole file). No chunk (an empty file): SHA-256 of
//            the empty string.
//
// The tree's shape follows from the chunk count alone, and a verifier takes
// the count from the file's size (ChunkCount), so a list of a different
// length, or interior nodes passed off as leaves, cannot match the root.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/sha256.h"
#include "core/status.h"

namespace ferry {

// The root over `chunk_sha256s` (leaves in grid order).
Digest ChunkTreeRoot(const std::vector<Digest>& chunk_sha256s);

// The same over hex digests (either case); the root in lower-case hex.
// INVALID_ARGUMENT naming the first entry that is not 64 hex digits.
Result<std::string> ChunkTreeRootHex(const std::vector<std::string>& chunk_sha256_hexes);

// Checks chunk hashes received for a file of `size` bytes against
// `root_hex` from a trusted source: OK only if there are exactly
// ChunkCount(size) well-formed hashes and their root is `root_hex`.
// DATA_LOSS when the count or the root differ (the sender is wrong),
// INVALID_ARGUMENT for a malformed hash or root.
Status VerifyChunkHashes(const std::vector<std::string>& chunk_sha256_hexes, int64_t size,
                         std::string_view root_hex);

// 32 bytes from 64 hex digits (either case); INVALID_ARGUMENT otherwise.
Result<Digest> DigestFromHex(std::string_view hex);

}  // namespace ferry
