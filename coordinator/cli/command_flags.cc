// DeclareFlags(): one CLI11 option per row of the option tables, and the command's own rows.
#include "coordinator/cli/command_flags.h"

#include <cstring>
#include <type_traits>

#include "common/base/byte_budget.h"

namespace pixelmill {

const std::vector<OptionSpec<CommandFlags>>& CommandFlagTable() {
  using C = CommandFlags;
  static const std::vector<OptionSpec<C>> table = [] {
    constexpr const char* kLogs = "Progress and logs";
    std::vector<OptionSpec<C>> t;
    OptionSpec<C>& input =
        t.emplace_back(OptionSpec<C>{"--input", &C::input, "Input and output",
                                     "users as a JSON array or JSONL file; - for stdin"});
    input.required = true;
    input.default_text = "required";
    t.push_back({"--quiet", &C::quiet, kLogs,
                 "print only errors and the last line (\"done: ...\"); the summary's figures are "
                 "in --report"});
    t.push_back({"--log-level", &C::log_level, kLogs, "debug, info, warning, error or off"});
    t.back().show_default = true;
    t.push_back({"--log-format",
                 &C::log_format,
                 kLogs,
                 "text, or json: one JSON object a line",
                 std::nullopt,
                 {"text", "json"}});
    t.back().show_default = true;
    t.push_back({"--progress-file", &C::progress_file, kLogs,
                 "write a JSONL time series of the run's progress here, one sample a second"});
    t.push_back({"--progress-interval", &C::progress_interval_s, kLogs,
                 "seconds between plain progress lines when stderr is not a terminal (0: none)",
                 OptionRange{0, 86400, false}});
    t.back().show_default = true;
    return t;
  }();
  return table;
}

namespace {

// What --help says a row accepts, as CLI11's own validators word it (CLI::Range,
// CLI::NonNegativeNumber, CLI::IsMember), e.g. "UINT in [50 - 60000]"; "" for nothing.
template <class Struct>
std::string AcceptsHelp(const OptionSpec<Struct>& spec, const char* type) {
  if (!spec.choices.empty()) {
    std::string list;
    for (const std::string& choice : spec.choices) list += (list.empty() ? "" : ",") + choice;
    return "{" + list + "}";
  }
  if (!spec.range || spec.range->or_zero || spec.byte_size) return "";
  const OptionRange& range = *spec.range;
  const bool integral = IsIntegral(spec.field);
  if (!range.hi) return range.lo == 0 ? "NONNEGATIVE" : "";
  return std::string(type) + " in [" + NumberText(range.lo, integral) + " - " +
         NumberText(*range.hi, integral) + "]";
}

template <class T>
const char* TypeName() {
  if constexpr (std::is_same_v<T, int>) return "INT";
  if constexpr (std::is_integral_v<T>) return "UINT";
  return "FLOAT";
}

// --max-memory: bytes, or K, M, G.
CLI::Option* AddByteSize(CLI::App& app, const OptionSpec<RunOptions>& spec, RunOptions& run) {
  uint64_t RunOptions::*field = std::get<uint64_t RunOptions::*>(spec.field);
  CLI::Option* option = app.add_option_function<std::string>(
      spec.flag, [&run, field](const std::string& text) { run.*field = *ParseByteSize(text); },
      spec.help);
  option->default_str(DefaultText(spec));
  option->check(CLI::Validator(
      [](std::string& text) -> std::string {
        if (ParseByteSize(text)) return "";
        return "'" + text +
               "' is not a byte count above 0 (plain bytes, or K, M, G, decimals allowed: e.g. "
               "512M or 1.5G)";
      },
      ""));
  return option;
}

template <class Struct>
void Declare(CLI::App& app, const OptionSpec<Struct>& spec, Struct& values) {
  CLI::Option* option = nullptr;
  const char* type = "";
  if constexpr (std::is_same_v<Struct, RunOptions>) {
    if (spec.byte_size) option = AddByteSize(app, spec, values);
  }
  if (option == nullptr) {
    std::visit(
        [&](auto member) {
          auto& value = values.*member;
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, bool>) {
            option = app.add_flag(spec.flag, value, spec.help);
          } else {
            option = app.add_option(spec.flag, value, spec.help);
            if constexpr (std::is_arithmetic_v<T>) type = TypeName<T>();
          }
        },
        spec.field);
    if (spec.show_default) option->capture_default_str();
  }
  const std::string accepts = AcceptsHelp(spec, type);
  if (spec.range && !spec.byte_size) {
    const OptionRange range = *spec.range;
    const bool integral = IsIntegral(spec.field);
    option->check(CLI::Validator(
        [range, integral](std::string& text) { return RefuseNumber(text, range, integral); },
        accepts));
  } else if (!spec.choices.empty()) {
    const std::vector<std::string> choices = spec.choices;
    option->check(CLI::Validator(
        [choices](std::string& text) { return RefuseChoice(text, choices); }, accepts));
  }
  if (spec.required) option->required();
  if (spec.bare_value != nullptr) option->expected(0, 1)->default_str(spec.bare_value);
  if (spec.repeatable) option->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  option->group(spec.group);
}

}  // namespace

void DeclareFlags(CLI::App& app, CommandLine& line) {
  for (const char* group : kOptionGroups) {
    for (const OptionSpec<CommandFlags>& spec : CommandFlagTable()) {
      if (std::strcmp(spec.group, group) == 0) Declare(app, spec, line.command);
    }
    for (const OptionSpec<RunOptions>& spec : RunOptionTable()) {
      if (std::strcmp(spec.group, group) == 0) Declare(app, spec, line.run);
    }
  }
}

}  // namespace pixelmill
