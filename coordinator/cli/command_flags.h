// The `coordinator` command's flags, declared from the option tables (option_table.h): the
// run's options from RunOptionTable(), the command's own (its input and its terminal output)
// from CommandFlagTable(). main.cpp parses them and hands the RunOptions to the API, which
// checks the same values against the same table.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "coordinator/api/option_table.h"
#include "coordinator/cli/terminal_output.h"
#include "pixelmill/pixelmill.h"

namespace pixelmill {

// The flags that are the command's own, not the run's.
struct CommandFlags : TerminalOptions {
  std::string input;                // --input: a JSON array or JSONL file; "-" for stdin
  std::string log_format = "text";  // --log-format: text or json
};

// What the command line says: the run's options and the command's own.
struct CommandLine {
  RunOptions run;
  CommandFlags command;
};

// Every flag of CommandFlags, in --help order.
const std::vector<OptionSpec<CommandFlags>>& CommandFlagTable();

// Declares every flag of both tables on `app`, grouped and ordered as --help shows them, each
// bound to its field of `line` and refusing what its row refuses ("--quality: 0 is not 1..100").
// `line` must outlive the parse.
void DeclareFlags(CLI::App& app, CommandLine& line);

}  // namespace pixelmill
