#include "coordinator/events/event.h"

#include "common/base/string_printf.h"

namespace pixelmill {

EventBuilder::EventBuilder(LogLevel level, std::string kind) {
  event_.level = level;
  event_.kind = std::move(kind);
}

EventBuilder& EventBuilder::Text(std::string_view words) {
  event_.message += words;
  return *this;
}

EventBuilder& EventBuilder::Field(std::string_view key, std::string_view value) {
  event_.message += value;
  event_.fields.push_back(EventField{std::string(key), std::string(value), false});
  return *this;
}

EventBuilder& EventBuilder::Field(std::string_view key, double value, const char* format) {
  event_.message += StringPrintf(format, value);
  // JSON has no NaN or infinity: such a figure is written as text.
  const bool finite = value - value == 0;
  event_.fields.push_back(
      EventField{std::string(key), finite ? StringPrintf("%.6g", value) : "?", finite});
  return *this;
}

EventBuilder& EventBuilder::Hidden(std::string_view key, bool value) {
  return Literal(key, value ? "true" : "false", false);
}

EventBuilder& EventBuilder::Literal(std::string_view key, std::string value, bool shown) {
  if (shown) event_.message += value;
  event_.fields.push_back(EventField{std::string(key), std::move(value), true});
  return *this;
}

}  // namespace pixelmill
