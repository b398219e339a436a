// Worker-pool benchmarks (see scripts/bench.sh), each beside its raw ZeroMQ baseline:
//   BM_PoolRoundTrip/size/workers  jobs through the real Dispatcher and real worker processes
//                                  (filter "none": the worker sends the payload back)
//   BM_RawEcho{Threads,Processes}/size/peers
//                                  the same message size through a bare ROUTER and DEALER echo
//                                  peers over ipc, the same number of messages in flight
//   BM_PoolStartup/workers         from spawning N workers until all N have joined
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <zmq.hpp>

#include "coordinator/workers/dispatcher.h"
#include "coordinator/workers/worker_supervisor.h"

namespace pixelmill {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kCapacity = 32;  // jobs in flight per worker, both sides

std::string Endpoint(const std::string& name) {
  return "ipc:///tmp/pixelmill-bench-" + std::to_string(::getpid()) + "-" + name + ".sock";
}

// A dispatcher with N real local workers on its own loop, torn down cleanly at the end.
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

class Pool {
 public:
  Pool(size_t workers, const std::string& name) {
    uv_loop_init(&loop_);
    DispatchOptions d;
    d.endpoints = {Endpoint(name)};
    d.filter = ParseFilterSpec("none").value();
    dispatcher_ = std::make_unique<Dispatcher>(loop_, d, [this](JobOutcome&& o) {
      ++done_;
      if (!o.error.ok()) ++failed_;
      if (submitted_ < total_) SubmitOne();
    });
    ok_ = dispatcher_->Init().ok();
    SupervisorOptions s;
    s.workers = workers;
    s.worker_binary = PIXELMILL_WORKER;
    s.endpoint = d.endpoints[0];
    s.capacity = kCapacity;
    supervisor_ = std::make_unique<WorkerSupervisor>(
        loop_, s, [](pid_t, const std::string&) {}, [](const std::string&) {});
    started_ = Clock::now();
    ok_ = ok_ && supervisor_->Start().ok();
    RunUntil([&] { return dispatcher_->workers() == workers; });
    startup_seconds_ = std::chrono::duration<double>(Clock::now() - started_).count();
  }
  ~Pool() {
    int closing = 2;
    dispatcher_->Close([&] { --closing; });
    supervisor_->Close(std::chrono::seconds(2), [&] { --closing; });
    while (closing > 0) uv_run(&loop_, UV_RUN_ONCE);
    dispatcher_.reset();
    supervisor_.reset();
    uv_loop_close(&loop_);
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

  bool ok() const { return ok_ && failed_ == 0; }
  double startup_seconds() const { return startup_seconds_; }

 private:
  void SubmitOne() {
    const size_t user = submitted_++;
    dispatcher_->Submit(user, static_cast<int64_t>(user), ImageBuffer::FromString(*payload_));
  }

  template <typename Done>
  void RunUntil(Done done) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (!done() && Clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
  }

  uv_loop_t loop_{};
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<WorkerSupervisor> supervisor_;
  Clock::time_point started_;
  double startup_seconds_ = 0;
  size_t done_ = 0, failed_ = 0, submitted_ = 0, total_ = 0;
  const std::string* payload_ = nullptr;
  bool ok_ = false;
};

void BM_PoolRoundTrip(benchmark::State& state) {
  const std::string payload = PngPayload(static_cast<size_t>(state.range(0)));
  const size_t jobs = payload.size() > 1024 ? 20000 : 200000;
  Pool pool(static_cast<size_t>(state.range(1)), "pool");
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
  for (auto _ : state) {
    Pool pool(static_cast<size_t>(state.range(0)), "startup");
    if (!pool.ok()) return state.SkipWithError("pool did not start");
    state.SetIterationTime(pool.startup_seconds());
  }
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

}  // namespace
}  // namespace pixelmill

BENCHMARK_MAIN();
