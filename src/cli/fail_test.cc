#include "cli/fail.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "client/connection.h"

namespace ferry {
namespace {

std::string FailOutput(const Status& s) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(Fail(s), 1);
  return ::testing::internal::GetCapturedStderr();
}

TEST(FailTest, EscapesControlCharacters) {
  std::string out = FailOutput(Status::NotFound("'a\x1b]0;pwned\x07' \r\x1b[2Jgone"));
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x07'), std::string::npos) << out;
  EXPECT_NE(out.find("ferry: NOT_FOUND: 'a\\x{1b}]0;pwned\\x{07}'"), std::string::npos) << out;
}

TEST(FailTest, KeepsTheLinesOfFerrysOwnMessages) {
  std::string out = FailOutput(Status::PermissionDenied("\nWARNING\nsecond line"));
  EXPECT_EQ(out, "ferry: PERMISSION_DENIED: \nWARNING\nsecond line\n");
}

TEST(FailTest, ServerTextCannotAddLines) {
  // FromGrpc escapes what the server says, line breaks included.
  Status s = FromGrpc(grpc::Status(grpc::StatusCode::NOT_FOUND, "x\nferry: all good\x1b[0m"));
  std::string out = FailOutput(s);
  EXPECT_EQ(out, "ferry: NOT_FOUND: x\\x{0a}ferry: all good\\x{1b}[0m\n");
}

TEST(FailTest, EscapesInvisibleAndBidiCharacters) {
  Status s = FromGrpc(
      grpc::Status(grpc::StatusCode::NOT_FOUND, "'/in\u200bvoice\u202etxt.exe' does not exist"));
  std::string out = FailOutput(s);
  EXPECT_EQ(out, "ferry: NOT_FOUND: '/in\\u{200b}voice\\u{202e}txt.exe' does not exist\n");
}

}  // namespace
}  // namespace ferry
