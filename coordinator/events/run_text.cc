#include "coordinator/events/run_text.h"

#include <signal.h>

#include "coordinator/events/event.h"

namespace pixelmill {
namespace {

// `word` quoted for a POSIX shell when it needs it.
std::string ShellQuote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_-+=./:,@%") == std::string::npos) {
    return word;
  }
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

std::string NotImageMessage(const std::string& url, const std::string& why,
                            std::string_view content_type, size_t bytes) {
  return "body from " + url + " is not a usable image: " + why + " (Content-Type was '" +
         std::string(content_type.substr(0, 100)) + "', " + std::to_string(bytes) + " bytes)";
}

const char* StopSignalName(int signum) {
  switch (signum) {
    case 0:
      return "a stop request";
    case SIGINT:
      return "SIGINT";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "SIGTERM";
  }
}

namespace {

// "Name: value" as "Name: ..." (everything after the first ':' hidden).
std::string HideValue(const std::string& header) {
  const size_t colon = header.find(':');
  return colon == std::string::npos ? "..." : header.substr(0, colon + 1) + " ...";
}

}  // namespace

std::vector<std::string> HideHeaderValues(const std::vector<std::string>& command_line) {
  constexpr std::string_view kInline = "--header=";
  std::vector<std::string> out;
  out.reserve(command_line.size());
  bool value_next = false;
  for (const std::string& arg : command_line) {
    if (value_next) {
      out.push_back(HideValue(arg));
    } else if (arg.compare(0, kInline.size(), kInline) == 0) {
      out.push_back(std::string(kInline) + HideValue(arg.substr(kInline.size())));
    } else {
      out.push_back(arg);
    }
    value_next = !value_next && arg == "--header";
  }
  return out;
}

std::string ResumeCommand(const std::vector<std::string>& given) {
  const std::vector<std::string> command_line = HideHeaderValues(given);
  std::string command;
  bool has_resume = false, from_stdin = false;
  for (size_t i = 0; i < command_line.size(); ++i) {
    const std::string& arg = command_line[i];
    if (arg == "--overwrite") continue;
    has_resume |= arg == "--resume";
    from_stdin |= arg == "--input=-" ||
                  (arg == "--input" && i + 1 < command_line.size() && command_line[i + 1] == "-");
    if (!command.empty()) command += ' ';
    command += ShellQuote(arg);
  }
  if (command.empty()) command = "coordinator ...";
  if (!has_resume) command += " --resume";
  // Standard input is known by its users: a resume must be given the same ones.
  return from_stdin ? command + "  # fed the same users on standard input" : command;
}

Event InterruptedEvent(int signum, size_t ok, size_t failed, size_t left,
                       const std::vector<std::string>& command_line) {
  return EventBuilder(LogLevel::kError, "interrupted")
      .Text("interrupted by ")
      .Field("signal", StopSignalName(signum))
      .Text(": ")
      .Field("ok", ok)
      .Text(" ok and ")
      .Field("failed", failed)
      .Text(" failed saved in this run, ")
      .Field("left", left)
      .Text(" user(s) left; every saved user is in the manifest. Resume with:\n  ")
      .Field("resume_command", ResumeCommand(command_line))
      .Done();
}

std::string InterruptedMessage(int signum, size_t ok, size_t failed, size_t left,
                               const std::vector<std::string>& command_line) {
  return InterruptedEvent(signum, ok, failed, left, command_line).message;
}

int EndOfRun(Observer& observer, bool stopped, int signum, const std::string& fatal, size_t ok,
             size_t failed, size_t left, const std::vector<std::string>& command_line,
             bool& interrupted) {
  if (stopped && fatal.empty()) {
    interrupted = true;
    observer.OnStructuredEvent(InterruptedEvent(signum, ok, failed, left, command_line));
    return kExitFatal;
  }
  if (!fatal.empty()) {
    std::string message = fatal;
    if (left > 0) message += "\nresume with:\n  " + ResumeCommand(command_line);
    observer.OnEvent(LogLevel::kError, message);
    return kExitFatal;
  }
  return failed > 0 ? kExitSomeFailed : kExitOk;
}

}  // namespace pixelmill
