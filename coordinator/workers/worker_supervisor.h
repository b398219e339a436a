// WorkerSupervisor: runs the local worker processes. Spawns them with Boost.Process, each
// connecting to the coordinator's private ipc:// endpoint with --local (so it dies with the
// coordinator: PR_SET_PDEATHSIG, and exits on heartbeat loss); notices each exit on the libuv
// loop (SIGCHLD + waitpid) with its exit code or signal; restarts crashed workers with backoff;
// and at the end stops them all (they got Shutdown; stragglers get SIGKILL after a grace time).
//
// A slot whose worker keeps dying before it ever joins (MarkReady) is given up after
// kMaxQuickDeaths in a row; deaths of workers that were working (crashes, kills) only restart.
// Owned and used by the loop thread only. Close() before destruction.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "coordinator/events/close_group.h"
#include "coordinator/events/run_observer.h"

namespace pixelmill {

struct SupervisorOptions {
  size_t workers = 1;
  std::string worker_binary;      // path of the worker executable
  std::string endpoint;           // what workers connect to
  uint32_t capacity = 2;          // --capacity for each worker
  uint64_t address_space_mb = 0;  // --max-address-space-mb for each worker; 0 = none
  Observer* observer = nullptr;   // where events go (nullptr: stderr)
};

// The default address-space cap for a worker filtering images of up to `max_pixels`: the
// decoded image, the filtered one and libvips' working copies (4 bytes a pixel, three times),
// plus 1 GiB for the libraries, thread stacks and allocator arenas.
uint64_t WorkerAddressSpaceMb(uint64_t max_pixels);

// How long a slot waits before it restarts a worker that died `quick_deaths` times in a row
// before joining (0 after one that had joined): 50 ms doubled per quick death, at most 5 s.
std::chrono::milliseconds RestartDelay(int quick_deaths);

class WorkerSupervisor {
 public:
  // how: "exited with status 1", "died with signal 9 (Killed)".
  using ExitFn = std::function<void(pid_t pid, const std::string& how)>;
  using GaveUpFn = std::function<void(const std::string& why)>;

  WorkerSupervisor(uv_loop_t& loop, SupervisorOptions options, ExitFn on_exit,
                   GaveUpFn on_all_gave_up);
  WorkerSupervisor(const WorkerSupervisor&) = delete;
  WorkerSupervisor& operator=(const WorkerSupervisor&) = delete;
  ~WorkerSupervisor();

  // Starts watching SIGCHLD, then spawns every worker. Fails if the first spawn fails.
  Status Start();
  // Stops restarting; gives workers `grace` to exit, then SIGKILLs the rest; `on_closed`
  // once every worker is reaped and every handle closed.
  void Close(std::chrono::milliseconds grace, std::function<void()> on_closed);

  // The dispatcher heard this local worker's Hello.
  void MarkReady(pid_t pid);
  // Kills (SIGKILL) the worker with this pid if it is one of ours and still running; it is
  // reaped and replaced like any worker that died. Other pids are ignored.
  void Kill(pid_t pid);
  std::vector<pid_t> pids() const;
  uint64_t restarts() const { return restarts_; }

 private:
  struct Slot;
  static constexpr int kMaxQuickDeaths = 5;

  Status Spawn(Slot& slot);
  void Respawn(Slot& slot);
  Observer& observer() const {
    return options_.observer != nullptr ? *options_.observer : StderrObserver();
  }
  void Restart(Slot& slot, const std::string& last);
  void Reap();
  void MaybeFinishClose();

  uv_loop_t& loop_;
  const SupervisorOptions options_;
  ExitFn on_exit_;
  GaveUpFn on_all_gave_up_;
  uv_signal_t sigchld_{};
  uv_timer_t grace_{};
  std::vector<std::unique_ptr<Slot>> slots_;
  uint64_t restarts_ = 0;
  bool handles_open_ = false;  // Start() ran and the handles are not closing yet
  bool closing_ = false;
  CloseGroup closing_handles_;
};

}  // namespace pixelmill
