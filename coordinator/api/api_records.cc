// A finished run's manifest read back into the C++ API's records.
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <simdjson.h>

#include "coordinator/api/api_parts.h"
#include "coordinator/output/manifest_reader.h"
#include "coordinator/output/output_layout.h"

namespace pixelmill {

namespace od = simdjson::ondemand;

namespace {

// What an ok line says of the image and its timings; a field missing stays 0.
void ReadOkFields(od::object& object, UserResult& r) {
  double number = 0;
  if (object.find_field_unordered("download_ms").get_double().get(number) == simdjson::SUCCESS) {
    r.download_ms = number;
  }
  if (object.find_field_unordered("cpu_ms").get_double().get(number) == simdjson::SUCCESS) {
    r.filter_cpu_ms = number;
  }
  uint64_t count = 0;
  if (object.find_field_unordered("bytes").get_uint64().get(count) == simdjson::SUCCESS) {
    r.bytes = count;
  }
  if (object.find_field_unordered("width").get_uint64().get(count) == simdjson::SUCCESS) {
    r.width = static_cast<uint32_t>(count);
  }
  if (object.find_field_unordered("height").get_uint64().get(count) == simdjson::SUCCESS) {
    r.height = static_cast<uint32_t>(count);
  }
}

}  // namespace

std::unordered_map<int64_t, UserResult> ReadRecords(const std::string& out_dir) {
  std::unordered_map<int64_t, UserResult> records;
  Result<ManifestReader> reader = ManifestReader::Open(OutputLayout(out_dir).manifest(), false);
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
    if (r.ok) ReadOkFields(object, r);
    records[id] = std::move(r);
  }
  return records;
}

}  // namespace pixelmill
