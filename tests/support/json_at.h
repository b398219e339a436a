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
// Compiled once in json_at.cc (pixelmill_test_json), so that a test does not parse simdjson.h;
// any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/temp_dir.h"

namespace pixelmill::testing {

std::string JsonAt(std::string_view text, std::string_view pointer);

// The integer at `pointer` in `text`, or the lowest int64_t when it is missing, not an integer or
// `text` is not JSON (so EXPECT_GT(JsonInt(report, "/workers/restarts"), 0) fails on a renamed
// key).
int64_t JsonInt(std::string_view text, std::string_view pointer);

// The number (integer or not) at `pointer` in `text`, or NaN when it is missing, not a number or
// `text` is not JSON: every comparison with NaN but != is false, so compare with EXPECT_GT,
// EXPECT_GE or EXPECT_DOUBLE_EQ, never EXPECT_NE.
double JsonDouble(std::string_view text, std::string_view pointer);

// Whether `text` is JSON with a value at `pointer`.
bool JsonHas(std::string_view text, std::string_view pointer);

// How many lines of the JSONL `text` hold `value` at `pointer`, compared as JsonAt gives it (a
// torn or non-JSON line holds nothing).
size_t JsonLinesWith(const std::string& text, std::string_view pointer, std::string_view value);

// A manifest file as id -> its line. Every line must be JSON with an integer "id" and every id
// appear once: a line without one (or torn) and a second line for an id are returned in
// `problems`.
std::map<int64_t, std::string> ManifestById(const std::filesystem::path& manifest,
                                            std::vector<std::string>* problems = nullptr);

}  // namespace pixelmill::testing
