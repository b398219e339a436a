// The public Observer's defaults: each event is ignored. Compiled into libpixelmill.so itself
// (so a program using the library can subclass Observer) and into the internal library the
// stages and the tests link.
#include "pixelmill/pixelmill.h"

namespace pixelmill {

Observer::~Observer() = default;
void Observer::OnEvent(LogLevel, const std::string&) {}
void Observer::OnProgress(const ProgressSample&) {}
void Observer::OnSummary(const std::string&) {}
void Observer::OnStructuredEvent(const Event& event) { OnEvent(event.level, event.message); }
void Observer::OnSummaryEvent(const std::string& table, const Event& done) {
  OnSummary(table + done.message);
}
bool Observer::WantsUserResults() const { return false; }
void Observer::OnUserDone(const UserResult&) {}

}  // namespace pixelmill
