// A finished run's manifest read back into the C++ API's records.
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <simdjson.h>

#include "coordinator/api_parts.h"
#include "coordinator/manifest_reader.h"

namespace pixelmill {

namespace od = simdjson::ondemand;

std::unordered_map<int64_t, UserResult> ReadRecords(const std::string& out_dir) {
  std::unordered_map<int64_t, UserResult> records;
  Result<ManifestReader> reader = ManifestReader::Open(out_dir + "/manifest.jsonl", false);
  if (!reader.ok()) return records;
  od::parser parser;
  ManifestLine line;
  for (;;) {
    Result<bool> more = reader->Next(line);
    if (!more.ok() || !more.value()) break;
    if (line.too_long || !line.terminated) continue;
    const simdjson::padded_string text(line.text);
    od::document doc;
    if (parser.iterate(text).get(doc) != simdjson::SUCCESS) continue;
    od::object object;
    int64_t id = 0;
    std::string_view status;
    if (doc.get_object().get(object) != simdjson::SUCCESS ||
        object.find_field_unordered("id").get_int64().get(id) != simdjson::SUCCESS ||
        object.find_field_unordered("status").get_string().get(status) != simdjson::SUCCESS) {
      continue;
    }
    UserResult r;
    r.id = id;
    r.ok = status == "ok";
    r.state = r.ok ? UserResult::State::kOk : UserResult::State::kFailed;
    std::string_view output;
    if (r.ok &&
        object.find_field_unordered("output").get_string().get(output) == simdjson::SUCCESS) {
      r.output_path = (std::filesystem::absolute(out_dir) / output).lexically_normal().string();
    }
    od::object error;
    if (!r.ok &&
        object.find_field_unordered("error").get_object().get(error) == simdjson::SUCCESS) {
      std::string_view code, message;
      if (error.find_field_unordered("code").get_string().get(code) == simdjson::SUCCESS) {
        r.error_code = code;
      }
      if (error.find_field_unordered("message").get_string().get(message) == simdjson::SUCCESS) {
        r.error_message = message;
      }
    }
    uint64_t attempts = 0;
    if (object.find_field_unordered("attempts").get_uint64().get(attempts) == simdjson::SUCCESS) {
      r.attempts = static_cast<uint32_t>(attempts);
    }
    double download_ms = 0;
    if (object.find_field_unordered("download_ms").get_double().get(download_ms) ==
        simdjson::SUCCESS) {
      r.download_ms = download_ms;
    }
    records[id] = std::move(r);
  }
  return records;
}

}  // namespace pixelmill
