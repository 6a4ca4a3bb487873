// The age v1 file format (https://age-encryption.org/v1) with a passphrase
// (scrypt) recipient: what `age -p` writes and `age -d` reads. Both directions
// stream: memory stays at a few MiB whatever the file size, and the 64 KiB
// STREAM chunks are sealed or opened on several threads, written in order.
//
// Thread safety: the functions are reentrant; each call uses its own threads
// and joins them before returning. They read `in_fd` sequentially with read(2)
// from its current offset until end of file (a pipe works) and append to
// `out_fd` with write(2). Neither fd is closed.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace ferry::jobs {

class JobControl;
class MemoryBudget;

namespace age {

// The scrypt work factor (log2 N) ferry writes, age's own default (~0.5-1 s,
// 256 MiB of memory), and the most Decrypt accepts unless told otherwise.
inline constexpr int kScryptLogN = 18;
// The most age itself accepts when decrypting.
inline constexpr int kMaxScryptLogN = 22;

// The memory one scrypt derivation holds: 128 * r * N bytes, r = 8.
uint64_t ScryptMemoryBytes(int log_n);

struct EncryptOptions {
  // log2 of scrypt's N, 1..kMaxScryptLogN.
  int scrypt_log_n = kScryptLogN;
  // Threads sealing chunks; 0 = UsableCpus(). At most 8 are used (memory is
  // 1 MiB per thread).
  int threads = 0;
  // When set, scrypt's memory is taken from it first (waiting for it); not owned.
  MemoryBudget* scrypt_memory = nullptr;
};

struct DecryptOptions {
  // As in EncryptOptions.
  int threads = 0;
  // The highest scrypt work factor (log2 N) a file may ask for, at most
  // kMaxScryptLogN. A header asking for more is refused before scrypt runs.
  int max_scrypt_log_n = kScryptLogN;
  // As in EncryptOptions.
  MemoryBudget* scrypt_memory = nullptr;
};

// Reads plaintext from `in_fd` and writes an age v1 file encrypted to
// `passphrase` to `out_fd`. Reports the input size (if `in_fd` is a regular
// file) and plaintext bytes consumed to `control`, and stops between chunks
// when it asks to.
// Errors: INVALID_ARGUMENT for an empty passphrase or options out of range;
// CANCELLED when stopped (also while waiting for `scrypt_memory`);
// RESOURCE_EXHAUSTED if scrypt cannot get its memory or needs more than all of
// `scrypt_memory`;
// read and write errors from errno. On error `out_fd` holds a partial file the
// caller must discard.
Status Encrypt(int in_fd, int out_fd, std::string_view passphrase, JobControl& control,
               const EncryptOptions& options = {});

// Reads an age v1 file encrypted to `passphrase` from `in_fd` and writes its
// plaintext to `out_fd`. Nothing is written until the header is authenticated;
// after that, plaintext is written chunk by chunk as each chunk authenticates,
// so on error the caller must discard what `out_fd` received. Reports the input
// size and bytes of the age file consumed. The whole header is read and checked
// before scrypt runs, so a refused header costs no scrypt work.
// Errors:
//   INVALID_ARGUMENT     "not an age file: ..." (malformed or unsupported header,
//                        e.g. ASCII armor or an scrypt work factor above 2^22);
//                        also for an empty passphrase or options out of range
//   FAILED_PRECONDITION  the file is encrypted to public keys, not a passphrase
//   RESOURCE_EXHAUSTED   the header asks for a work factor above
//                        `max_scrypt_log_n` (the message names both), or scrypt
//                        needs more than all of `scrypt_memory`
//   PERMISSION_DENIED    wrong passphrase
//   DATA_LOSS            "the file is damaged or was tampered with: ..." (header
//                        MAC mismatch, a chunk failing authentication, the file
//                        truncated or with data after its last chunk)
//   CANCELLED            stopped through `control`, also while waiting for
//                        `scrypt_memory`
//   RESOURCE_EXHAUSTED   scrypt cannot get its memory
//   read and write errors from errno.
Status Decrypt(int in_fd, int out_fd, std::string_view passphrase, JobControl& control,
               const DecryptOptions& options = {});

}  // namespace age
}  // namespace ferry::jobs
