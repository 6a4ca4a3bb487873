#include "transfer/chunk_tree.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/sha256.h"
#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

// Hex digests of the strings "0", "1", ... "n-1": leaves anyone can recompute.
std::vector<std::string> Leaves(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(Sha256::HexOf(std::to_string(i)));
  return out;
}

std::string Node(const std::string& left_hex, const std::string& right_hex) {
  Digest l = *DigestFromHex(left_hex), r = *DigestFromHex(right_hex);
  Sha256 h;
  const uint8_t prefix = 0x01;
  h.Update(&prefix, 1);
  h.Update(l.data(), l.size());
  h.Update(r.data(), r.size());
  return h.FinishHex();
}

TEST(ChunkTreeTest, EmptyAndSingleChunkRoots) {
  EXPECT_EQ(*ChunkTreeRootHex({}), Sha256::HexOf(""));
  auto one = Leaves(1);
  EXPECT_EQ(*ChunkTreeRootHex(one), one[0]);
}

TEST(ChunkTreeTest, PairsLayerByLayerAndPromotesTheOddNode) {
  auto l = Leaves(5);
  EXPECT_EQ(*ChunkTreeRootHex({l[0], l[1]}), Node(l[0], l[1]));
  EXPECT_EQ(*ChunkTreeRootHex({l[0], l[1], l[2]}), Node(Node(l[0], l[1]), l[2]));
  EXPECT_EQ(*ChunkTreeRootHex(l), Node(Node(Node(l[0], l[1]), Node(l[2], l[3])), l[4]));
}

// Pinned values (computed outside ferry, with Python's hashlib): the root is
// part of the wire format and must never change.
TEST(ChunkTreeTest, RootsAreStable) {
  EXPECT_EQ(*ChunkTreeRootHex(Leaves(3)),
            "0fb0c89f31831c334e4cdeb69ed2245bb59715219c8b7a86f0ddcf93cb1a9c8b");
  EXPECT_EQ(*ChunkTreeRootHex(Leaves(5)),
            "5011aa4743d4f6904e9a1a3ef008e953ce03834b2e21c6478c56fee498f6c4ff");
}

TEST(ChunkTreeTest, AnyFlippedChunkHashChangesTheRoot) {
  for (int n : {1, 2, 3, 7, 8, 9}) {
    auto leaves = Leaves(n);
    const std::string root = *ChunkTreeRootHex(leaves);
    for (int i = 0; i < n; ++i) {
      auto bad = leaves;
      bad[i][63] = bad[i][63] == '0' ? '1' : '0';
      EXPECT_NE(*ChunkTreeRootHex(bad), root) << n << " " << i;
    }
    if (n > 1) {  // swapping two chunks changes it too
      auto swapped = leaves;
      std::swap(swapped[0], swapped[1]);
      EXPECT_NE(*ChunkTreeRootHex(swapped), root) << n;
    }
  }
}

TEST(ChunkTreeTest, UpperCaseHexGivesTheSameLowerCaseRoot) {
  auto leaves = Leaves(3);
  auto upper = leaves;
  for (auto& h : upper) {
    for (auto& c : h) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  EXPECT_EQ(*ChunkTreeRootHex(upper), *ChunkTreeRootHex(leaves));
}

TEST(ChunkTreeTest, RefusesMalformedHashes) {
  auto leaves = Leaves(2);
  leaves[1] = "zz" + leaves[1].substr(2);
  auto r = ChunkTreeRootHex(leaves);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("chunk hash 1"), std::string::npos);
  EXPECT_FALSE(ChunkTreeRootHex({"abc"}).ok());
}

TEST(ChunkTreeTest, VerifiesAListAgainstItsRootAndTheFileSize) {
  auto leaves = Leaves(3);
  const std::string root = *ChunkTreeRootHex(leaves);
  const int64_t size = 2 * kChunkBytes + 5;  // three chunks
  EXPECT_TRUE(VerifyChunkHashes(leaves, size, root).ok());

  auto bad = leaves;
  bad[2][0] = bad[2][0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(VerifyChunkHashes(bad, size, root).code(), Code::kDataLoss);
  // The right root but a size that needs another number of chunks.
  EXPECT_EQ(VerifyChunkHashes(leaves, 3 * kChunkBytes + 1, root).code(), Code::kDataLoss);
  EXPECT_EQ(VerifyChunkHashes(leaves, 2 * kChunkBytes, root).code(), Code::kDataLoss);
  // Interior nodes passed off as leaves: [H(l0,l1), l2] has the same root.
  std::vector<std::string> collapsed = {Node(leaves[0], leaves[1]), leaves[2]};
  EXPECT_EQ(*ChunkTreeRootHex(collapsed), root);
  EXPECT_EQ(VerifyChunkHashes(collapsed, size, root).code(), Code::kDataLoss);
  EXPECT_EQ(VerifyChunkHashes(leaves, size, "not-hex").code(), Code::kInvalidArgument);
  EXPECT_TRUE(VerifyChunkHashes({}, 0, Sha256::HexOf("")).ok());
}

}  // namespace
}  // namespace ferry
