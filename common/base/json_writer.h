// Minimal JSON output helpers for the lines pixelmill writes (manifest, rejects, report).
// Strings are escaped; bytes that are not valid UTF-8 become U+FFFD so every line we write is
// valid JSON whatever the input held. Stateless; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pixelmill {

// Appends `value` as a quoted, escaped JSON string.
void AppendJsonString(std::string& out, std::string_view value);

// Builds one JSON object field by field: JsonObject().Add("id", 7).Add("status", "ok").Done().
class JsonObject {
 public:
  JsonObject() : out_("{") {}
  JsonObject& Add(std::string_view key, std::string_view value);
  JsonObject& Add(std::string_view key, const char* value) {
    return Add(key, std::string_view(value));
  }
  JsonObject& Add(std::string_view key, int64_t value);
  JsonObject& Add(std::string_view key, uint64_t value);
  JsonObject& Add(std::string_view key, double value);
  JsonObject& Add(std::string_view key, bool value);
  // Adds `json` verbatim. REQUIRES: json is valid JSON.
  JsonObject& AddRaw(std::string_view key, std::string_view json);
  // The finished object, e.g. {"id":7}. The builder is spent afterwards.
  std::string Done();

 private:
  void Key(std::string_view key);
  std::string out_;
};

}  // namespace pixelmill
