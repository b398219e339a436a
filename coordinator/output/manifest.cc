#include "coordinator/output/manifest.h"

#include <cassert>
#include <cmath>

#include <simdjson.h>

#include "common/base/json_writer.h"
#include "coordinator/output/output_layout.h"

namespace pixelmill {
namespace {

namespace od = simdjson::ondemand;

// `value` into `out` if it is a string, else "".
void ReadString(od::value value, std::string& out) {
  std::string_view text;
  if (value.get_string().get(text)) text = {};
  out.assign(text);
}

// `value` into `out` if it is an unsigned integer; true if it was.
template <typename Unsigned>
bool ReadUnsigned(od::value value, Unsigned& out) {
  uint64_t number = 0;
  if (value.get_uint64().get(number)) return false;
  out = static_cast<Unsigned>(number);
  return true;
}

void ReadError(od::value value, ManifestRecord& record) {
  od::object error;
  if (value.get_object().get(error)) return;
  for (auto field : error) {
    std::string_view key;
    od::value inner;
    if (field.unescaped_key().get(key) || field.value().get(inner)) return;
    if (key == "code") ReadString(inner, record.error_code);
    if (key == "message") ReadString(inner, record.error_message);
  }
}

// An id, an integer or a string, into `id`; true if it was one.
bool ReadId(od::value value, OwnedUserId& id) {
  if (!value.get_int64().get(id.number)) {
    id.text.clear();
    return true;
  }
  std::string_view text;
  if (value.get_string().get(text) || text.empty()) return false;
  id.number = 0;
  id.text.assign(text);
  return true;
}

// One field of a line into `record`; a key it does not know is skipped.
void ReadField(std::string_view key, od::value value, ManifestRecord& record, bool& has_id) {
  double number = 0;
  std::string text;
  if (key == "id") {
    has_id = ReadId(value, record.id);
  } else if (key == "status") {
    ReadString(value, record.status);
  } else if (key == "output") {
    ReadString(value, record.output);
  } else if (key == "bytes") {
    record.has_bytes = ReadUnsigned(value, record.bytes);
  } else if (key == "format") {
    ReadString(value, text);
    record.format = FormatFromName(text);
  } else if (key == "width") {
    ReadUnsigned(value, record.width);
  } else if (key == "height") {
    ReadUnsigned(value, record.height);
  } else if (key == "attempts") {
    ReadUnsigned(value, record.attempts);
  } else if (key == "download_attempts") {
    ReadUnsigned(value, record.download_attempts);
  } else if (key == "download_ms") {
    if (!value.get_double().get(number)) record.download_ms = number;
  } else if (key == "filter_attempts") {
    ReadUnsigned(value, record.filter_attempts);
  } else if (key == "filter") {
    record.filtered = true;
    ReadString(value, record.filter);
  } else if (key == "cpu_ms") {
    if (!value.get_double().get(number)) {
      record.cpu_micros = static_cast<uint64_t>(std::llround(number * 1000));
    }
  } else if (key == "worker") {
    ReadString(value, record.worker);
  } else if (key == "error") {
    ReadError(value, record);
  } else if (key == "deduplicated_from") {
    OwnedUserId leader;
    if (ReadId(value, leader)) record.deduplicated_from = std::move(leader);
  }
}

}  // namespace

std::string ToLine(const ManifestRecord& record) {
  JsonObject line;
  if (!record.ok()) {
    std::string error =
        JsonObject().Add("code", record.error_code).Add("message", record.error_message).Done();
    AddId(line, "id", record.id.view());
    line.Add("status", "failed").AddRaw("error", error).Add("attempts", uint64_t{record.attempts});
    if (record.deduplicated_from)
      AddId(line, "deduplicated_from", record.deduplicated_from->view());
    return line.Done();
  }
  AddId(line, "id", record.id.view());
  line.Add("status", "ok")
      .Add("output", record.output)
      .Add("bytes", record.bytes)
      .Add("format", FormatName(record.format))
      .Add("content_type", ContentTypeFor(record.format))
      .Add("width", uint64_t{record.width})
      .Add("height", uint64_t{record.height})
      .Add("attempts", uint64_t{TotalAttempts(record)})
      .Add("download_attempts", uint64_t{record.download_attempts})
      .Add("download_ms", record.download_ms);
  if (record.filtered) {
    line.Add("filter_attempts", uint64_t{record.filter_attempts})
        .Add("filter", record.filter)
        .Add("cpu_ms", static_cast<double>(record.cpu_micros) / 1000)
        .Add("worker", record.worker);
  }
  if (record.deduplicated_from) AddId(line, "deduplicated_from", record.deduplicated_from->view());
  return line.Done();
}

bool ReadRecord(std::string_view line, size_t capacity, ManifestRecord& record) {
  record = ManifestRecord();
  record.status.clear();
  if (line.empty()) return false;
  // One parser per thread: a line is parsed in place, without a copy.
  thread_local od::parser parser;
  od::document doc;
  od::object object;
  if (parser.iterate(line.data(), line.size(), capacity).get(doc)) return false;
  if (doc.get_object().get(object)) return false;
  bool has_id = false;
  for (auto field : object) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) return false;
    ReadField(key, value, record, has_id);
  }
  // Nothing may follow the object ("{...} {...}" is two records glued together, not one).
  return has_id && doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

std::string FailedLine(UserId id, const Status& error, uint32_t attempts,
                       std::optional<UserId> deduplicated_from) {
  assert(IsManifestCode(error.code()));
  ManifestRecord record;
  record.id = OwnedUserId(id);
  record.status = "failed";
  record.error_code = CodeName(error.code());
  record.error_message = error.message();
  record.attempts = attempts;
  if (deduplicated_from) record.deduplicated_from = OwnedUserId(*deduplicated_from);
  return ToLine(record);
}

uint32_t PrepareOkLine(UserStore& store, size_t user, const ImageBuffer& bytes, bool fan_out,
                       ManifestRecord& record) {
  const OutputFormat format = bytes.format();
  store.SetOutcome(user, UserStatus::kPending, format);
  record.id = OwnedUserId(store.id(user));
  record.output = OutputLayout::ImagePath(store.id(user), format, fan_out);
  record.bytes = bytes.size();
  record.format = format;
  return TotalAttempts(record);
}

uint32_t TotalAttempts(const ManifestRecord& record) {
  return record.download_attempts + (record.filtered ? record.filter_attempts : 0);
}

bool ReadRecordCopy(std::string_view line, std::string& scratch, ManifestRecord& record) {
  scratch.assign(line);
  scratch.resize(line.size() + simdjson::SIMDJSON_PADDING);
  return ReadRecord(std::string_view(scratch.data(), line.size()), scratch.size(), record);
}

UserResult ToUserResult(const ManifestRecord& line, const std::filesystem::path& output_dir) {
  UserResult r;
  r.id = line.id.number;
  r.string_id = line.id.text;
  r.ok = line.ok();
  r.state = r.ok ? UserResult::State::kOk : UserResult::State::kFailed;
  r.attempts = line.attempts;
  if (line.deduplicated_from) r.deduplicated_from = IdText(line.deduplicated_from->view());
  if (r.ok) {
    if (!line.output.empty())
      r.output_path = (output_dir / line.output).lexically_normal().string();
    r.bytes = line.bytes;
    r.width = line.width;
    r.height = line.height;
    r.download_ms = line.download_ms;
    r.filter_cpu_ms = static_cast<double>(line.cpu_micros) / 1000;
  } else {
    r.error_code = line.error_code;
    r.error_message = line.error_message;
  }
  return r;
}

}  // namespace pixelmill
