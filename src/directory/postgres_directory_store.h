// The directory's store for several instances: one PostgreSQL database that
// every `ferry directory` shares. File names are indexed with pg_trgm (GIN), so
// a case-insensitive substring search reads the index instead of every row.
#pragma once

#include <memory>
#include <string>

#include "directory/directory_store.h"

namespace ferry {

// Connects to `url` (postgresql://user[:password]@host:port/db?..., or a
// key=value connection string) with a pool of up to `connections` connections,
// opened as they are first needed, and creates the schema and the pg_trgm
// extension if needed (safe when several instances start at once).
// A connect_timeout of 10 s applies unless the URL sets one.
//
// Errors, here and from every method: UNAVAILABLE "cannot reach the directory
// database at HOST:PORT: <reason>" when the server cannot be reached or the
// connection drops (never with the password); ALREADY_EXISTS on a taken
// name; INVALID_ARGUMENT for data PostgreSQL refuses (a NUL byte, invalid
// UTF-8); INTERNAL with the server's message otherwise. A broken connection is
// replaced, and a deadlocked transaction retried, before an error is returned.
Result<std::unique_ptr<DirectoryStore>> OpenPostgresDirectoryStore(const std::string& url,
                                                                   int connections = 8);

}  // namespace ferry
