#include "coordinator/manifest.h"

#include "common/json_writer.h"

namespace pixelmill {

std::string OkLine(const OkLineInfo& info) {
  JsonObject line;
  line.Add("id", info.id)
      .Add("status", "ok")
      .Add("output", info.output)
      .Add("bytes", info.bytes)
      .Add("format", ExtensionFor(info.format))
      .Add("content_type", ContentTypeFor(info.format))
      .Add("width", uint64_t{info.width})
      .Add("height", uint64_t{info.height})
      .Add("attempts", uint64_t{info.filtered ? info.filter_attempts : info.download_attempts})
      .Add("download_ms", info.download_ms);
  if (info.filtered) {
    line.Add("download_attempts", uint64_t{info.download_attempts})
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
  info.output = store.OutputPath(user);
  info.bytes = bytes.size();
  info.format = format;
  return info.filtered ? info.filter_attempts : info.download_attempts;
}

}  // namespace pixelmill
