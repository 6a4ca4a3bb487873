// The directory's default store: one SQLite file in WAL mode. File names are
// indexed with FTS5's trigram tokenizer, so a substring search reads the index
// instead of every row. Writes go through one connection, reads through a small
// pool of their own, so searches run in parallel with announces.
#pragma once

#include <memory>
#include <string>

#include "directory/directory_store.h"

namespace ferry {

// Opens (creating if needed) the database at `path`.
Result<std::unique_ptr<DirectoryStore>> OpenSqliteDirectoryStore(const std::string& path,
                                                                 int read_connections = 4);

}  // namespace ferry
