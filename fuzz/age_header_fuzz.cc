// libFuzzer target for age decryption: the header parser, the scrypt stanza
// checks and the STREAM payload, through age::Decrypt on an in-memory file.
//
// Input: an age file; the passphrase is "fuzz" (the seed corpus holds files
// encrypted to it with tiny work factors, so the payload is reached too).
// Work factors above 2^10 are refused before scrypt, so no input is slow.
// Any outcome is fine except a crash, an unexpected status code, or plaintext
// written by a decryption that failed before the header authenticated.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "core/unique_fd.h"
#include "jobs/age.h"
#include "jobs/job_control.h"

namespace {

using ferry::Code;

ferry::UniqueFd MemFd(const char* name) {
  ferry::UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd.valid()) std::abort();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ferry::UniqueFd in = MemFd("age-in");
  ferry::UniqueFd out = MemFd("age-out");
  if (size > 0 && ::write(in.get(), data, size) != static_cast<ssize_t>(size)) std::abort();
  if (::lseek(in.get(), 0, SEEK_SET) != 0) std::abort();
  ferry::jobs::CountingJobControl control;
  ferry::Status s = ferry::jobs::age::Decrypt(in.get(), out.get(), "fuzz", control,
                                              {.threads = 1, .max_scrypt_log_n = 10});
  static const std::set<Code> kExpected = {
      Code::kOk,       Code::kInvalidArgument,  Code::kFailedPrecondition, Code::kPermissionDenied,
      Code::kDataLoss, Code::kResourceExhausted};
  if (kExpected.count(s.code()) == 0) {
    std::fprintf(stderr, "unexpected status: %s\n", s.ToString().c_str());
    std::abort();
  }
  // Nothing is written before the header authenticates, and a header with a
  // wrong passphrase or an unacceptable stanza never does.
  if (s.code() != Code::kOk && s.code() != Code::kDataLoss &&
      ::lseek(out.get(), 0, SEEK_END) != 0) {
    std::fprintf(stderr, "plaintext written by a refused file: %s\n", s.ToString().c_str());
    std::abort();
  }
  return 0;
}
