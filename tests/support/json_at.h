// JsonAt: one value of a JSON text, for assertions that a renamed or moved key fails (a substring
// search for "\"ok\":3" would pass on any key ending in "ok", or on a nested one).
//
//   EXPECT_EQ(JsonAt(report, "/workers/restarts"), "0");
//   EXPECT_EQ(JsonAt(manifest_line, "/error/code"), "worker_died");
//
// `pointer` is a JSON Pointer (RFC 6901). A string value is returned as its text, any other value
// as compact JSON ("true", "3", "{...}"); a missing key or text that is not JSON returns a
// "<...>" description that no expected value equals. JsonInt and JsonDouble are for comparisons
// ("more than 0"); JsonHas is for a key whose value the test cannot know (a duration), and for
// an explicit "this key is absent" on the parsed object.
//
//   EXPECT_GT(JsonDouble(report, "/waits/download_budget_wait_s"), 0) << report;
//   EXPECT_TRUE(JsonHas(report, "/download/p99_ms")) << report;
//   EXPECT_EQ(JsonLinesWith(manifest_text, "/error/code", "no_workers"), 5u);
//   EXPECT_EQ(JsonAt(ManifestById(out / "manifest.jsonl").at(7), "/status"), "ok");
//
// Header-only (links simdjson); any thread.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/temp_dir.h"

namespace pixelmill::testing {

// Sets `value` (which lives in `parser`) to the one at `pointer` in `text`; false when `text` is
// not JSON or has no such value.
inline bool JsonFind(std::string_view text, std::string_view pointer, simdjson::dom::parser& parser,
                     simdjson::dom::element& value) {
  simdjson::dom::element root;
  return parser.parse(simdjson::padded_string(text)).get(root) == simdjson::SUCCESS &&
         root.at_pointer(pointer).get(value) == simdjson::SUCCESS;
}

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

// The number of type T at `pointer` in `text`, or `missing` when there is none of that type.
template <typename T>
T JsonNumber(std::string_view text, std::string_view pointer, T missing) {
  simdjson::dom::parser parser;
  simdjson::dom::element value;
  T number{};
  if (!JsonFind(text, pointer, parser, value) || value.get(number) != simdjson::SUCCESS) {
    return missing;
  }
  return number;
}

// The integer at `pointer` in `text`, or the lowest int64_t when it is missing, not an integer or
// `text` is not JSON (so EXPECT_GT(JsonInt(report, "/workers/restarts"), 0) fails on a renamed
// key).
inline int64_t JsonInt(std::string_view text, std::string_view pointer) {
  return JsonNumber(text, pointer, std::numeric_limits<int64_t>::min());
}

// The number (integer or not) at `pointer` in `text`, or NaN when it is missing, not a number or
// `text` is not JSON: every comparison with NaN but != is false, so compare with EXPECT_GT,
// EXPECT_GE or EXPECT_DOUBLE_EQ, never EXPECT_NE.
inline double JsonDouble(std::string_view text, std::string_view pointer) {
  return JsonNumber(text, pointer, std::numeric_limits<double>::quiet_NaN());
}

// Whether `text` is JSON with a value at `pointer`.
inline bool JsonHas(std::string_view text, std::string_view pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element value;
  return JsonFind(text, pointer, parser, value);
}

// How many lines of the JSONL `text` hold `value` at `pointer`, compared as JsonAt gives it (a
// torn or non-JSON line holds nothing).
inline size_t JsonLinesWith(const std::string& text, std::string_view pointer,
                            std::string_view value) {
  std::istringstream lines(text);
  size_t count = 0;
  for (std::string line; std::getline(lines, line);) count += JsonAt(line, pointer) == value;
  return count;
}

// A manifest file as id -> its line. Every line must be JSON with an integer "id" and every id
// appear once: a line without one (or torn) and a second line for an id are returned in
// `problems`.
inline std::map<int64_t, std::string> ManifestById(const std::filesystem::path& manifest,
                                                   std::vector<std::string>* problems = nullptr) {
  std::map<int64_t, std::string> lines;
  std::istringstream in(ReadFile(manifest));
  for (std::string line; std::getline(in, line);) {
    const int64_t id = JsonInt(line, "/id");
    const bool fresh = id != std::numeric_limits<int64_t>::min() && lines.emplace(id, line).second;
    if (!fresh && problems != nullptr) problems->push_back(line);
  }
  return lines;
}

}  // namespace pixelmill::testing
