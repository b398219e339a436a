// ChildProcess: a program a test runs (coordinator, worker, image-api), started with
// posix_spawn with stdout and stderr sent to files, and killed and reaped when the test is done.
// Plus WaitFor, the bounded polling loop the process tests share. Header-only.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace pixelmill::testing {

// Polls `done` every 10 ms for up to `seconds`; true once it holds.
inline bool WaitFor(const std::function<bool()>& done, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// True when `pid` no longer runs (gone, or a zombie nobody has reaped yet).
inline bool Gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  const std::string text((std::istreambuf_iterator<char>(stat)), {});
  const size_t close = text.rfind(')');
  return close == std::string::npos || (close + 2 < text.size() && text[close + 2] == 'Z');
}

// The exit code of a wait status, or -1 if the process was killed by a signal.
inline int ExitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

class ChildProcess {
 public:
  // Starts argv[0] with argv; empty paths leave stdout/stderr as they are; `stdin_fd` (if not
  // -1) becomes its standard input.
  ChildProcess(std::vector<std::string> argv, const std::filesystem::path& out = {},
               const std::filesystem::path& err = {}, int stdin_fd = -1) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (stdin_fd >= 0) posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
    const int mode = O_WRONLY | O_CREAT | O_TRUNC;
    if (!out.empty()) posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), mode, 0644);
    if (!err.empty()) posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), mode, 0644);
    std::vector<char*> raw;
    for (std::string& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0].c_str(), &actions, nullptr, raw.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGCONT);  // a stopped process would not die of SIGKILL until continued
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  // Waits up to `seconds` for the exit; the wait status, or -1 on timeout.
  // With `usage`, also its resource usage (e.g. ru_maxrss, the peak resident set in KiB).
  int Wait(double seconds, rusage* usage = nullptr) {
    int status = 0;
    rusage ignored{};
    rusage* into = usage != nullptr ? usage : &ignored;
    if (!WaitFor([&] { return ::wait4(pid_, &status, WNOHANG, into) == pid_; }, seconds)) {
      return -1;
    }
    reaped_ = true;
    return status;
  }
  // Asks it to stop (SIGTERM), then kills it after `grace` seconds; the wait status.
  int Stop(double grace) {
    ::kill(pid_, SIGTERM);
    const int status = Wait(grace);
    return status != -1 ? status : (::kill(pid_, SIGKILL), Wait(10));
  }
  // Its direct children (a coordinator's workers).
  std::vector<pid_t> Children() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) +
                     "/children");
    std::vector<pid_t> out;
    for (pid_t p; in >> p;) out.push_back(p);
    return out;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace pixelmill::testing
