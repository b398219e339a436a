// JsonAt: one value of a JSON text, for assertions that a renamed or moved key fails (a substring
// search for "\"ok\":3" would pass on any key ending in "ok", or on a nested one).
//
//   EXPECT_EQ(JsonAt(report, "/workers/restarts"), "0");
//   EXPECT_EQ(JsonAt(manifest_line, "/error/code"), "worker_died");
//
// `pointer` is a JSON Pointer (RFC 6901). A string value is returned as its text, any other value
// as compact JSON ("true", "3", "{...}"); a missing key or text that is not JSON returns a
// "<...>" description that no expected value equals. JsonInt is for comparisons ("more than 0").
// Header-only; any thread.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace pixelmill::testing {

inline std::string JsonAt(std::string_view text, std::string_view pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(simdjson::padded_string(text)).get(root); error) {
    return "<not JSON: " + std::string(simdjson::error_message(error)) + ">";
  }
  simdjson::dom::element value;
  if (root.at_pointer(pointer).get(value) != simdjson::SUCCESS) {
    return "<no " + std::string(pointer) + ">";
  }
  if (value.is_string()) return std::string(value.get_string().value());
  return simdjson::minify(value);
}

// The integer at `pointer` in `text`, or the lowest int64_t when it is missing, not an integer or
// `text` is not JSON (so EXPECT_GT(JsonInt(report, "/workers/restarts"), 0) fails on a renamed
// key).
inline int64_t JsonInt(std::string_view text, std::string_view pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  int64_t value = 0;
  if (parser.parse(simdjson::padded_string(text)).get(root) != simdjson::SUCCESS ||
      root.at_pointer(pointer).get(value) != simdjson::SUCCESS) {
    return std::numeric_limits<int64_t>::min();
  }
  return value;
}

}  // namespace pixelmill::testing
