// Worker-pool benchmarks (see scripts/bench.sh), each beside its raw ZeroMQ baseline:
//   BM_PoolRoundTrip/size/workers  jobs through the real Dispatcher and real worker processes
//                                  (filter "none": the worker sends the payload back)
//   BM_RawEcho{Threads,Processes}/size/peers
//                                  the same message size through a bare ROUTER and DEALER echo
//                                  peers over ipc, the same number of messages in flight
//   BM_PoolStartup/workers         from spawning N workers until all N have joined
//   BM_CurveRoundTrip/size         BM_PoolRoundTrip's jobs to workers connected over
//                                  tcp://127.0.0.1 with CurveZMQ, beside the same in the clear
//   BM_RejectedPeers/size/peers    the CURVE round trip, beside the same while `peers` keys not
//                                  in the allow-list reconnect in a tight loop (another process)
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <zmq.hpp>

#include "common/wire/curve_keys.h"
#include "coordinator/workers/dispatcher.h"
#include "coordinator/workers/worker_supervisor.h"

namespace pixelmill {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kCapacity = 32;  // jobs in flight per worker, both sides

std::string Endpoint(const std::string& name) {
  return "ipc:///tmp/pixelmill-bench-" + std::to_string(::getpid()) + "-" + name + ".sock";
}

// A payload of `size` bytes (at least 45) that passes the coordinator's check of every result:
// a PNG header and an IDAT chunk filled up to the size (its pixels are never decoded).
std::string PngPayload(size_t size) {
  std::string p("\x89PNG\r\n\x1a\n", 8);
  const auto be32 = [&p](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) p.push_back(static_cast<char>(v >> shift));
  };
  be32(13);
  p += "IHDR";
  be32(16);
  be32(16);
  p.append("\x08\x02\x00\x00\x00", 5);
  be32(0);
  const size_t data = std::max<size_t>(size, p.size() + 12) - p.size() - 12;
  be32(static_cast<uint32_t>(data));
  p += "IDAT";
  p.append(data, 'x');
  be32(0);
  return p;
}

// CurveZMQ certificates in a temporary folder, written as pixelmill-keygen writes them: the
// coordinator's pair, and one worker's pair in allow/ (the --allow-workers folder: only its .key
// is read there).
class CurveFiles {
 public:
  CurveFiles() {
    std::string pattern = "/tmp/pixelmill-bench-keys-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) return;
    dir_ = pattern;
    std::error_code ec;
    std::filesystem::create_directory(dir_ / "allow", ec);
    Result<CurveKeyPair> coordinator = NewCurveKeyPair(), worker = NewCurveKeyPair();
    ok_ = !ec && coordinator.ok() && worker.ok() &&
          WriteCertificates(dir_, "coordinator", coordinator.value(), "dispatch_bench").ok() &&
          WriteCertificates(dir_ / "allow", "worker", worker.value(), "dispatch_bench").ok();
    if (ok_) coordinator_ = coordinator.value();
  }
  ~CurveFiles() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  CurveFiles(const CurveFiles&) = delete;
  CurveFiles& operator=(const CurveFiles&) = delete;

  bool ok() const { return ok_; }
  const CurveKeyPair& coordinator() const { return coordinator_; }
  std::string allow_dir() const { return (dir_ / "allow").string(); }
  // The worker's flags for CurveZMQ with this coordinator.
  std::vector<std::string> WorkerFlags() const {
    return {"--curve-secret", (dir_ / "allow" / "worker.key_secret").string(), "--server-key",
            (dir_ / "coordinator.key").string()};
  }

 private:
  std::filesystem::path dir_;
  CurveKeyPair coordinator_;
  bool ok_ = false;
};

// Where a Pool's workers connect: a private ipc:// endpoint, spawned and watched by the
// supervisor (local workers), or tcp://127.0.0.1 on a port of the system's choosing, spawned
// here as remote workers would connect (with `curve`: CurveZMQ, only its worker key admitted).
struct PoolSetup {
  size_t workers = 2;
  std::string name = "pool";  // of the ipc:// endpoint
  bool tcp = false;
  const CurveFiles* curve = nullptr;  // REQUIRES: tcp
};

// A libuv loop for a benchmark's pools; they must all be gone before it.
class Loop {
 public:
  Loop() { uv_loop_init(&loop_); }
  ~Loop() { uv_loop_close(&loop_); }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  uv_loop_t& get() { return loop_; }

 private:
  uv_loop_t loop_{};
};

// A dispatcher with N real workers on `loop`, torn down cleanly at the end. Pools sharing a loop
// all keep their heartbeats while any of them runs.
class Pool {
 public:
  Pool(Loop& loop, const PoolSetup& setup) : loop_(loop.get()) {
    DispatchOptions d;
    d.endpoints = {setup.tcp ? "tcp://127.0.0.1:*" : Endpoint(setup.name)};
    d.filter = ParseFilterSpec("none").value();
    if (setup.curve != nullptr) {
      d.curve = setup.curve->coordinator();
      d.allow_workers = setup.curve->allow_dir();
    }
    dispatcher_ = std::make_unique<Dispatcher>(loop_, d, [this](JobOutcome&& o) {
      ++done_;
      if (!o.error.ok()) ++failed_;
      if (submitted_ < total_) SubmitOne();
    });
    ok_ = dispatcher_->Init().ok();
    started_ = Clock::now();
    if (setup.tcp) {
      ok_ = ok_ && Spawn(setup.workers, setup.curve);
    } else {
      SupervisorOptions s;
      s.workers = setup.workers;
      s.worker_binary = PIXELMILL_WORKER;
      s.endpoint = d.endpoints[0];
      s.capacity = kCapacity;
      supervisor_ = std::make_unique<WorkerSupervisor>(
          loop_, s, [](pid_t, const std::string&) {}, [](const std::string&) {});
      ok_ = ok_ && supervisor_->Start().ok();
    }
    if (ok_) RunUntil([&] { return dispatcher_->workers() == setup.workers; });
    ok_ = ok_ && dispatcher_->workers() == setup.workers;
    startup_seconds_ = std::chrono::duration<double>(Clock::now() - started_).count();
  }
  ~Pool() {
    int closing = supervisor_ ? 2 : 1;
    dispatcher_->Close([&] { --closing; });
    if (supervisor_) supervisor_->Close(std::chrono::seconds(2), [&] { --closing; });
    while (closing > 0) uv_run(&loop_, UV_RUN_ONCE);
    dispatcher_.reset();
    supervisor_.reset();
    Reap();
  }

  // Sends `jobs` jobs of `payload` and returns the seconds until the last result. Like the
  // pipeline, it keeps a bounded number waiting (two full rounds of credit), not all at once.
  double Run(size_t jobs, const std::string& payload) {
    done_ = submitted_ = 0;
    total_ = jobs;
    payload_ = &payload;
    const auto start = Clock::now();
    while (submitted_ < std::min(jobs, 2 * kCapacity * dispatcher_->workers())) SubmitOne();
    RunUntil([&] { return done_ == jobs; });
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

  // Keeps the loop turning (heartbeats) until `done` or `limit`, for a pool with nothing to do.
  template <typename Done>
  void Idle(Done done, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (!done() && Clock::now() < deadline) {
      uv_run(&loop_, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  bool ok() const { return ok_ && failed_ == 0; }
  double startup_seconds() const { return startup_seconds_; }
  // The endpoint bound (a tcp:// port resolved). REQUIRES: ok()
  const std::string& endpoint() const { return dispatcher_->bound()[0]; }

 private:
  // Starts the tcp workers, each with --local all the same: it dies with this process.
  bool Spawn(size_t workers, const CurveFiles* curve) {
    std::vector<std::string> args = {
        PIXELMILL_WORKER,          "--connect", endpoint(), "--capacity",
        std::to_string(kCapacity), "--local"};
    if (curve != nullptr) {
      for (const std::string& flag : curve->WorkerFlags()) args.push_back(flag);
    }
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    for (size_t w = 0; w < workers; ++w) {
      pid_t pid = 0;
      if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return false;
      spawned_.push_back(pid);
    }
    return true;
  }

  // The tcp workers were sent Shutdown: they get 2 s to exit, then SIGKILL.
  void Reap() {
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    for (pid_t pid : spawned_) {
      while (::waitpid(pid, nullptr, WNOHANG) == 0) {
        if (Clock::now() >= deadline) {
          ::kill(pid, SIGKILL);
          ::waitpid(pid, nullptr, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
  }

  void SubmitOne() {
    const size_t user = submitted_++;
    dispatcher_->Submit(user, static_cast<int64_t>(user), ImageBuffer::FromString(*payload_));
  }

  template <typename Done>
  void RunUntil(Done done) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (!done() && Clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
  }

  uv_loop_t& loop_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<WorkerSupervisor> supervisor_;  // ipc only
  std::vector<pid_t> spawned_;                    // tcp only
  Clock::time_point started_;
  double startup_seconds_ = 0;
  size_t done_ = 0, failed_ = 0, submitted_ = 0, total_ = 0;
  const std::string* payload_ = nullptr;
  bool ok_ = false;
};

void BM_PoolRoundTrip(benchmark::State& state) {
  const std::string payload = PngPayload(static_cast<size_t>(state.range(0)));
  const size_t jobs = payload.size() > 1024 ? 20000 : 200000;
  Loop loop;
  Pool pool(loop, {.workers = static_cast<size_t>(state.range(1))});
  if (!pool.ok()) return state.SkipWithError("pool did not start");
  for (auto _ : state) state.SetIterationTime(pool.Run(jobs, payload));
  if (!pool.ok()) return state.SkipWithError("a job failed");
  state.counters["msgs_per_s"] =
      benchmark::Counter(static_cast<double>(jobs), benchmark::Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * jobs * payload.size()));
}

// One DEALER echo: answers everything the ROUTER sends, frame for frame, until told "stop".
void Echo(zmq::context_t& context, const std::string& endpoint, const std::string& id) {
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::routing_id, id);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(endpoint);
  zmq::message_t hello("hi", 2);
  (void)dealer.send(hello, zmq::send_flags::none);
  while (true) {
    zmq::message_t head, body;
    (void)dealer.recv(head);
    if (!head.more()) return;  // "stop"
    (void)dealer.recv(body);
    (void)dealer.send(head, zmq::send_flags::sndmore);
    (void)dealer.send(body, zmq::send_flags::none);
  }
}

// The raw baseline: a bare ROUTER keeps kCapacity messages in flight per echo peer. Peers are
// threads of this process (one ZeroMQ I/O thread for both ends: the fastest ZeroMQ can be) or
// separate processes (the pool's topology: an I/O thread on each side).
void RawEcho(benchmark::State& state, bool processes) {
  const std::string payload = PngPayload(static_cast<size_t>(state.range(0)));
  const size_t peers = static_cast<size_t>(state.range(1));
  const size_t jobs = payload.size() > 1024 ? 20000 : 200000;
  const std::string endpoint = Endpoint(processes ? "rawp" : "rawt");
  std::vector<pid_t> children;
  if (processes) {
    for (size_t p = 0; p < peers; ++p) {
      const pid_t pid = ::fork();  // before this process makes any ZeroMQ context
      if (pid == 0) {
        zmq::context_t context(1);
        Echo(context, endpoint, "peer" + std::to_string(p));
        std::_Exit(0);
      }
      children.push_back(pid);
    }
  }
  zmq::context_t context(1);
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::sndhwm, 0);
  router.set(zmq::sockopt::rcvhwm, 0);
  router.bind(endpoint);
  std::vector<std::thread> threads;
  for (size_t p = 0; !processes && p < peers; ++p) {
    threads.emplace_back([&, p] { Echo(context, endpoint, "peer" + std::to_string(p)); });
  }
  std::vector<std::string> ids;
  for (size_t p = 0; p < peers; ++p) {  // wait for every peer's hello
    zmq::message_t id, hello;
    (void)router.recv(id);
    (void)router.recv(hello);
    ids.push_back(id.to_string());
  }
  const std::string head(24, 'h');  // about an encoded Job envelope
  for (auto _ : state) {
    const auto start = Clock::now();
    size_t sent = 0, received = 0;
    const size_t window = kCapacity * peers;
    while (received < jobs) {
      while (sent < jobs && sent - received < window) {
        zmq::message_t id(ids[sent % peers].data(), ids[sent % peers].size());
        zmq::message_t h(head.data(), head.size()), body(payload.data(), payload.size());
        (void)router.send(id, zmq::send_flags::sndmore);
        (void)router.send(h, zmq::send_flags::sndmore);
        (void)router.send(body, zmq::send_flags::none);
        ++sent;
      }
      zmq::message_t id, h, body;
      (void)router.recv(id);
      (void)router.recv(h);
      (void)router.recv(body);
      ++received;
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
  }
  for (const std::string& id : ids) {
    zmq::message_t to(id.data(), id.size()), stop("stop", 4);
    (void)router.send(to, zmq::send_flags::sndmore);
    (void)router.send(stop, zmq::send_flags::none);
  }
  for (std::thread& t : threads) t.join();
  for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
  state.counters["msgs_per_s"] =
      benchmark::Counter(static_cast<double>(jobs), benchmark::Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * jobs * payload.size()));
}

void BM_RawEchoThreads(benchmark::State& state) { RawEcho(state, false); }
void BM_RawEchoProcesses(benchmark::State& state) { RawEcho(state, true); }

void BM_PoolStartup(benchmark::State& state) {
  Loop loop;
  for (auto _ : state) {
    Pool pool(loop, {.workers = static_cast<size_t>(state.range(0)), .name = "startup"});
    if (!pool.ok()) return state.SkipWithError("pool did not start");
    state.SetIterationTime(pool.startup_seconds());
  }
}

// Jobs of `size` bytes for about 256 MiB a run (tcp benchmarks: seconds a run, not minutes).
size_t JobsFor(size_t size) { return std::max<size_t>(64, (size_t{256} << 20) / size); }

// CPU seconds of this process so far: the dispatcher's loop, ZeroMQ's I/O thread and the ZAP
// handler's thread (workers and rejected peers are other processes).
double CpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Runs `run(false)` and `run(true)` (each returns its seconds) once an iteration, in turn first,
// so a change in the machine's load (other work on it) falls on both alike. The iteration's time
// is run(true)'s; returns the seconds of run(false) and of run(true) in all.
template <typename Run>
std::pair<double, double> Alternate(benchmark::State& state, Run run) {
  double seconds[2] = {0, 0};
  bool first = true;
  for (auto _ : state) {
    for (const bool b : {first, !first}) {
      const double s = run(b);
      seconds[b] += s;
      if (b) state.SetIterationTime(s);
    }
    first = !first;
  }
  return {seconds[0], seconds[1]};
}

// CurveZMQ's cost: BM_PoolRoundTrip over tcp://127.0.0.1 to 2 workers with CURVE (every frame
// encrypted by its sender and decrypted by its receiver; msgs_per_s, bytes_per_second), and in
// the clear (plain_*), alternately on two pools.
void BM_CurveRoundTrip(benchmark::State& state) {
  const std::string payload = PngPayload(static_cast<size_t>(state.range(0)));
  const size_t jobs = JobsFor(payload.size());
  CurveFiles keys;
  if (!keys.ok()) return state.SkipWithError("cannot write the CURVE certificates");
  Loop loop;
  Pool plain(loop, {.tcp = true}), curve(loop, {.tcp = true, .curve = &keys});
  if (!plain.ok() || !curve.ok()) return state.SkipWithError("pool did not start");
  const double plain_seconds = Alternate(state, [&](bool with_curve) {
                                 return (with_curve ? curve : plain).Run(jobs, payload);
                               }).first;
  if (!plain.ok() || !curve.ok()) return state.SkipWithError("a job failed");
  const double all_jobs = static_cast<double>(state.iterations() * jobs);
  state.counters["msgs_per_s"] =
      benchmark::Counter(static_cast<double>(jobs), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["plain_msgs_per_s"] = all_jobs / plain_seconds;
  state.counters["plain_bytes_per_s"] =
      all_jobs * static_cast<double>(payload.size()) / plain_seconds;
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * jobs * payload.size()));
}

// What the rejected peers' process and the benchmark share (an anonymous shared mapping).
struct HammerState {
  std::atomic<bool> active{false};    // the benchmark: hammer now
  std::atomic<bool> idle{true};       // the peers: every socket closed
  std::atomic<uint64_t> refused{0};   // handshakes the coordinator refused (ZAP: 400)
  std::atomic<uint64_t> other{0};     // attempts ended otherwise (disconnected, no answer in 1 s)
  std::atomic<uint64_t> admitted{0};  // handshakes that succeeded: must stay 0
};

// One rejected peer: a DEALER with a key of its own, not in --allow-workers, and the monitor
// that says how its handshake ended.
struct RejectedPeer {
  CurveKeyPair keys;
  zmq::socket_t socket, monitor;
  Clock::time_point since;
  Clock::time_point next;  // closed until then (the pause between attempts)
  uint64_t attempt = 0;
};

constexpr int kHandshakeEnded =
    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED;

// Connects `peer` (number `index`) to `endpoint` as a worker would, and queues a message.
void OpenPeer(zmq::context_t& context, RejectedPeer& peer, size_t index,
              const std::string& endpoint, const std::string& server_key) {
  peer.socket = zmq::socket_t(context, zmq::socket_type::dealer);
  peer.socket.set(zmq::sockopt::linger, 0);
  peer.socket.set(zmq::sockopt::curve_serverkey, server_key);
  peer.socket.set(zmq::sockopt::curve_publickey, peer.keys.public_key);
  peer.socket.set(zmq::sockopt::curve_secretkey, peer.keys.secret_key);
  const std::string monitor =
      "inproc://rejected-" + std::to_string(index) + "-" + std::to_string(peer.attempt++);
  if (zmq_socket_monitor(peer.socket.handle(), monitor.c_str(), kHandshakeEnded) != 0) {
    throw zmq::error_t();
  }
  peer.monitor = zmq::socket_t(context, zmq::socket_type::pair);
  peer.monitor.set(zmq::sockopt::linger, 0);
  peer.monitor.connect(monitor);
  peer.socket.connect(endpoint);
  (void)peer.socket.send(zmq::str_buffer("hello"), zmq::send_flags::dontwait);
  peer.since = Clock::now();
}

void ClosePeer(RejectedPeer& peer) {
  if (!peer.socket) return;
  zmq_socket_monitor(peer.socket.handle(), nullptr, 0);
  peer.socket.close();
  peer.monitor.close();
}

// The first event a peer's monitor holds (ZMQ_EVENT_*), or 0.
int TakeEvent(zmq::socket_t& monitor) {
  zmq::message_t event, address;
  if (!monitor.recv(event, zmq::recv_flags::dontwait) || event.size() < 2) return 0;
  (void)monitor.recv(address, zmq::recv_flags::dontwait);
  uint16_t id = 0;
  std::memcpy(&id, event.data(), sizeof(id));
  return id;
}

// The rejected peers' process: reads the endpoint from `control`, then, while state.active,
// keeps every peer attempting a handshake (connect, send, wait for the refusal, close, `pause`,
// again), all on one thread; ends when `control` is closed.
void HammerLoop(int control, size_t count, const std::string& server_key,
                std::chrono::milliseconds pause, HammerState& state) {
  std::string endpoint;
  for (char c; ::read(control, &c, 1) == 1 && c != '\n';) endpoint.push_back(c);
  if (endpoint.empty()) return;
  zmq::context_t context(1);
  std::vector<RejectedPeer> peers(count);
  for (RejectedPeer& peer : peers) peer.keys = NewCurveKeyPair().value();
  std::vector<zmq::pollitem_t> items;
  while (true) {
    const bool active = state.active.load();
    const auto start = Clock::now();
    for (size_t i = 0; i < count; ++i) {
      if (!active) ClosePeer(peers[i]);
      if (active && !peers[i].socket && start >= peers[i].next) {
        OpenPeer(context, peers[i], i, endpoint, server_key);
      }
    }
    state.idle = !active;
    items.assign(1, {nullptr, control, ZMQ_POLLIN, 0});
    std::vector<size_t> open;  // the peers polled
    for (size_t i = 0; active && i < count; ++i) {
      if (!peers[i].socket) continue;
      items.push_back({peers[i].monitor.handle(), 0, ZMQ_POLLIN, 0});
      open.push_back(i);
    }
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(active ? 10 : 2));
    // The benchmark closed `control`: end of file, which poll(2) reports as POLLHUP alone.
    if (items[0].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) break;
    const auto now = Clock::now();
    for (size_t k = 0; k < open.size(); ++k) {
      RejectedPeer& peer = peers[open[k]];
      const int event = items[k + 1].revents & ZMQ_POLLIN ? TakeEvent(peer.monitor) : 0;
      if (event == 0 && now - peer.since < std::chrono::seconds(1)) continue;
      ++(event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? state.refused
         : event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED ? state.admitted
                                                  : state.other);
      ClosePeer(peer);
      peer.next = now + pause;
    }
  }
  for (RejectedPeer& peer : peers) ClosePeer(peer);
}

// `count` peers whose keys are not in --allow-workers, in a process of their own (they stand for
// other machines: their CPU time is not the coordinator's), hammering the coordinator's port.
class RejectedPeers {
 public:
  // Forks their process. REQUIRES: this process runs no other thread (no ZeroMQ context).
  RejectedPeers(size_t count, const std::string& server_key, std::chrono::milliseconds pause) {
    void* shared = ::mmap(nullptr, sizeof(HammerState), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int fds[2];
    if (shared == MAP_FAILED || ::pipe2(fds, O_CLOEXEC) != 0) return;
    state_ = std::construct_at(static_cast<HammerState*>(shared));
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[1]);
      try {
        HammerLoop(fds[0], count, server_key, pause, *state_);
      } catch (const zmq::error_t&) {
        std::_Exit(1);
      }
      std::_Exit(0);
    }
    ::close(fds[0]);
    control_ = fds[1];
  }
  ~RejectedPeers() {
    if (control_ >= 0) ::close(control_);  // end of file: the peers close and exit
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    if (state_ != nullptr) {
      std::destroy_at(state_);
      ::munmap(state_, sizeof(HammerState));
    }
  }
  RejectedPeers(const RejectedPeers&) = delete;
  RejectedPeers& operator=(const RejectedPeers&) = delete;

  bool ok() const { return pid_ > 0 && control_ >= 0; }
  // Tells the peers where to knock (once). REQUIRES: ok()
  bool Aim(const std::string& endpoint) {
    const std::string line = endpoint + "\n";
    return ::write(control_, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  }
  // Starts or stops the hammering (the peers follow within milliseconds).
  void Hammer(bool on) { state_->active = on; }
  const HammerState& state() const { return *state_; }

 private:
  HammerState* state_ = nullptr;
  pid_t pid_ = -1;
  int control_ = -1;
};

// Rejected peers' overhead: BM_CurveRoundTrip's CURVE round trip while `peers` rejected peers
// (range 1; range 2: the pause in ms between one's attempts) hammer the port (msgs_per_s,
// bytes_per_second, refused_per_s), and quiet (quiet_*), alternately on one pool; cpu_us_per_job is
// the coordinator process's CPU time per job.
void BM_RejectedPeers(benchmark::State& state) {
  const std::string payload = PngPayload(static_cast<size_t>(state.range(0)));
  const size_t jobs = JobsFor(payload.size());
  CurveFiles keys;
  if (!keys.ok()) return state.SkipWithError("cannot write the CURVE certificates");
  RejectedPeers peers(static_cast<size_t>(state.range(1)), keys.coordinator().public_key,
                      std::chrono::milliseconds(state.range(2)));
  if (!peers.ok()) return state.SkipWithError("cannot start the rejected peers");
  Loop loop;
  Pool pool(loop, {.tcp = true, .curve = &keys});
  if (!pool.ok() || !peers.Aim(pool.endpoint())) return state.SkipWithError("pool did not start");
  const HammerState& hammer = peers.state();
  const uint64_t count = static_cast<uint64_t>(state.range(1));
  double cpu[2] = {0, 0};
  uint64_t refused = 0;
  const auto [quiet_seconds, hammered_seconds] = Alternate(state, [&](bool on) {
    peers.Hammer(on);
    // In full swing (every peer refused once more) or all quiet before the clock starts.
    const uint64_t before = hammer.refused;
    pool.Idle([&] { return on ? hammer.refused >= before + count : hammer.idle.load(); },
              std::chrono::milliseconds(500));
    const uint64_t refused_before = hammer.refused;
    const double cpu_before = CpuSeconds();
    const double seconds = pool.Run(jobs, payload);
    cpu[on] += CpuSeconds() - cpu_before;
    if (on) refused += hammer.refused - refused_before;
    return seconds;
  });
  peers.Hammer(false);
  if (!pool.ok()) return state.SkipWithError("a job failed");
  if (hammer.admitted != 0) return state.SkipWithError("a key not in the allow-list was admitted");
  const double all_jobs = static_cast<double>(state.iterations() * jobs);
  state.counters["msgs_per_s"] =
      benchmark::Counter(static_cast<double>(jobs), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["quiet_msgs_per_s"] = all_jobs / quiet_seconds;
  state.counters["refused_per_s"] = static_cast<double>(refused) / hammered_seconds;
  state.counters["other_ends"] = static_cast<double>(hammer.other.load());
  state.counters["cpu_us_per_job"] = cpu[true] * 1e6 / all_jobs;
  state.counters["quiet_cpu_us_per_job"] = cpu[false] * 1e6 / all_jobs;
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * jobs * payload.size()));
}

// Sizes: tiny no-op jobs (64 B) and 64 KiB images; 2 workers or echo peers (2 cores).
BENCHMARK(BM_PoolRoundTrip)
    ->Args({64, 2})
    ->Args({65536, 2})
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RawEchoThreads)
    ->Args({64, 2})
    ->Args({65536, 2})
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RawEchoProcesses)
    ->Args({64, 2})
    ->Args({65536, 2})
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PoolStartup)
    ->Arg(1)
    ->Arg(2)
    ->Arg(8)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);
// CURVE against the clear over tcp, 64 KiB and 512 KiB jobs, 2 workers.
BENCHMARK(BM_CurveRoundTrip)
    ->Arg(65536)
    ->Arg(524288)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
// 50 rejected peers against none, 64 KiB jobs with CURVE, 2 workers: retrying as a worker
// does (libzmq reconnects after 100 ms doubling to the 2 s the worker sets: 2 s once it has
// failed a few times), and flooding (again at once).
BENCHMARK(BM_RejectedPeers)
    ->Args({65536, 50, 2000})
    ->Args({65536, 50, 0})
    ->UseManualTime()
    ->Iterations(4)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pixelmill

BENCHMARK_MAIN();
