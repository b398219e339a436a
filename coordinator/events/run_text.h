// Words both runners (the Pipeline and --sequential) use for the same events, so the two say
// the same thing: why a downloaded body is not an image (the manifest's not_image message), a
// stop signal's name, and the command that resumes a stopped run.
//
// Plain functions; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/events/run_observer.h"

namespace pixelmill {

// "body from URL is not a usable image: WHY (Content-Type was 'T', N bytes)"; `url` redacted.
std::string NotImageMessage(const std::string& url, const std::string& why,
                            std::string_view content_type, size_t bytes);

// "SIGINT", "SIGHUP" or "SIGTERM" (for any other signal); "a stop request" for 0 (Cancel()).
const char* StopSignalName(int signum);

// `command_line` with the value of every --header hidden ("--header 'Authorization: ...'",
// "--header=X-Key: ..."): what logs, reports and messages may show of it.
std::vector<std::string> HideHeaderValues(const std::vector<std::string>& command_line);

// The command line as given, each word quoted for a POSIX shell where needed, without
// --overwrite (a resume never wipes the folder) and with --resume added unless already there;
// --header values hidden (give them again, or use --headers-file).
std::string ResumeCommand(const std::vector<std::string>& command_line);

// "interrupted by SIGINT: 3 ok and 1 failed saved in this run, 7 user(s) left; ... Resume
// with:\n  <ResumeCommand>", as an event (kind "interrupted"; fields signal, ok, failed, left,
// resume_command) and as its text.
Event InterruptedEvent(int signum, size_t ok, size_t failed, size_t left,
                       const std::vector<std::string>& command_line);
std::string InterruptedMessage(int signum, size_t ok, size_t failed, size_t left,
                               const std::vector<std::string>& command_line);

// How a stopped or finished run ends, for both runners: says why it stopped (interrupted by
// `signum` when `stopped` and no `fatal` error, else `fatal` and, with users left, how to
// resume) through `observer`, and returns the exit code (kExitFatal, or kExitOk /
// kExitSomeFailed by `failed`). Sets `interrupted` when a stop request ended the run.
int EndOfRun(Observer& observer, bool stopped, int signum, const std::string& fatal, size_t ok,
             size_t failed, size_t left, const std::vector<std::string>& command_line,
             bool& interrupted);

}  // namespace pixelmill
