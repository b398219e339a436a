// The command's flags against the option tables: the README's flag tables say what the tables
// say, and the command line refuses exactly what the API refuses, with the same message.
#include "coordinator/cli/command_flags.h"

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/api/api_parts.h"

namespace pixelmill {
namespace {

struct Row {
  std::string default_text, accepts;
  int count = 0;
};

std::string Trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(' ');
  const size_t end = text.find_last_not_of(' ');
  return begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
}

// The rows of README.md's flag tables ("## Command line", up to its first sub-section), by
// flag: | `--flag ARG` | default | accepts | meaning |.
std::map<std::string, Row> ReadmeRows() {
  std::ifstream in(PIXELMILL_README);
  std::map<std::string, Row> rows;
  bool in_section = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Command line";
    if (line.rfind("### ", 0) == 0) in_section = false;
    if (!in_section || line.rfind("| `--", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream split(line.substr(1));
    for (std::string cell; cells.size() < 3 && std::getline(split, cell, '|');) {
      cells.push_back(Trim(cell));
    }
    const std::string flag = cells[0].substr(1, cells[0].find_first_of(" `", 1) - 1);
    Row& row = rows[flag];
    row.default_text = cells.size() > 1 ? cells[1] : "";
    row.accepts = cells.size() > 2 ? cells[2] : "";
    ++row.count;
  }
  return rows;
}

template <class Struct>
void ExpectRows(const std::vector<OptionSpec<Struct>>& table, std::map<std::string, Row>& rows) {
  for (const OptionSpec<Struct>& spec : table) {
    auto row = rows.find(spec.flag);
    if (row == rows.end()) {
      ADD_FAILURE() << "README has no row for " << spec.flag << ": | `" << spec.flag << "` | "
                    << DefaultText(spec) << " | " << AcceptsText(spec) << " | ... |";
      continue;
    }
    EXPECT_EQ(row->second.count, 1) << spec.flag << " has several rows";
    EXPECT_EQ(row->second.default_text, DefaultText(spec)) << spec.flag << "'s default";
    EXPECT_EQ(row->second.accepts, AcceptsText(spec)) << spec.flag << "'s accepted values";
    rows.erase(row);
  }
}

TEST(CommandFlagsTest, TheReadmesFlagTablesSayWhatTheOptionTablesSay) {
  std::map<std::string, Row> rows = ReadmeRows();
  ASSERT_GT(rows.size(), 30u) << "README's flag tables not found in " << PIXELMILL_README;
  ExpectRows(CommandFlagTable(), rows);
  ExpectRows(RunOptionTable(), rows);
  for (const auto& [flag, row] : rows) ADD_FAILURE() << "README row " << flag << " is no flag";
}

// Parses `args` (after the program name and --input) into a fresh CommandLine: "" when accepted,
// else the usage message.
std::string Parse(std::vector<std::string> args, CommandLine& line) {
  CLI::App app;
  DeclareFlags(app, line);
  args.insert(args.begin(), {"coordinator", "--input", "users.jsonl"});
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

// A value just outside a row's range, as text: above its top, else below its bottom (between 0
// and the bottom when 0 is allowed).
std::string Outside(const OptionRange& range, bool integral) {
  if (range.hi) return NumberText(*range.hi + (integral ? 1 : 0.5), integral);
  if (range.or_zero && !integral) return NumberText(range.lo / 2, integral);
  return NumberText(range.lo - 1, integral);
}

TEST(CommandFlagsTest, TheCommandLineRefusesWhatTheApiRefusesWithTheSameMessage) {
  for (const OptionSpec<RunOptions>& spec : RunOptionTable()) {
    // A count that only refuses negatives is EveryCountRefusesANegativeValue's.
    if (!spec.range || spec.byte_size || (!spec.range->hi && spec.range->lo == 0)) continue;
    const std::string outside = Outside(*spec.range, IsIntegral(spec.field));
    CommandLine line;
    const std::string refused = Parse({spec.flag, outside}, line);
    EXPECT_EQ(refused, std::string(spec.flag) + ": " + outside + " is not " +
                           spec.range->Text(IsIntegral(spec.field)));
    // The same value through the API (the field set as the flag would set it).
    RunOptions options;
    options.dry_run = true;
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(options.*member)>;
          if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
            options.*member = static_cast<T>(std::stod(outside));
          }
        },
        spec.field);
    const Result<Options> checked = ToOptions(options);
    ASSERT_FALSE(checked.ok()) << spec.flag << " " << outside;
    EXPECT_EQ(checked.status().code(), Code::kUsage);
    EXPECT_EQ(checked.status().message(), refused);
    // And the edge itself is accepted by both (with the flag it needs, if any).
    CommandLine edge;
    const std::string lo = NumberText(spec.range->lo, IsIntegral(spec.field));
    std::vector<std::string> args = {spec.flag, lo, "--dry-run"};
    if (std::string(spec.flag) == "--burst") args.insert(args.end(), {"--rate", "1"});
    EXPECT_EQ(Parse(args, edge), "") << spec.flag << " " << lo;
    EXPECT_TRUE(ToOptions(edge.run).ok()) << ToOptions(edge.run).status().ToString();
  }
}

TEST(CommandFlagsTest, EveryCountRefusesANegativeValue) {
  for (const OptionSpec<RunOptions>& spec : RunOptionTable()) {
    if (!IsIntegral(spec.field) || std::holds_alternative<int RunOptions::*>(spec.field)) continue;
    CommandLine line;
    const std::string refused = Parse({spec.flag, "-1"}, line);
    const std::string says = spec.byte_size ? ": '-1' is not a byte count" : ": -1 is not";
    EXPECT_EQ(refused.rfind(spec.flag + says, 0), 0u) << spec.flag << ": " << refused;
  }
}

TEST(CommandFlagsTest, FlagsSetTheirFields) {
  CommandLine line;
  ASSERT_EQ(Parse({"--workers", "3", "--max-memory", "1.5G", "--heartbeat-ms", "50", "--format",
                   "webp", "--quiet", "--log-format", "json", "--intensity", "2.5"},
                  line),
            "");
  EXPECT_EQ(line.command.input, "users.jsonl");
  EXPECT_EQ(line.run.workers, 3u);
  EXPECT_EQ(line.run.max_memory, 3ull << 29);
  EXPECT_EQ(line.run.heartbeat_ms, 50u);
  EXPECT_EQ(line.run.format, "webp");
  EXPECT_EQ(line.run.intensity, 2.5);
  EXPECT_TRUE(line.command.quiet);
  EXPECT_EQ(line.command.log_format, "json");
  CommandLine defaults;
  ASSERT_EQ(Parse({}, defaults), "");
  EXPECT_EQ(defaults.run.max_memory, RunOptions{}.max_memory) << "512M is the field's default";
  EXPECT_GE(defaults.run.workers, 1u);
}

TEST(CommandFlagsTest, AByteSizeThatIsNoneIsRefusedNamingTheFlag) {
  CommandLine line;
  EXPECT_EQ(Parse({"--max-memory", "12Q"}, line),
            "--max-memory: '12Q' is not a byte count above 0 (plain bytes, or K, M, G, decimals "
            "allowed: e.g. 512M or 1.5G)");
}

}  // namespace
}  // namespace pixelmill
