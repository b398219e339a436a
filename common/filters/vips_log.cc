#include "common/filters/vips_log.h"

#include <glib.h>
#include <vips/vips.h>

#include <algorithm>
#include <mutex>
#include <string_view>

namespace pixelmill {
namespace {

// Longest warning text kept per job.
constexpr size_t kMaxText = 512;

struct Capture {
  std::mutex mutex;
  VipsWarnings job;  // guarded by mutex
};

Capture& Current() {
  static Capture* capture = new Capture;  // never destroyed: libvips threads may log at exit
  return *capture;
}

// Appends one message (its lines joined by "; ") to `out`, within kMaxText.
void Append(std::string& out, std::string_view message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.remove_suffix(1);
  }
  if (message.empty() || out.size() >= kMaxText) return;
  std::string line(message.substr(0, kMaxText - std::min(out.size(), kMaxText)));
  std::replace(line.begin(), line.end(), '\n', ';');
  out += (out.empty() ? "" : "; ") + line;
}

void OnLog(const gchar*, GLogLevelFlags, const gchar* message, gpointer) {
  Capture& capture = Current();
  std::lock_guard<std::mutex> lock(capture.mutex);
  ++capture.job.count;
  Append(capture.job.text, message != nullptr ? message : "");
}

}  // namespace

void CaptureVipsWarnings() {
  g_log_set_handler("VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE),
                    &OnLog, nullptr);
}

void BeginVipsJob() {
  vips_error_clear();
  Capture& capture = Current();
  std::lock_guard<std::mutex> lock(capture.mutex);
  capture.job = VipsWarnings{};
}

VipsWarnings EndVipsJob() {
  // Errors left in the buffer by a job that succeeded were recovered from: warnings too.
  const std::string recovered = vips_error_buffer();
  vips_error_clear();
  Capture& capture = Current();
  std::lock_guard<std::mutex> lock(capture.mutex);
  VipsWarnings out = std::move(capture.job);
  capture.job = VipsWarnings{};
  std::string_view rest = recovered;
  while (!rest.empty()) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    if (end > 0) {
      ++out.count;
      Append(out.text, rest.substr(0, end));
    }
    rest.remove_prefix(std::min(end + 1, rest.size()));
  }
  return out;
}

std::string EndFailedVipsJob(const std::string& what) {
  vips_error_clear();
  std::string reason;
  Append(reason, what);
  Capture& capture = Current();
  std::lock_guard<std::mutex> lock(capture.mutex);
  if (!capture.job.text.empty()) {
    reason += (reason.empty() ? "" : "; ") + std::string("libvips warned: ") + capture.job.text;
  }
  capture.job = VipsWarnings{};
  return reason.empty() ? "libvips failed without giving a reason" : reason;
}

}  // namespace pixelmill
