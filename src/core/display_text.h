// Text from elsewhere (file names, server messages, audit records) made safe
// to print: nothing in it can drive a terminal, hide characters or reorder
// what is shown around it.
#pragma once

#include <string>
#include <string_view>

namespace ferry {

// `text` with every character that is invisible or changes how text around it
// displays written as an escape, the rest unchanged:
//   C0 controls and DEL (U+0000..U+001F, U+007F)   -> \x{1b}
//   C1 controls (U+0080..U+009F)                    -> \u{85}
//   zero-width and invisible format characters
//     (U+200B..U+200F, U+2060..U+2064, U+FEFF)      -> \u{200b}
//   line and paragraph separators (U+2028, U+2029) -> \u{2028}
//   bidirectional embeddings, overrides, isolates
//     (U+202A..U+202E, U+2066..U+2069)              -> \u{202e}
//   each byte that is not part of valid UTF-8       -> \x{ff}
// Code points are in lower-case hex without leading zeros. A backslash stays
// as it is, so a name that already spells an escape prints the same as the
// escaped character would; the escaped character itself is never printed.
std::string ForDisplay(std::string_view text);

// True if ForDisplay(text) == text.
bool IsPlainDisplay(std::string_view text);

}  // namespace ferry
