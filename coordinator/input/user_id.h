// UserId: a user's id as the input gives it, an integer or a string, and everything pixelmill
// derives from it: its text, its hash key, its shard and the stem of its image's file name.
//
// A string id is 1 to kMaxStringIdBytes bytes of valid UTF-8 with no control bytes (U+0000..U+001F,
// U+007F). An id is its text: the string "42" and the integer 42 name the same user (one of them
// is a duplicate), and the manifest writes each id back as the input wrote it.
//
// Values; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

namespace pixelmill {

class JsonObject;

// 64: escaped (3 bytes a byte at worst), with an extension and a temporary file's prefix and
// suffix, a name stays within the 255 bytes file systems allow.
inline constexpr size_t kMaxStringIdBytes = 64;

// A view: a string id's bytes belong to whoever gave them (the store, a parser, a record).
struct UserId {
  int64_t number = 0;     // an integer id (text empty)
  std::string_view text;  // a string id, unescaped (never empty for one)

  constexpr UserId() = default;
  constexpr UserId(int64_t n) : number(n) {}  // NOLINT(google-explicit-constructor)
  static constexpr UserId String(std::string_view s) {
    UserId id;
    id.text = s;
    return id;
  }
  bool is_string() const { return !text.empty(); }
};

// Whether two ids name the same user.
bool SameId(UserId a, UserId b);
inline bool operator==(UserId a, UserId b) { return SameId(a, b); }
inline bool operator!=(UserId a, UserId b) { return !SameId(a, b); }

// An id that owns its string: manifest records, results.
struct OwnedUserId {
  int64_t number = 0;
  std::string text;

  OwnedUserId() = default;
  OwnedUserId(int64_t n) : number(n) {}  // NOLINT(google-explicit-constructor): ids are numbers
  explicit OwnedUserId(UserId id) : number(id.number), text(id.text) {}
  UserId view() const { return text.empty() ? UserId(number) : UserId::String(text); }
  bool operator==(const OwnedUserId& other) const { return SameId(view(), other.view()); }
};

// Why `text` cannot be a string id, for a message; empty when it can (valid UTF-8, 1 to
// kMaxStringIdBytes bytes, no control bytes).
std::string StringIdProblem(std::string_view text);

// The id `text` spells as a CSV cell: the integer when it spells one exactly ("42", not "042"),
// else a string id (a view of `text`; StringIdProblem still applies).
UserId IdFromText(std::string_view text);

// The id as text: an integer's decimal digits, a string id's string.
std::string IdText(UserId id);

// A 64-bit key: equal ids have equal keys (an integer's key is itself, so is a string's that
// spells an integer exactly, "42" but not "042"); unequal ids rarely share one (SameId decides).
uint64_t IdKey(UserId id);

// FNV-1a of the id's text: the stable hash behind shards and fan-out folders.
uint64_t IdHash(UserId id);

// The file name of the id's image without its extension, safe on any POSIX file system (ids
// that differ only in case need a case-sensitive one): the
// text with every byte but A-Z a-z 0-9 - _ and a '.' that does not start it written %XX (upper
// case hex), so "a/b" is "a%2Fb", ".." is "%2E." and distinct ids never share a name. At most
// 3 * kMaxStringIdBytes bytes.
std::string IdFileStem(UserId id);

// Writes IdText(id) (test output, messages).
std::ostream& operator<<(std::ostream& out, UserId id);
inline std::ostream& operator<<(std::ostream& out, const OwnedUserId& id) {
  return out << id.view();
}

// Adds `key`: the id, a JSON number or string as the input wrote it.
void AddId(JsonObject& object, std::string_view key, UserId id);

}  // namespace pixelmill
