#include "coordinator/output/manifest.h"

#include "common/base/json_writer.h"
#include "coordinator/output/output_layout.h"

namespace pixelmill {

std::string OkLine(const OkLineInfo& info) {
  JsonObject line;
  line.Add("id", info.id)
      .Add("status", "ok")
      .Add("output", info.output)
      .Add("bytes", info.bytes)
      .Add("format", FormatName(info.format))
      .Add("content_type", ContentTypeFor(info.format))
      .Add("width", uint64_t{info.width})
      .Add("height", uint64_t{info.height})
      .Add("attempts", uint64_t{TotalAttempts(info)})
      .Add("download_attempts", uint64_t{info.download_attempts})
      .Add("download_ms", info.download_ms);
  if (info.filtered) {
    line.Add("filter_attempts", uint64_t{info.filter_attempts})
        .Add("filter", info.filter)
        .Add("cpu_ms", static_cast<double>(info.cpu_micros) / 1000)
        .Add("worker", info.worker);
  }
  return line.Done();
}

std::string FailedLine(int64_t id, const std::string& code, const std::string& message,
                       uint32_t attempts) {
  std::string error = JsonObject().Add("code", code).Add("message", message).Done();
  return JsonObject()
      .Add("id", id)
      .Add("status", "failed")
      .AddRaw("error", error)
      .Add("attempts", uint64_t{attempts})
      .Done();
}

uint32_t PrepareOkLine(UserStore& store, size_t user, const ImageBuffer& bytes, OkLineInfo& info) {
  const OutputFormat format = bytes.format();
  store.SetOutcome(user, UserStatus::kPending, format);
  info.id = store.id(user);
  info.output = OutputLayout::ImagePath(info.id, format);
  info.bytes = bytes.size();
  info.format = format;
  return TotalAttempts(info);
}

uint32_t TotalAttempts(const OkLineInfo& info) {
  return info.download_attempts + (info.filtered ? info.filter_attempts : 0);
}

}  // namespace pixelmill
