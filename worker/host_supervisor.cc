#include "worker/host_supervisor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/base/wait_status.h"
#include "worker/stop_signal.h"

namespace pixelmill::worker {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

constexpr seconds kMinBackoff{1};
constexpr seconds kMaxBackoff{60};
constexpr seconds kStableAfter{60};  // a process that ran this long starts over at kMinBackoff
constexpr auto kTick = std::chrono::milliseconds(100);

struct Slot {
  pid_t pid = 0;  // 0: not running
  bool finished = false;
  Clock::time_point started{}, restart_at{};
  seconds backoff = kMinBackoff;
};

pid_t Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;  // the parent, or -1
  // The child: a supervisor that dies (even by SIGKILL) gives its workers a warm shutdown.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(1);
  ::execv("/proc/self/exe", args.data());
  std::fprintf(stderr, "worker: cannot run /proc/self/exe: %s\n", std::strerror(errno));
  ::_exit(127);
}

}  // namespace

int SuperviseProcesses(const std::vector<std::string>& argv, unsigned processes) {
  InstallStopHandlers(false);
  std::vector<Slot> slots(processes);
  std::fprintf(stderr, "worker: supervising %u worker processes\n", processes);
  int forwarded = 0;  // stop signals passed on
  int code = 0;
  while (true) {
    const Clock::time_point now = Clock::now();
    const int stops = StopRequests();
    for (; forwarded < stops; ++forwarded) {
      for (const Slot& s : slots) {
        if (s.pid > 0) ::kill(s.pid, SIGTERM);
      }
    }
    bool running = false;
    for (size_t i = 0; i < slots.size(); ++i) {
      Slot& s = slots[i];
      if (s.pid == 0 && !s.finished && stops == 0 && now >= s.restart_at) {
        s.pid = Spawn(argv);
        if (s.pid < 0) {
          std::fprintf(stderr, "worker: fork: %s\n", std::strerror(errno));
          s.pid = 0;
          s.restart_at = now + s.backoff;
          s.backoff = std::min(s.backoff * 2, kMaxBackoff);
        } else {
          s.started = now;
        }
      }
      running |= s.pid > 0 || (!s.finished && stops == 0);
    }
    if (!running) return code;

    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      std::this_thread::sleep_for(kTick);  // a signal cuts it short
      continue;
    }
    auto it = std::find_if(slots.begin(), slots.end(), [&](const Slot& s) { return s.pid == pid; });
    if (it == slots.end()) continue;
    Slot& s = *it;
    s.pid = 0;
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
      std::fprintf(stderr, "worker: a worker process refused its flags (exit 2): stopping all\n");
      for (Slot& other : slots) {
        other.finished = true;
        if (other.pid > 0) ::kill(other.pid, SIGTERM);
      }
      code = 2;
      continue;
    }
    if (clean || StopRequests() > 0) {
      s.finished = true;
      if (!clean && code == 0) code = 1;
      continue;
    }
    if (Clock::now() - s.started >= kStableAfter) s.backoff = kMinBackoff;
    std::fprintf(stderr, "worker: worker process %d %s; restarting it in %lld s\n",
                 static_cast<int>(pid), DescribeWaitStatus(status).c_str(),
                 static_cast<long long>(s.backoff.count()));
    s.restart_at = Clock::now() + s.backoff;
    s.backoff = std::min(s.backoff * 2, kMaxBackoff);
  }
}

}  // namespace pixelmill::worker
