#include "coordinator/workers/worker_supervisor.h"
#include "coordinator/events/callback_guard.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/io.hpp>

#include "common/base/wait_status.h"

namespace pixelmill {
namespace {

namespace bp = boost::process;

}  // namespace

uint64_t WorkerAddressSpaceMb(uint64_t max_pixels) { return 1024 + (max_pixels * 4 * 3 >> 20); }

std::chrono::milliseconds RestartDelay(int quick_deaths) {
  return std::chrono::milliseconds(
      std::min<uint64_t>(5000, 50ull << std::clamp(quick_deaths, 0, 7)));
}

struct WorkerSupervisor::Slot {
  WorkerSupervisor* owner = nullptr;
  pid_t pid = 0;       // 0 while not running
  bool ready = false;  // said Hello
  int quick_deaths = 0;
  bool gave_up = false;
  uv_timer_t restart{};
};

WorkerSupervisor::WorkerSupervisor(uv_loop_t& loop, SupervisorOptions options, ExitFn on_exit,
                                   GaveUpFn on_all_gave_up)
    : loop_(loop),
      options_(std::move(options)),
      on_exit_(std::move(on_exit)),
      on_all_gave_up_(std::move(on_all_gave_up)) {}

WorkerSupervisor::~WorkerSupervisor() { assert(!handles_open_); }

Status WorkerSupervisor::Start() {
  uv_signal_init(&loop_, &sigchld_);
  sigchld_.data = this;
  uv_signal_start(
      &sigchld_,
      [](uv_signal_t* h, int) {
        Guarded(h->loop, "SIGCHLD", [&] { static_cast<WorkerSupervisor*>(h->data)->Reap(); });
      },
      SIGCHLD);
  uv_timer_init(&loop_, &grace_);
  grace_.data = this;
  handles_open_ = true;
  for (size_t i = 0; i < options_.workers; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->owner = this;
    uv_timer_init(&loop_, &slot->restart);
    slot->restart.data = slot.get();
    slots_.push_back(std::move(slot));
  }
  for (auto& slot : slots_) {
    if (Status s = Spawn(*slot); !s.ok()) return s;
  }
  return Status::Ok();
}

Status WorkerSupervisor::Spawn(Slot& slot) {
  try {
    bp::child child(
        bp::exe = options_.worker_binary,
        bp::args = {"--connect", options_.endpoint, "--capacity", std::to_string(options_.capacity),
                    "--local", "--max-address-space-mb", std::to_string(options_.address_space_mb)},
        bp::std_in.close());
    slot.pid = child.id();
    child.detach();  // reaped by Reap() on the loop, not by Boost
  } catch (const std::exception& e) {
    return Status::Error(Code::kSpawn,
                         "cannot start worker " + options_.worker_binary + ": " + e.what());
  }
  slot.ready = false;
  return Status::Ok();
}

// SIGCHLD says some child ended: collect every one of ours that did.
void WorkerSupervisor::Reap() {
  for (auto& owned : slots_) {
    Slot& slot = *owned;
    int status = 0;
    if (slot.pid <= 0 || ::waitpid(slot.pid, &status, WNOHANG) != slot.pid) continue;
    const pid_t pid = slot.pid;
    slot.pid = 0;
    on_exit_(pid, DescribeWaitStatus(status));
    if (!closing_) Restart(slot, DescribeWaitStatus(status));
  }
  MaybeFinishClose();
}

// Restarts a slot's worker with backoff. A slot whose workers keep dying before they join (or
// cannot even be spawned) is given up; when every slot has, the owner hears why.
void WorkerSupervisor::Restart(Slot& slot, const std::string& last) {
  slot.quick_deaths = slot.ready ? 0 : slot.quick_deaths + 1;
  slot.ready = false;
  if (slot.quick_deaths >= kMaxQuickDeaths) {
    slot.gave_up = true;
    const bool all =
        std::all_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->gave_up; });
    if (all) {
      std::string why = "every local worker keeps dying before it can join (last: " + last + ")";
      if (options_.address_space_mb > 0) {
        why += "; each ran with an address-space cap of " +
               std::to_string(options_.address_space_mb) +
               " MB (--worker-memory-mb): raise it if they die at start-up";
      }
      on_all_gave_up_(why);
    }
    return;
  }
  ++restarts_;
  Emit(observer(), LogLevel::kInfo, "restarting a local worker (%s)", last.c_str());
  const auto delay = static_cast<uint64_t>(RestartDelay(slot.quick_deaths).count());
  uv_timer_start(
      &slot.restart,
      [](uv_timer_t* t) {
        auto* s = static_cast<Slot*>(t->data);
        Guarded(t->loop, "worker restart", [&] { s->owner->Respawn(*s); });
      },
      delay, 0);
}

void WorkerSupervisor::Respawn(Slot& slot) {
  if (closing_) return;
  if (Status st = Spawn(slot); !st.ok()) {
    observer().OnEvent(LogLevel::kWarning, st.message());
    Restart(slot, st.message());
  }
}

void WorkerSupervisor::MarkReady(pid_t pid) {
  for (auto& slot : slots_) {
    if (slot->pid == pid) slot->ready = true;
  }
}

void WorkerSupervisor::Kill(pid_t pid) {
  for (auto& slot : slots_) {
    // slot->pid is cleared when the process is reaped, so a reused pid is never hit.
    if (pid > 0 && slot->pid == pid) ::kill(pid, SIGKILL);
  }
}

std::vector<pid_t> WorkerSupervisor::pids() const {
  std::vector<pid_t> out;
  for (const auto& slot : slots_) {
    if (slot->pid > 0) out.push_back(slot->pid);
  }
  return out;
}

void WorkerSupervisor::Close(std::chrono::milliseconds grace, std::function<void()> on_closed) {
  closing_ = true;
  closing_handles_.Start(std::move(on_closed));
  if (!handles_open_) return closing_handles_.Seal();
  for (auto& slot : slots_) uv_timer_stop(&slot->restart);
  uv_timer_start(
      &grace_,
      [](uv_timer_t* t) {
        Guarded(t->loop, "worker stop timer", [&] {
          auto* self = static_cast<WorkerSupervisor*>(t->data);
          for (auto& slot : self->slots_) {
            if (slot->pid > 0) ::kill(slot->pid, SIGKILL);
          }
          self->Reap();
        });
      },
      static_cast<uint64_t>(grace.count()), 0);
  Reap();
}

void WorkerSupervisor::MaybeFinishClose() {
  if (!closing_ || !handles_open_ || !pids().empty()) return;
  handles_open_ = false;
  for (auto& slot : slots_) closing_handles_.Close(&slot->restart);
  closing_handles_.Close(&sigchld_);
  closing_handles_.Close(&grace_);
  closing_handles_.Seal();
}

}  // namespace pixelmill
