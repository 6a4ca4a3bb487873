// The record of a download's verified chunks, kept beside its partial file
// (".ferry-<name>.part.done") so that a download killed and run again does
// not fetch a verified chunk twice.
//
// Format (docs/peer.md, "`ferry fetch`"): one line
// "ferry-done 1 <sha256> <chunk count>\n", then one byte per chunk, '1' for a
// chunk that is verified and durable in the partial file, '0' otherwise.
// The downloader fsyncs the partial file before it saves a record that marks
// a chunk, so a record never claims bytes a crash could lose.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace ferry {

// The record's name for the partial file named `partial_leaf`.
std::string DoneRecordName(const std::string& partial_leaf);

// The chunks `path` marks done for content `sha256` of `chunk_count` chunks:
// all false when there is no record, or when it is for other content or
// malformed (a fresh start is always safe). Errors only for a record that
// exists but cannot be read.
Result<std::vector<bool>> LoadDoneRecord(const std::string& path, const std::string& sha256,
                                         int64_t chunk_count);

// Replaces the record at `path` durably (write, fsync, rename, fsync of the
// folder).
Status SaveDoneRecord(const std::string& path, const std::string& sha256,
                      const std::vector<bool>& done);

}  // namespace ferry
