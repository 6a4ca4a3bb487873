#include "directory/strict_json.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

namespace ferry {
namespace {

std::string Nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

void ExpectInvalid(const Result<nlohmann::json>& r, const std::string& fragment) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().ToString();
  EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
}

TEST(StrictJsonTest, BuildsTheSameDocumentAsNlohmann) {
  const std::string text =
      R"({"a":[1,-2,3.5,"x",true,false,null,{"b":{}},[]],"c":"\u00e9","d":18446744073709551615})";
  auto parsed = ParseStrictJson(text, 32);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, nlohmann::json::parse(text));
  auto scalar = ParseStrictJson("  7 ", 1);
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(*scalar, 7);
}

TEST(StrictJsonTest, NestingUpToTheLimitIsAccepted) {
  EXPECT_TRUE(ParseStrictJson(Nested(32), 32).ok());
  EXPECT_TRUE(ParseStrictJson(R"({"a":{"b":[1]}})", 3).ok());
}

TEST(StrictJsonTest, NestingPastTheLimitIsRefused) {
  ExpectInvalid(ParseStrictJson(Nested(33), 32), "nests deeper than 32 levels");
  ExpectInvalid(ParseStrictJson(R"({"a":{"b":[1]}})", 2), "nests deeper than 2 levels");
}

TEST(StrictJsonTest, ADeepDocumentIsRefusedWithoutReadingItAll) {
  // 16 MiB of '[' (no closing brackets): refused at level 33, in the time it
  // takes to read 33 bytes, not the whole body.
  const std::string deep(16 << 20, '[');
  auto start = std::chrono::steady_clock::now();
  ExpectInvalid(ParseStrictJson(deep, 32), "nests deeper than 32 levels");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
}

TEST(StrictJsonTest, AKeyTwiceInOneObjectIsRefused) {
  ExpectInvalid(ParseStrictJson(R"({"username":"a","password":"b","username":"c"})", 32),
                "the key 'username' appears twice in one object");
  ExpectInvalid(ParseStrictJson(R"({"a":[{"x":1,"x":1}]})", 32), "'x' appears twice");
  // The same key in different objects is fine.
  EXPECT_TRUE(ParseStrictJson(R"({"a":{"x":1},"b":{"x":2},"x":[{"x":3},{"x":4}]})", 32).ok());
}

TEST(StrictJsonTest, InvalidJsonSaysWhere) {
  ExpectInvalid(ParseStrictJson("{", 32), "not valid JSON (at byte ");
  ExpectInvalid(ParseStrictJson("\"\xff\"", 32), "not valid JSON");
  ExpectInvalid(ParseStrictJson("{} {}", 32), "not valid JSON");
  ExpectInvalid(ParseStrictJson("", 32), "not valid JSON");
}

}  // namespace
}  // namespace ferry
