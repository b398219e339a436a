// The worker binary against a fake coordinator: the test holds a real ROUTER socket on an ipc://
// endpoint in a temp directory and plays the coordinator's side of the wire protocol, while the
// worker runs as a child process (its stderr goes to a file in the same directory).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <vips/vips.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/filters/filter.h"
#include "common/wire/protocol.h"
#include "tests/support/hostile_images.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace pixelmill {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using testing::ReadFile;
using testing::TempDir;
using Body = proto::Envelope::BodyCase;

constexpr size_t kMaxPayload = size_t{256} << 20;

// The worker binary as a child process; killed and reaped by the destructor if still running.
class WorkerProcess {
 public:
  WorkerProcess(const std::vector<std::string>& args, const std::string& stderr_path) {
    std::vector<std::string> words = {PIXELMILL_WORKER};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    const int rc = posix_spawn(&pid_, PIXELMILL_WORKER, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      ADD_FAILURE() << "posix_spawn " << PIXELMILL_WORKER << ": " << rc;
      pid_ = -1;
      return;
    }
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0) ADD_FAILURE() << "pidfd_open failed";
  }
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;
  ~WorkerProcess() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (pidfd_ >= 0) ::close(pidfd_);
  }

  pid_t pid() const { return pid_; }

  // The exit code if the worker ends within `timeout` (128 + signal if killed), else nullopt.
  std::optional<int> WaitExit(milliseconds timeout) {
    if (!status_ && pid_ > 0 && pidfd_ >= 0) {
      pollfd item{pidfd_, POLLIN, 0};
      if (::poll(&item, 1, static_cast<int>(timeout.count())) == 1) {
        int status = 0;
        if (::waitpid(pid_, &status, 0) == pid_) {
          status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
      }
    }
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> status_;
};

proto::Envelope Welcome(uint32_t heartbeat_ms) {
  proto::Envelope e;
  e.mutable_welcome()->set_heartbeat_ms(heartbeat_ms);
  e.mutable_welcome()->set_protocol_version(1);
  return e;
}

proto::Envelope Job(uint64_t job_id, const std::string& filter) {
  proto::Envelope e;
  e.mutable_job()->set_job_id(job_id);
  e.mutable_job()->set_user_id(static_cast<int64_t>(job_id) + 1000);
  e.mutable_job()->set_attempt(1);
  e.mutable_job()->set_filter(filter);
  return e;
}

proto::Envelope Heartbeat() {
  proto::Envelope e;
  e.mutable_heartbeat();
  return e;
}

// The coordinator's side: a ROUTER bound to the endpoint, talking to the last worker that said
// Hello. While it waits for messages it can keep that worker alive with heartbeats.
class FakeCoordinator {
 public:
  FakeCoordinator(zmq::context_t& context, std::string endpoint)
      : context_(context), endpoint_(std::move(endpoint)) {
    Bind();
  }

  // Closes the socket and binds a fresh one on the same endpoint: a restarted coordinator.
  void Rebind() {
    router_.close();
    identity_.reset();
    keepalive_ = milliseconds(0);
    Bind();
  }

  // While waiting, send the worker a heartbeat every `interval` (0: stay silent).
  void set_keepalive(milliseconds interval) {
    keepalive_ = interval;
    next_keepalive_ = Clock::now();
  }

  // The next message from a worker within `timeout`.
  std::optional<Message> Receive(milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (true) {
      Clock::time_point now = Clock::now();
      if (keepalive_.count() > 0 && identity_ && now >= next_keepalive_) {
        Send(Heartbeat());
        next_keepalive_ = now + keepalive_;
      }
      if (now >= deadline) return std::nullopt;
      Clock::time_point wake = deadline;
      if (keepalive_.count() > 0 && identity_) wake = std::min(wake, next_keepalive_);
      zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::ceil<milliseconds>(wake - now));
      std::vector<zmq::message_t> frames;
      if (!(item.revents & ZMQ_POLLIN) ||
          !zmq::recv_multipart(router_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        continue;
      }
      zmq::message_t identity = std::move(frames.front());
      frames.erase(frames.begin());
      Result<Message> message = DecodeMessage(frames, Sender::kWorker, kMaxPayload);
      if (!message.ok()) {
        ADD_FAILURE() << "the worker sent a malformed message: " << message.status().ToString();
        continue;
      }
      if (message->envelope.has_hello() || !identity_) identity_ = identity.to_string();
      return std::move(message).value();
    }
  }

  // The next message with body `body` within `timeout`, skipping others; counts the skipped
  // heartbeats into `heartbeats` if given.
  std::optional<Message> ReceiveBody(Body body, milliseconds timeout, int* heartbeats = nullptr) {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (true) {
      const Clock::time_point now = Clock::now();
      std::optional<Message> message =
          Receive(std::max(std::chrono::ceil<milliseconds>(deadline - now), milliseconds(0)));
      if (!message || message->envelope.body_case() == body) return message;
      if (heartbeats != nullptr && message->envelope.has_heartbeat()) ++*heartbeats;
    }
  }

  void Send(const proto::Envelope& envelope, zmq::message_t* payload = nullptr) {
    ASSERT_TRUE(identity_.has_value()) << "no worker has said Hello";
    zmq::message_t identity(identity_->data(), identity_->size());
    EXPECT_TRUE(SendMessage(router_, &identity, envelope, payload));
  }

  // Sends arbitrary frames (after the worker's identity).
  void SendRaw(std::vector<zmq::message_t> frames) {
    ASSERT_TRUE(identity_.has_value()) << "no worker has said Hello";
    frames.insert(frames.begin(), zmq::message_t(identity_->data(), identity_->size()));
    EXPECT_TRUE(zmq::send_multipart(router_, frames));
  }

 private:
  void Bind() {
    router_ = zmq::socket_t(context_, zmq::socket_type::router);
    router_.set(zmq::sockopt::router_mandatory, true);
    router_.set(zmq::sockopt::linger, 0);
    router_.bind(endpoint_);
  }

  zmq::context_t& context_;
  const std::string endpoint_;
  zmq::socket_t router_;
  std::optional<std::string> identity_;
  milliseconds keepalive_{0};
  Clock::time_point next_keepalive_;
};

class WorkerLoopTest : public ::testing::Test {
 protected:
  std::string Endpoint() const { return "ipc://" + (dir_ / "coordinator.sock").string(); }
  std::string StderrPath() const { return (dir_ / "worker.stderr").string(); }
  std::string Stderr() const { return ReadFile(StderrPath()); }

  // Starts the worker connected to the fake coordinator.
  WorkerProcess& Start(std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--connect", Endpoint()});
    worker_ = std::make_unique<WorkerProcess>(args, StderrPath());
    return *worker_;
  }

  // Starts the worker, takes its Hello and welcomes it with a 200 ms heartbeat, which the fake
  // coordinator keeps up while it waits.
  void StartWelcomed(std::vector<std::string> args = {}) {
    Start(std::move(args));
    ASSERT_TRUE(coordinator_.ReceiveBody(Body::kHello, 5s)) << Stderr();
    coordinator_.Send(Welcome(200));
    coordinator_.set_keepalive(200ms);
  }

  TempDir dir_;
  zmq::context_t context_;
  FakeCoordinator coordinator_{context_, Endpoint()};
  std::unique_ptr<WorkerProcess> worker_;  // last: killed before the coordinator goes
};

TEST_F(WorkerLoopTest, HelloDescribesTheWorker) {
  const WorkerProcess& worker = Start({"--capacity", "3"});
  std::optional<Message> message = coordinator_.ReceiveBody(Body::kHello, 5s);
  ASSERT_TRUE(message) << Stderr();
  const proto::Hello& hello = message->envelope.hello();
  EXPECT_EQ(hello.protocol_version(), 1u);
  EXPECT_EQ(hello.capacity(), 3u);
  EXPECT_EQ(hello.pid(), static_cast<uint32_t>(worker.pid()));
  EXPECT_FALSE(hello.host().empty());
  EXPECT_NE(hello.worker_id().find(":" + std::to_string(worker.pid()) + ":"), std::string::npos)
      << hello.worker_id();
  for (const char* name : {"none", "sleep", "spin"}) {
    EXPECT_NE(std::find(hello.filters().begin(), hello.filters().end(), name),
              hello.filters().end())
        << name;
  }
  // The production worker has no `crash` (a test-only build's filter).
  EXPECT_EQ(std::find(hello.filters().begin(), hello.filters().end(), "crash"),
            hello.filters().end());
}

TEST_F(WorkerLoopTest, HelloCarriesTheGivenId) {
  Start({"--id", "render-7"});
  std::optional<Message> message = coordinator_.ReceiveBody(Body::kHello, 5s);
  ASSERT_TRUE(message) << Stderr();
  EXPECT_EQ(message->envelope.hello().worker_id(), "render-7");
  EXPECT_EQ(message->envelope.hello().capacity(), 2u);  // the default
}

TEST_F(WorkerLoopTest, NoneFilterReturnsThePayloadUnchanged) {
  StartWelcomed();
  std::string image(100 * 1024, '\0');
  std::mt19937 random(7);
  for (char& c : image) c = static_cast<char>(random());
  zmq::message_t payload(image.data(), image.size());
  coordinator_.Send(Job(41, "none"), &payload);

  std::optional<Message> message = coordinator_.ReceiveBody(Body::kResult, 5s);
  ASSERT_TRUE(message) << Stderr();
  const proto::Result& result = message->envelope.result();
  EXPECT_EQ(result.job_id(), 41u);
  EXPECT_FALSE(result.has_error()) << result.error().message();
  ASSERT_TRUE(message->has_payload);
  EXPECT_TRUE(message->payload.to_string() == image);
}

TEST_F(WorkerLoopTest, UnknownFilterIsAnErrorResultWithoutPayload) {
  StartWelcomed();
  zmq::message_t payload(std::string("image"));
  coordinator_.Send(Job(5, "nope"), &payload);
  std::optional<Message> message = coordinator_.ReceiveBody(Body::kResult, 5s);
  ASSERT_TRUE(message) << Stderr();
  EXPECT_EQ(message->envelope.result().job_id(), 5u);
  EXPECT_EQ(message->envelope.result().error().code(), "unknown_filter");
  EXPECT_FALSE(message->has_payload);
}

// libvips' warnings about a damaged but readable image are counted in its Result and stay off
// the worker's stderr unless it runs with --log-level debug.
TEST_F(WorkerLoopTest, ImageWarningsAreCountedNotPrinted) {
  ASSERT_EQ(VIPS_INIT("worker_test"), 0);
  const std::string damaged = fixture::MakeDamagedIccJpeg();
  for (const bool debug : {false, true}) {
    StartWelcomed(debug ? std::vector<std::string>{"--log-level", "debug"}
                        : std::vector<std::string>{});
    zmq::message_t payload(damaged.data(), damaged.size());
    coordinator_.Send(Job(4, "invert"), &payload);
    std::optional<Message> message = coordinator_.ReceiveBody(Body::kResult, 10s);
    ASSERT_TRUE(message) << Stderr();
    const proto::Result& result = message->envelope.result();
    EXPECT_FALSE(result.has_error()) << result.error().message();
    EXPECT_GE(result.warnings(), 1u);
    if (debug) {
      EXPECT_NE(Stderr().find("libvips warning(s): corrupt profile"), std::string::npos)
          << Stderr();
    } else {
      EXPECT_EQ(Stderr().find("libvips"), std::string::npos) << "printed at the default level";
      EXPECT_EQ(Stderr().find("corrupt"), std::string::npos) << "printed at the default level";
    }
    proto::Envelope shutdown;
    shutdown.mutable_shutdown();
    coordinator_.Send(shutdown);
    coordinator_.set_keepalive(0ms);  // that worker is gone
    EXPECT_EQ(worker_->WaitExit(5s), 0) << Stderr();
  }
}

TEST_F(WorkerLoopTest, RunsHeldJobsAndReportsTheirCpuTime) {
  StartWelcomed({"--capacity", "2"});
  for (uint64_t id : {1, 2}) {
    zmq::message_t payload(std::string("image"));
    coordinator_.Send(Job(id, "spin:300"), &payload);
  }
  std::vector<uint64_t> done;
  for (int i = 0; i < 2; ++i) {
    std::optional<Message> message = coordinator_.ReceiveBody(Body::kResult, 10s);
    ASSERT_TRUE(message) << Stderr();
    const proto::Result& result = message->envelope.result();
    EXPECT_FALSE(result.has_error()) << result.error().message();
    // About 300 ms on an idle machine. spin burns wall time, so on a busy one (ctest -j on few
    // cores) the thread gets less CPU: the bound is generous.
    EXPECT_GT(result.cpu_micros(), 50'000u);
    done.push_back(result.job_id());
  }
  std::sort(done.begin(), done.end());
  EXPECT_EQ(done, (std::vector<uint64_t>{1, 2}));

  // CPU time, not wall time: sleeping costs next to none.
  zmq::message_t payload(std::string("image"));
  coordinator_.Send(Job(3, "sleep:300"), &payload);
  std::optional<Message> message = coordinator_.ReceiveBody(Body::kResult, 10s);
  ASSERT_TRUE(message) << Stderr();
  EXPECT_FALSE(message->envelope.result().has_error());
  EXPECT_LT(message->envelope.result().cpu_micros(), 100'000u);
}

TEST_F(WorkerLoopTest, AJobBeyondCapacityIsRefusedAtOnce) {
  StartWelcomed({"--capacity", "1"});
  zmq::message_t first(std::string("a")), second(std::string("b"));
  coordinator_.Send(Job(1, "spin:500"), &first);
  coordinator_.Send(Job(2, "none"), &second);
  std::optional<Message> message = coordinator_.ReceiveBody(Body::kResult, 5s);
  ASSERT_TRUE(message) << Stderr();
  EXPECT_EQ(message->envelope.result().job_id(), 2u);
  EXPECT_EQ(message->envelope.result().error().code(), "over_capacity");
  message = coordinator_.ReceiveBody(Body::kResult, 5s);
  ASSERT_TRUE(message) << Stderr();
  EXPECT_EQ(message->envelope.result().job_id(), 1u);
  EXPECT_FALSE(message->envelope.result().has_error());
}

TEST_F(WorkerLoopTest, HeartbeatsWhileAFilterRuns) {
  StartWelcomed();
  zmq::message_t payload(std::string("image"));
  coordinator_.Send(Job(9, "spin:1500"), &payload);
  int heartbeats = 0;
  std::optional<Message> message = coordinator_.ReceiveBody(Body::kResult, 10s, &heartbeats);
  ASSERT_TRUE(message) << Stderr();
  EXPECT_FALSE(message->envelope.result().has_error());
  EXPECT_GE(heartbeats, 3);
}

TEST_F(WorkerLoopTest, SurvivesGarbage) {
  StartWelcomed();
  std::vector<std::vector<zmq::message_t>> garbage(6);
  std::string noise(64, '\0');
  std::mt19937 random(11);
  for (char& c : noise) c = static_cast<char>(random());
  garbage[0].emplace_back(noise);
  garbage[1].push_back(EncodeEnvelope(Heartbeat()));  // three frames
  garbage[1].emplace_back(std::string("x"));
  garbage[1].emplace_back(std::string("y"));
  garbage[2].push_back(EncodeEnvelope(proto::Envelope()));  // no body
  garbage[3].push_back(EncodeEnvelope(Job(77, "none")));    // Job without its payload
  proto::Envelope hello;
  hello.mutable_hello()->set_worker_id("imposter");
  garbage[4].push_back(EncodeEnvelope(hello));        // from the wrong side
  garbage[5].push_back(EncodeEnvelope(Welcome(50)));  // out of place: already welcomed
  for (std::vector<zmq::message_t>& frames : garbage) coordinator_.SendRaw(std::move(frames));

  zmq::message_t payload(std::string("still here"));
  coordinator_.Send(Job(8, "none"), &payload);
  std::optional<Message> message = coordinator_.ReceiveBody(Body::kResult, 5s);
  ASSERT_TRUE(message) << Stderr();
  EXPECT_EQ(message->envelope.result().job_id(), 8u);
  EXPECT_EQ(message->payload.to_string(), "still here");
  EXPECT_FALSE(worker_->WaitExit(0ms));
  EXPECT_NE(Stderr().find("worker: dropped malformed message: "), std::string::npos) << Stderr();

  // Each piece of garbage was seen and classified (the counts are printed on exit).
  proto::Envelope shutdown;
  shutdown.mutable_shutdown();
  coordinator_.Send(shutdown);
  EXPECT_EQ(worker_->WaitExit(30s), 0);
  EXPECT_NE(Stderr().find("dropped 5 malformed and 1 unexpected messages"), std::string::npos)
      << Stderr();
}

TEST_F(WorkerLoopTest, RejectEndsTheWorkerWithTheReason) {
  WorkerProcess& worker = Start();
  ASSERT_TRUE(coordinator_.ReceiveBody(Body::kHello, 5s)) << Stderr();
  proto::Envelope reject;
  reject.mutable_reject()->set_reason("wrong version");
  coordinator_.Send(reject);
  EXPECT_EQ(worker.WaitExit(30s), 1);
  EXPECT_NE(Stderr().find("rejected by coordinator: wrong version"), std::string::npos) << Stderr();
}

TEST_F(WorkerLoopTest, ShutdownExitsZero) {
  StartWelcomed();
  proto::Envelope shutdown;
  shutdown.mutable_shutdown()->set_reason("done");
  coordinator_.Send(shutdown);
  EXPECT_EQ(worker_->WaitExit(30s), 0) << Stderr();
}

TEST_F(WorkerLoopTest, ShutdownExitsZeroDuringALongFilter) {
  StartWelcomed();
  zmq::message_t payload(std::string("image"));
  coordinator_.Send(Job(3, "spin:60000"), &payload);
  // Two heartbeats after the job was sent, and no result: it is on the compute thread by now.
  // (The bound only catches a worker that fell silent.)
  for (int heartbeats = 0; heartbeats < 2;) {
    std::optional<Message> message = coordinator_.Receive(60s);
    ASSERT_TRUE(message) << Stderr();
    ASSERT_FALSE(message->envelope.has_result()) << "a 60 s filter ended at once";
    heartbeats += message->envelope.has_heartbeat();
  }
  proto::Envelope shutdown;
  shutdown.mutable_shutdown();
  coordinator_.Send(shutdown);
  // Long before the filter's 60 s would be over.
  EXPECT_EQ(worker_->WaitExit(30s), 0) << Stderr();
}

TEST_F(WorkerLoopTest, LocalWorkerExitsWhenTheCoordinatorFallsSilent) {
  StartWelcomed({"--local"});
  coordinator_.set_keepalive(0ms);
  EXPECT_EQ(worker_->WaitExit(30s), 1) << Stderr();
  EXPECT_NE(Stderr().find("coordinator silent for"), std::string::npos) << Stderr();
}

TEST_F(WorkerLoopTest, LocalWorkerExitsWithoutWelcome) {
  WorkerProcess& worker = Start({"--local"});
  ASSERT_TRUE(coordinator_.ReceiveBody(Body::kHello, 5s)) << Stderr();
  EXPECT_EQ(worker.WaitExit(30s), 1) << Stderr();
  EXPECT_NE(Stderr().find("no Welcome"), std::string::npos) << Stderr();
}

TEST_F(WorkerLoopTest, RemoteWorkerReconnectsToARestartedCoordinator) {
  StartWelcomed();
  std::optional<Message> first = coordinator_.ReceiveBody(Body::kHeartbeat, 2s);
  ASSERT_TRUE(first) << Stderr();
  coordinator_.Rebind();
  std::optional<Message> hello = coordinator_.ReceiveBody(Body::kHello, 8s);
  ASSERT_TRUE(hello) << Stderr();
  EXPECT_EQ(hello->envelope.hello().pid(), static_cast<uint32_t>(worker_->pid()));
  EXPECT_FALSE(worker_->WaitExit(0ms));
  // The new session works.
  coordinator_.Send(Welcome(200));
  coordinator_.set_keepalive(200ms);
  zmq::message_t payload(std::string("again"));
  coordinator_.Send(Job(12, "none"), &payload);
  std::optional<Message> result = coordinator_.ReceiveBody(Body::kResult, 5s);
  ASSERT_TRUE(result) << Stderr();
  EXPECT_EQ(result->envelope.result().job_id(), 12u);
}

TEST_F(WorkerLoopTest, BadFlagsAreUsageErrors) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {}, {"--connect", "udp://x"}, {"--connect", "ipc:///x", "--capacity", "65"}}) {
    WorkerProcess worker(args, StderrPath());
    EXPECT_EQ(worker.WaitExit(5s), 2) << args.size();
  }
  // An address-space cap the worker cannot even start under (GLib aborted it with SIGTRAP).
  WorkerProcess small_cap({"--connect", Endpoint(), "--max-address-space-mb", "128"}, StderrPath());
  EXPECT_EQ(small_cap.WaitExit(5s), 2);
  EXPECT_NE(Stderr().find("below the minimum of " + std::to_string(kMinWorkerAddressSpaceMb)),
            std::string::npos)
      << Stderr();
  // An id the coordinator would refuse is refused at start, naming the limit.
  WorkerProcess long_id({"--connect", Endpoint(), "--id", std::string(kMaxWorkerIdBytes + 1, 'x')},
                        StderrPath());
  EXPECT_EQ(long_id.WaitExit(5s), 2);
  EXPECT_NE(Stderr().find("over the limit of " + std::to_string(kMaxWorkerIdBytes)),
            std::string::npos)
      << Stderr();
  WorkerProcess version({"--version"}, StderrPath());
  EXPECT_EQ(version.WaitExit(5s), 0);
}

}  // namespace
}  // namespace pixelmill
