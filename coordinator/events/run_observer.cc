#include "coordinator/events/run_observer.h"

#include <cstdarg>
#include <cstdio>

#include "common/base/string_printf.h"

namespace pixelmill {
namespace {

class Stderr final : public Observer {
 public:
  void OnEvent(LogLevel level, const std::string& message) override {
    const char* prefix = level == LogLevel::kError     ? "coordinator: error: "
                         : level == LogLevel::kWarning ? "coordinator: warning: "
                                                       : "coordinator: ";
    std::fprintf(stderr, "%s%s\n", prefix, message.c_str());
  }
  void OnProgress(const ProgressSample&) override {}
  void OnSummary(const std::string& text) override { std::fprintf(stderr, "%s\n", text.c_str()); }
};

}  // namespace

void Emit(Observer& observer, LogLevel level, const char* format, ...) {
  va_list args;
  va_start(args, format);
  const std::string text = StringPrintfV(format, args);
  va_end(args);
  observer.OnEvent(level, text);
}

Observer& StderrObserver() {
  static Stderr observer;
  return observer;
}

}  // namespace pixelmill
