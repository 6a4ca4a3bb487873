// The directory's store for several instances: one PostgreSQL database that
// every `ferry directory` shares. File names are indexed with pg_trgm (GIN), so
// a case-insensitive substring search reads the index instead of every row.
#pragma once

#include <memory>
#include <string>

#include "directory/directory_store.h"

namespace ferry {

// Connects to `url` (postgresql://user@host:port/db...) with a pool of
// `connections`, creating the schema and the pg_trgm extension if needed.
// UNAVAILABLE with the server's reason when it cannot connect.
Result<std::unique_ptr<DirectoryStore>> OpenPostgresDirectoryStore(const std::string& url,
                                                                   int connections = 8);

}  // namespace ferry
