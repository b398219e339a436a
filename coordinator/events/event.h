// EventBuilder: one notable event's text line and its fields, made by the same calls, so that a
// structured log (--log-format json) carries exactly the figures the text line shows:
//
//   observer.OnStructuredEvent(EventBuilder(LogLevel::kWarning, "worker_lost")
//                                  .Text("lost worker ").Field("worker", id)
//                                  .Text(" (pid ").Field("pid", pid).Text(")")
//                                  .Done());
//
// gives the message "lost worker w1 (pid 42)" and the fields worker "w1" and pid 42.
// A value object; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "coordinator/events/run_observer.h"

namespace pixelmill {

class EventBuilder {
 public:
  // `kind` names the event in a structured log, e.g. "done" or "worker_lost".
  EventBuilder(LogLevel level, std::string kind);

  // Words of the message that are no field.
  EventBuilder& Text(std::string_view words);
  // A field, also written into the message where it stands.
  EventBuilder& Field(std::string_view key, std::string_view value);
  EventBuilder& Field(std::string_view key, const char* value) {
    return Field(key, std::string_view(value));
  }
  EventBuilder& Field(std::string_view key, const std::string& value) {
    return Field(key, std::string_view(value));
  }
  template <
      typename Integer,
      std::enable_if_t<std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>, int> = 0>
  EventBuilder& Field(std::string_view key, Integer value) {
    return Literal(key, std::to_string(value), true);
  }
  // A number written with printf `format` (e.g. "%.2f") in the message and in full in the
  // fields.
  EventBuilder& Field(std::string_view key, double value, const char* format);
  // A field the message does not show (e.g. a flag the text says in words).
  EventBuilder& Hidden(std::string_view key, bool value);

  // The event; the builder is spent.
  Event Done() { return std::move(event_); }

 private:
  EventBuilder& Literal(std::string_view key, std::string value, bool shown);

  Event event_;
};

}  // namespace pixelmill
