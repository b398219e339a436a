#include "common/filters/filter.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "common/filters/vips_filters.h"

namespace pixelmill {
namespace {

using Clock = std::chrono::steady_clock;

struct Entry {
  const char* name;
  bool stand_in;         // passes the image on unchanged; must be the whole spec
  bool instant;          // cannot block: a worker may run it on its I/O thread
  const char* argument;  // what the argument means, nullptr when it takes none
  double min, max;       // the argument's range
  const char* doc;
  StandInFn run = nullptr;  // a test build's stand-in (RegisterTestStandIn)
};

constexpr Entry kFilters[] = {
    {"blur", false, false, "SIGMA", 0.1, 100, "Gaussian blur"},
    {"sharpen", false, false, "SIGMA", 0.1, 10, "unsharp mask"},
    {"grayscale", false, false, nullptr, 0, 0, "to one grey band (Rec. 601 luma)"},
    {"sepia", false, false, "STRENGTH", 0, 1, "sepia tone, 0 = unchanged, 1 = full"},
    {"edge", false, false, nullptr, 0, 0, "Sobel edge magnitude"},
    {"invert", false, false, nullptr, 0, 0, "negative (alpha kept)"},
    {"brightness", false, false, "F", 0, 4, "multiply brightness by F"},
    {"contrast", false, false, "F", 0, 4, "scale contrast around mid-grey by F"},
    {"pixelate", false, false, "BLOCK", 2, 256, "mosaic of BLOCK x BLOCK squares"},
    {"thumbnail", false, false, "SIZE", 1, 10000, "longest side SIZE, aspect kept"},
    {"none", true, true, nullptr, 0, 0, "save the downloaded image unchanged; no workers"},
    {"sleep", true, false, "MS", 0, 3'600'000, "sleep MS, image unchanged (stand-in)"},
    {"spin", true, false, "MS", 0, 3'600'000, "burn MS of CPU, image unchanged (stand-in)"},
};

// Stand-ins registered by a test-only build; empty in the production binaries.
std::vector<Entry>& TestEntries() {
  static std::vector<Entry> entries;
  return entries;
}

// Calls `f` on every registered filter: the table, then a test build's.
template <typename F>
void ForEachEntry(F&& f) {
  for (const Entry& e : kFilters) f(e);
  for (const Entry& e : TestEntries()) f(e);
}

const Entry* Find(std::string_view name) {
  const Entry* found = nullptr;
  ForEachEntry([&](const Entry& e) {
    if (found == nullptr && name == e.name) found = &e;
  });
  return found;
}

Status Bad(const std::string& message) { return Status::Error(Code::kBadFilterArgument, message); }

// The shortest text that reads back as exactly `value`: a message about 0.09999999999999999
// must not say 0.1.
std::string Number(double value) {
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof(text), value);
  return ec == std::errc() ? std::string(text, end) : std::string("?");
}

Result<FilterStep> ParseStep(std::string_view text, std::optional<double> default_argument) {
  const size_t colon = text.find(':');
  FilterStep step;
  step.name = std::string(text.substr(0, colon));
  const Entry* entry = Find(step.name);
  if (entry == nullptr) {
    std::string known;
    ForEachEntry([&](const Entry& e) { known += std::string(known.empty() ? "" : ", ") + e.name; });
    return Status::Error(Code::kUnknownFilter,
                         "unknown filter '" + step.name + "' (known: " + known + ")");
  }
  if (colon != std::string_view::npos) {
    if (entry->argument == nullptr) return Bad("filter '" + step.name + "' takes no argument");
    const std::string_view arg = text.substr(colon + 1);
    double value = 0;
    auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), value);
    if (arg.empty() || ec != std::errc() || end != arg.data() + arg.size() ||
        !std::isfinite(value)) {
      return Bad("filter '" + step.name + "': argument '" + std::string(arg) + "' is not a number");
    }
    step.argument = value;
  } else if (entry->argument != nullptr) {
    step.argument = default_argument;
    if (!step.argument) {
      return Bad("filter '" + step.name + "' needs its " + entry->argument + ", e.g. " + step.name +
                 ":" + Number(entry->max > 10 ? 10 : entry->max) + " (or --intensity)");
    }
    if (!std::isfinite(*step.argument)) {
      return Bad("filter '" + step.name + "': --intensity " + Number(*step.argument) +
                 " is not a finite number");
    }
  }
  // Written so that NaN, which fails every comparison, is out of range too.
  if (step.argument && !(*step.argument >= entry->min && *step.argument <= entry->max)) {
    return Bad("filter '" + step.name + "': " + entry->argument + " " + Number(*step.argument) +
               " is outside " + Number(entry->min) + ".." + Number(entry->max));
  }
  return step;
}

Result<FilterOutput> Unchanged() { return FilterOutput{}; }

// Busy work the optimiser cannot drop, checking the clock every few thousand rounds.
void Spin(double ms, size_t seed) {
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double, std::milli>(ms));
  volatile uint64_t sink = seed;
  uint64_t x = sink | 1;
  do {
    for (int i = 0; i < 4096; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    sink = x;
  } while (Clock::now() < end);
}

Result<FilterOutput> RunStandIn(const FilterStep& step, std::string_view input) {
  if (const Entry* entry = Find(step.name); entry->run != nullptr) return entry->run(input);
  if (step.name == "sleep") {
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(*step.argument));
  } else if (step.name == "spin") {
    Spin(*step.argument, input.size());
  }
  return Unchanged();
}

}  // namespace

bool FilterSpec::IsNone() const { return steps.size() == 1 && steps[0].name == "none"; }

bool FilterSpec::IsStandIn() const {
  return steps.size() == 1 && Find(steps[0].name) != nullptr && Find(steps[0].name)->stand_in;
}

Result<FilterSpec> ParseFilterSpec(std::string_view text, std::optional<double> default_argument) {
  // Counted before any step is parsed, so a spec of a million steps costs one pass.
  const size_t steps = static_cast<size_t>(std::count(text.begin(), text.end(), ',')) + 1;
  if (steps > kMaxFilterSteps) {
    return Bad("a filter chain of " + std::to_string(steps) + " steps is over the limit of " +
               std::to_string(kMaxFilterSteps) + " steps");
  }
  FilterSpec spec;
  for (size_t start = 0;;) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view part = text.substr(start, comma - start);
    if (part.empty()) return Bad("empty step in filter chain '" + std::string(text) + "'");
    Result<FilterStep> step = ParseStep(part, default_argument);
    if (!step.ok()) return step.status();
    spec.steps.push_back(std::move(step).value());
    if (comma == text.size()) break;
    start = comma + 1;
  }
  for (const FilterStep& step : spec.steps) {
    if (Find(step.name)->stand_in && spec.steps.size() > 1) {
      return Bad("filter '" + step.name + "' cannot be part of a chain");
    }
    if (!spec.text.empty()) spec.text += ",";
    spec.text += step.name + (step.argument ? ":" + Number(*step.argument) : "");
  }
  return spec;
}

Status InitFilters() { return InitVips(); }

Result<FilterOutput> RunFilter(const FilterSpec& spec, const FilterContext& context,
                               std::string_view input) {
  if (spec.steps.empty()) return Status::Error(Code::kUnknownFilter, "empty filter spec");
  if (spec.IsStandIn()) return RunStandIn(spec.steps[0], input);
  return RunVipsChain(spec, context, input);
}

bool IsInstant(const FilterSpec& spec) {
  return spec.steps.size() == 1 && Find(spec.steps[0].name) != nullptr &&
         Find(spec.steps[0].name)->instant;
}

void RegisterTestStandIn(const char* name, const char* doc, StandInFn run) {
  TestEntries().push_back(Entry{name, true, false, nullptr, 0, 0, doc, run});
}

std::vector<std::string> FilterNames() {
  std::vector<std::string> names;
  ForEachEntry([&](const Entry& e) { names.emplace_back(e.name); });
  return names;
}

std::string FilterHelp() {
  std::string help;
  ForEachEntry([&](const Entry& e) {
    std::string usage = e.name;
    if (e.argument != nullptr) usage += std::string(":") + e.argument;
    char line[160];
    std::snprintf(
        line, sizeof(line), "  %-18s %s%s\n", usage.c_str(), e.doc,
        e.argument != nullptr ? (" (" + Number(e.min) + ".." + Number(e.max) + ")").c_str() : "");
    help += line;
  });
  help += "  (a chain has at most " + std::to_string(kMaxFilterSteps) + " steps)\n";
  return help;
}

}  // namespace pixelmill
