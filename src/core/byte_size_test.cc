#include "core/byte_size.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(ByteSizeTest, ParsesSuffixes) {
  EXPECT_EQ(*ParseByteSize("0"), 0);
  EXPECT_EQ(*ParseByteSize("512"), 512);
  EXPECT_EQ(*ParseByteSize("4K"), 4096);
  EXPECT_EQ(*ParseByteSize("10G"), int64_t{10} << 30);
  EXPECT_EQ(*ParseByteSize("10g"), int64_t{10} << 30);
  EXPECT_EQ(*ParseByteSize("10GiB"), int64_t{10} << 30);
  EXPECT_EQ(*ParseByteSize("10GB"), int64_t{10} << 30);
  EXPECT_EQ(*ParseByteSize("1.5M"), 3 << 19);
  EXPECT_EQ(*ParseByteSize("2T"), int64_t{2} << 40);
}

TEST(ByteSizeTest, RefusesWhatIsNotASize) {
  for (const char* bad : {"", "G", "-1", "1X", "1.", ".5G", "1e9", "10 G", "99999999999T"}) {
    auto r = ParseByteSize(bad);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(ByteSizeTest, ParsesRates) {
  EXPECT_EQ(*ParseRate(""), 0) << "no limit";
  EXPECT_EQ(*ParseRate("500K"), 500 * 1024);
  EXPECT_EQ(*ParseRate("4m"), 4 << 20);
  EXPECT_EQ(*ParseRate("1.5M"), 3 << 19);
  for (const char* bad : {"0", "-1M", "fast", "10 M"}) {
    auto r = ParseRate(bad);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().message(),
              std::string("'") + bad + "' is not a rate like 500K, 10M or 1G (bytes per second)");
  }
}

TEST(ByteSizeTest, Formats) {
  EXPECT_EQ(FormatByteSize(812), "812 B");
  EXPECT_EQ(FormatByteSize(int64_t{10} << 30), "10.0 GiB");
  EXPECT_EQ(FormatByteSize(3 << 19), "1.5 MiB");
}

}  // namespace
}  // namespace ferry
