// The one table of the options a run takes. Each row is one `coordinator` flag: the field it
// sets, its default as the README writes it, the values it accepts (a range or a list), its
// --help group and text. The command declares its flags from these rows
// (coordinator/cli/command_flags.h), the API checks RunOptions against them (api_options.cc),
// and a test checks the README's flag tables against them, so the command line and the API
// accept the same values with the same meaning and the same message:
// "--heartbeat-ms: 10 is not 50..60000".
//
// The table is a template over the struct the flags fill: RunOptions for the run's options
// (RunOptionTable()), the command's own struct for its terminal flags. Read-only after the
// first call; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "common/base/status.h"
#include "pixelmill/pixelmill.h"

namespace pixelmill {

static_assert(std::is_same_v<size_t, uint64_t>, "size_t fields are listed as uint64_t");

// The --help groups, in the order --help shows them.
inline constexpr const char* kOptionGroups[] = {"Input and output", "Filter", "Workers",
                                                "Downloads",        "Memory", "Progress and logs"};

// The numbers an option accepts: lo..hi, or at least lo without hi; with or_zero, 0 as well
// (0 then means "derived from another option").
struct OptionRange {
  double lo = 0;
  std::optional<double> hi;
  bool or_zero = false;

  bool Contains(double value) const {  // false for NaN
    return (or_zero && value == 0) || (value >= lo && (!hi || value <= *hi));
  }
  // "50..60000", ">= 1", "0 or >= 256"; integral bounds without a decimal point.
  std::string Text(bool integral) const;
};

// A number as the messages and the README write it: integers whole, others as "%g" does.
std::string NumberText(double value, bool integral);

// The field a flag sets: a member of `Struct` of one of the types options have.
template <class Struct>
using OptionField =
    std::variant<bool Struct::*, std::string Struct::*, uint64_t Struct::*, uint32_t Struct::*,
                 int Struct::*, double Struct::*, std::optional<double> Struct::*,
                 std::vector<std::string> Struct::*>;

template <class Struct>
struct OptionSpec {
  OptionSpec(const char* flag_in, OptionField<Struct> field_in, const char* group_in,
             std::string help_in, std::optional<OptionRange> range_in = std::nullopt,
             std::vector<std::string> choices_in = {})
      : flag(flag_in),
        field(field_in),
        group(group_in),
        help(std::move(help_in)),
        range(range_in),
        choices(std::move(choices_in)) {}

  const char* flag;  // "--heartbeat-ms"
  OptionField<Struct> field;
  const char* group;  // one of kOptionGroups
  std::string help;   // --help's text
  std::optional<OptionRange> range;
  std::vector<std::string> choices;  // the only values a text option accepts, when not empty
  // The README's default when the field's own default does not say it (e.g. "hardware
  // threads"); null: the default value itself (off, —, or the number).
  const char* default_text = nullptr;
  bool show_default = false;  // --help prints the default ("=1000")
  bool byte_size = false;     // the flag takes bytes with K, M, G suffixes (ParseByteSize)
  bool required = false;
  bool repeatable = false;  // a list: the flag may be given more than once (--header)
  // The value of a text flag given without one ("--allow-private-networks" alone: "all"); null:
  // the flag needs its value.
  const char* bare_value = nullptr;
  // The field's name when it is not the flag's ("--output": "output_dir"); null: the flag's,
  // dashes as underscores ("--max-bad-records": "max_bad_records").
  const char* field_name = nullptr;
};

// Every RunOptions field that is a flag, in --help order.
const std::vector<OptionSpec<RunOptions>>& RunOptionTable();

// `message` (an error about options, a hint) for a caller of the C++ API: each flag of the
// table it names becomes its RunOptions field, the flag beside it ("--burst needs --rate":
// "burst (--burst) needs rate (--rate)").
std::string InApiTerms(std::string_view message);

// A whole number field (its text has no decimal point).
template <class Struct>
bool IsIntegral(const OptionField<Struct>& field) {
  return std::holds_alternative<uint64_t Struct::*>(field) ||
         std::holds_alternative<uint32_t Struct::*>(field) ||
         std::holds_alternative<int Struct::*>(field);
}

// The value of a numeric field of `values`; nullopt for text, flags and an unset optional.
template <class Struct>
std::optional<double> NumberOf(const OptionField<Struct>& field, const Struct& values) {
  return std::visit(
      [&](auto member) -> std::optional<double> {
        const auto& value = values.*member;
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::optional<double>>) {
          return value;
        } else if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
          return static_cast<double>(value);
        } else {
          return std::nullopt;
        }
      },
      field);
}

// A value as the README and the messages write it: off/on, — for nothing, text, or a number.
template <class Struct>
std::string ValueText(const OptionField<Struct>& field, const Struct& values) {
  return std::visit(
      [&](auto member) -> std::string {
        const auto& value = values.*member;
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, bool>) {
          return value ? "on" : "off";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return value.empty() ? "—" : value;
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          return value.empty() ? "—" : std::to_string(value.size()) + " given";  // may be secret
        } else if constexpr (std::is_same_v<T, std::optional<double>>) {
          return value ? NumberText(*value, false) : "—";
        } else if constexpr (std::is_same_v<T, uint64_t> || std::is_same_v<T, uint32_t>) {
          return std::to_string(value);
        } else {
          return NumberText(static_cast<double>(value), std::is_integral_v<T>);
        }
      },
      field);
}

// The default the README shows for `spec`.
template <class Struct>
std::string DefaultText(const OptionSpec<Struct>& spec) {
  return spec.default_text != nullptr ? spec.default_text : ValueText(spec.field, Struct{});
}

// What `spec` accepts, as the README's range column shows it: "1..100", "input, jpeg" or —.
template <class Struct>
std::string AcceptsText(const OptionSpec<Struct>& spec) {
  if (spec.range) return spec.range->Text(IsIntegral(spec.field));
  std::string text;
  for (const std::string& choice : spec.choices) text += (text.empty() ? "" : ", ") + choice;
  return text.empty() ? "—" : text;
}

// "10 is not 50..60000", "'gif' is not input, jpeg, png or webp", or "" when `text` (the
// value as given) is accepted. A text that is no number passes (its conversion says so).
std::string RefuseNumber(const std::string& text, const OptionRange& range, bool integral);
std::string RefuseChoice(const std::string& text, const std::vector<std::string>& choices);

// The first value of `values` that its row refuses, as a usage error naming the flag.
template <class Struct>
Status CheckAgainst(const std::vector<OptionSpec<Struct>>& table, const Struct& values) {
  for (const OptionSpec<Struct>& spec : table) {
    std::string refused;
    if (std::optional<double> number = NumberOf(spec.field, values); number && spec.range) {
      if (!spec.range->Contains(*number)) {
        refused =
            ValueText(spec.field, values) + " is not " + spec.range->Text(IsIntegral(spec.field));
      }
    } else if (auto text = std::get_if<std::string Struct::*>(&spec.field);
               text && !spec.choices.empty()) {
      refused = RefuseChoice(values.**text, spec.choices);
    }
    if (!refused.empty())
      return Status::Error(Code::kUsage, std::string(spec.flag) + ": " + refused);
  }
  return Status::Ok();
}

}  // namespace pixelmill
