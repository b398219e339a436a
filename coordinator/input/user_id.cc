#include "coordinator/input/user_id.h"

#include <charconv>
#include <ostream>

#include <simdjson.h>

#include "common/base/fnv1a.h"
#include "common/base/json_writer.h"

namespace pixelmill {
namespace {

// The integer `text` spells exactly (no sign but '-', no leading zero, no "-0"), if any.
bool ExactInteger(std::string_view text, int64_t& value) {
  const size_t digits_from = !text.empty() && text[0] == '-' ? 1 : 0;
  if (text.size() == digits_from) return false;
  if (text[digits_from] == '0' && text.size() > digits_from + 1) return false;
  if (text == "-0") return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

// An integer id's decimal digits, in `buffer`.
std::string_view Digits(int64_t number, char (&buffer)[24]) {
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, number);
  (void)error;  // 24 bytes hold any int64
  return std::string_view(buffer, static_cast<size_t>(end - buffer));
}

bool PlainFileByte(char c, bool first) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || (c == '.' && !first);
}

}  // namespace

std::string StringIdProblem(std::string_view text) {
  if (text.empty()) return "empty string: an id needs at least one character";
  if (text.size() > kMaxStringIdBytes) {
    return "string id of " + std::to_string(text.size()) + " bytes is over the limit of " +
           std::to_string(kMaxStringIdBytes);
  }
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      return "string id holds a control character (byte " + std::to_string(byte) + ")";
    }
  }
  if (!simdjson::validate_utf8(text.data(), text.size())) return "string id is not valid UTF-8";
  return {};
}

UserId IdFromText(std::string_view text) {
  int64_t number = 0;
  return ExactInteger(text, number) ? UserId(number) : UserId::String(text);
}

std::string IdText(UserId id) {
  if (id.is_string()) return std::string(id.text);
  char buffer[24];
  return std::string(Digits(id.number, buffer));
}

uint64_t IdKey(UserId id) {
  if (!id.is_string()) return static_cast<uint64_t>(id.number);
  int64_t number = 0;
  if (ExactInteger(id.text, number)) return static_cast<uint64_t>(number);
  return Fnv1a(id.text);
}

bool SameId(UserId a, UserId b) {
  if (!a.is_string() && !b.is_string()) return a.number == b.number;
  if (a.is_string() && b.is_string()) return a.text == b.text;
  return IdText(a) == IdText(b);
}

uint64_t IdHash(UserId id) {
  if (id.is_string()) return Fnv1a(id.text);
  char buffer[24];
  return Fnv1a(Digits(id.number, buffer));
}

std::string IdFileStem(UserId id) {
  if (!id.is_string()) return IdText(id);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string stem;
  stem.reserve(id.text.size());
  for (size_t i = 0; i < id.text.size(); ++i) {
    const char c = id.text[i];
    if (PlainFileByte(c, i == 0)) {
      stem += c;
      continue;
    }
    const auto byte = static_cast<unsigned char>(c);
    stem += '%';
    stem += kHex[byte >> 4];
    stem += kHex[byte & 0x0f];
  }
  return stem;
}

std::ostream& operator<<(std::ostream& out, UserId id) { return out << IdText(id); }

void AddId(JsonObject& object, std::string_view key, UserId id) {
  if (id.is_string()) {
    object.Add(key, id.text);
  } else {
    object.Add(key, id.number);
  }
}

}  // namespace pixelmill
