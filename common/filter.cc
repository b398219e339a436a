#include "common/filter.h"

#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <thread>

namespace pixelmill {
namespace {

using Clock = std::chrono::steady_clock;

struct Entry {
  const char* name;
  bool instant;  // cannot block: a worker may run it on its I/O thread
  bool takes_argument;
  double max_argument;
  Result<FilterOutput> (*run)(const FilterSpec&, std::string_view);
};

Result<FilterOutput> Unchanged(const FilterSpec&, std::string_view) { return FilterOutput{}; }

Result<FilterOutput> Sleep(const FilterSpec& spec, std::string_view) {
  std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(spec.argument.value_or(0)));
  return FilterOutput{};
}

// Busy work the optimiser cannot drop, checking the clock every few thousand rounds.
Result<FilterOutput> Spin(const FilterSpec& spec, std::string_view input) {
  const auto end =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double, std::milli>(spec.argument.value_or(0)));
  volatile uint64_t sink = input.size();
  uint64_t x = sink | 1;
  do {
    for (int i = 0; i < 4096; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    sink = x;
  } while (Clock::now() < end);
  return FilterOutput{};
}

// Kills its own process on an image carrying the marker; passes every other image unchanged.
Result<FilterOutput> Crash(const FilterSpec&, std::string_view input) {
  if (input.find(kCrashMarker) == std::string_view::npos) return FilterOutput{};
  ::kill(::getpid(), SIGKILL);
  return Status::Error("internal", "still alive after SIGKILL");
}

constexpr Entry kFilters[] = {
    {"none", true, false, 0, &Unchanged},
    {"sleep", false, true, 3'600'000, &Sleep},
    {"spin", false, true, 3'600'000, &Spin},
    {"crash", false, false, 0, &Crash},
};

const Entry* Find(std::string_view name) {
  for (const Entry& e : kFilters) {
    if (name == e.name) return &e;
  }
  return nullptr;
}

}  // namespace

Result<FilterSpec> ParseFilterSpec(std::string_view text, std::optional<double> default_argument) {
  const size_t colon = text.find(':');
  FilterSpec spec;
  spec.name = std::string(text.substr(0, colon));
  spec.text = std::string(text);
  const Entry* entry = Find(spec.name);
  if (entry == nullptr) {
    std::string known;
    for (const Entry& e : kFilters) known += std::string(known.empty() ? "" : ", ") + e.name;
    return Status::Error("unknown_filter",
                         "unknown filter '" + spec.name + "' (known: " + known + ")");
  }
  if (colon != std::string_view::npos) {
    const std::string_view arg = text.substr(colon + 1);
    double value = 0;
    auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), value);
    if (arg.empty() || ec != std::errc() || end != arg.data() + arg.size() ||
        !std::isfinite(value)) {
      return Status::Error("bad_filter_argument", "filter '" + spec.name + "': argument '" +
                                                      std::string(arg) + "' is not a number");
    }
    spec.argument = value;
  } else if (entry->takes_argument) {
    spec.argument = default_argument;
  }
  if (!entry->takes_argument && spec.argument && colon != std::string_view::npos) {
    return Status::Error("bad_filter_argument", "filter '" + spec.name + "' takes no argument");
  }
  if (entry->takes_argument) {
    if (!spec.argument) {
      return Status::Error("bad_filter_argument", "filter '" + spec.name +
                                                      "' needs an argument, e.g. " + spec.name +
                                                      ":100 (or --intensity)");
    }
    if (*spec.argument < 0 || *spec.argument > entry->max_argument) {
      return Status::Error("bad_filter_argument", "filter '" + spec.name + "': argument " +
                                                      std::to_string(*spec.argument) +
                                                      " is out of range");
    }
  }
  return spec;
}

Result<FilterOutput> RunFilter(const FilterSpec& spec, std::string_view input) {
  const Entry* entry = Find(spec.name);
  if (entry == nullptr)
    return Status::Error("unknown_filter", "unknown filter '" + spec.name + "'");
  return entry->run(spec, input);
}

bool IsInstant(const FilterSpec& spec) {
  const Entry* entry = Find(spec.name);
  return entry != nullptr && entry->instant;
}

std::vector<std::string> FilterNames() {
  std::vector<std::string> names;
  for (const Entry& e : kFilters) names.emplace_back(e.name);
  return names;
}

}  // namespace pixelmill
