// The dispatcher's policies on virtual time, against peers that are plain DEALER sockets of the
// test itself (loopback, port 0): the Hello refusals, a silent worker dead after 3 heartbeat
// intervals, a job held past the job timeout, the streak of invalid results, the pool-filling
// grace and the remote wait. Time moves only when a test advances the VirtualClock and then runs
// the periodic checks (Heartbeat()) itself; the loop's own heartbeat timer (60 s) never fires
// during a test, and if it did it would check at the same virtual time.
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <vips/vips.h>

#include "common/base/version.h"
#include "coordinator/workers/dispatcher.h"
#include "tests/coordinator/workers/dispatcher_closing.h"
#include "tests/support/event_log.h"
#include "tests/support/image_bank.h"

namespace pixelmill {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A valid JPEG, made once.
const std::string& Jpeg() {
  static const std::string jpeg = [] {
    EXPECT_EQ(VIPS_INIT("dispatcher_policy_test"), 0);
    std::string error;
    std::optional<fixture::ImageBank> bank = fixture::ImageBank::Create(16, 16, 1, error);
    EXPECT_TRUE(bank.has_value()) << error;
    return bank ? std::string(bank->Image(fixture::ImageFormat::kJpeg, 0)) : std::string();
  }();
  return jpeg;
}

class DispatcherPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override { uv_loop_init(&loop_); }
  void TearDown() override {
    peers_.clear();
    testing::CloseOnLoop(dispatcher_, loop_);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "leaked libuv handles";
  }

  void Start(const std::function<void(DispatchOptions&)>& tune = {}) {
    DispatchOptions d;
    Result<FilterSpec> spec = ParseFilterSpec("sleep:0", std::nullopt);
    ASSERT_TRUE(spec.ok());
    d.filter = spec.value();  // a stand-in: any image format is a valid result
    d.heartbeat_ms = 60'000;
    d.endpoints = {"tcp://127.0.0.1:*"};
    d.observer = &events_;
    d.clock = &clock_;
    if (tune) tune(d);
    dispatcher_ = std::make_unique<Dispatcher>(
        loop_, std::move(d), [this](JobOutcome&& o) { outcomes_.push_back(std::move(o)); });
    ASSERT_TRUE(dispatcher_->Init().ok());
  }

  // A peer connected to the dispatcher's first endpoint that says Hello (as `tune` makes it).
  zmq::socket_t& Peer(const std::function<void(proto::Hello&)>& tune = {}) {
    peers_.emplace_back(context_, zmq::socket_type::dealer);
    zmq::socket_t& peer = peers_.back();
    peer.set(zmq::sockopt::linger, 0);
    peer.connect(dispatcher_->bound().front());
    proto::Envelope hello;
    proto::Hello& h = *hello.mutable_hello();
    h.set_protocol_version(kProtocolVersion);
    h.set_build_version(kVersion);
    h.set_worker_id("peer-" + std::to_string(peers_.size()));
    h.set_host("test");
    h.set_capacity(1);
    for (const std::string& name : FilterNames()) h.add_filters(name);
    if (tune) tune(h);
    EXPECT_TRUE(SendMessage(peer, nullptr, hello, nullptr));
    return peer;
  }

  // Runs the loop without blocking until `done`, waiting for the peers' sockets in between (an
  // event, not a sleep); gives up after 60 s: a hang detector, not a speed bound.
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(60);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop_, UV_RUN_NOWAIT);
      std::vector<zmq::pollitem_t> items;
      for (zmq::socket_t& peer : peers_) items.push_back({peer.handle(), 0, ZMQ_POLLIN, 0});
      zmq::poll(items.data(), items.size(), milliseconds(5));
    }
    return true;
  }

  // The next message of the kind `wanted` the peer got (others, such as heartbeats, skipped).
  std::optional<Message> Next(zmq::socket_t& peer,
                              const std::function<bool(const proto::Envelope&)>& wanted) {
    std::optional<Message> got;
    std::vector<zmq::message_t> frames;
    EXPECT_TRUE(RunUntil([&] {
      while (!got && ReceiveFrames(peer, frames)) {
        Result<Message> m = DecodeMessage(frames, Sender::kCoordinator, 1 << 20);
        if (m.ok() && wanted(m->envelope)) got = std::move(m.value());
      }
      return got.has_value();
    }));
    return got;
  }
  std::optional<Message> NextJob(zmq::socket_t& peer) {
    return Next(peer, [](const proto::Envelope& e) { return e.has_job(); });
  }
  // Answers the next job with `bytes` as its result image.
  void Answer(zmq::socket_t& peer, const std::string& bytes) {
    std::optional<Message> job = NextJob(peer);
    ASSERT_TRUE(job.has_value());
    proto::Envelope result;
    result.mutable_result()->set_job_id(job->envelope.job().job_id());
    zmq::message_t payload(bytes.data(), bytes.size());
    ASSERT_TRUE(SendMessage(peer, nullptr, result, &payload));
  }
  void Join(size_t workers) {
    ASSERT_TRUE(RunUntil([&] { return dispatcher_->workers() == workers; }));
  }
  void Submit(size_t user) {
    dispatcher_->Submit(user, 1000 + user, ImageBuffer::FromString(Jpeg()));
  }

  VirtualClock clock_;
  testing::EventLog events_;
  uv_loop_t loop_{};
  zmq::context_t context_;
  std::deque<zmq::socket_t> peers_;  // a deque: references stay valid as peers are added
  std::unique_ptr<Dispatcher> dispatcher_;
  std::vector<JobOutcome> outcomes_;
};

struct Refusal {
  std::function<void(proto::Hello&)> tune;
  std::string reason;  // part of the Reject's reason
};

class DispatcherHelloTest : public DispatcherPolicyTest,
                            public ::testing::WithParamInterface<int> {};

TEST_P(DispatcherHelloTest, AHelloItCannotServeIsRejectedWithTheReasonAndGetsNoJob) {
  const Refusal refusals[] = {
      {[](proto::Hello& h) { h.set_protocol_version(kProtocolVersion + 1); },
       "is not supported; this coordinator speaks version"},
      {[](proto::Hello& h) { h.set_capacity(0); }, "capacity 0 is outside 1..1024"},
      {[](proto::Hello& h) { h.set_capacity(1025); }, "capacity 1025 is outside 1..1024"},
      {[](proto::Hello& h) { h.set_worker_id(std::string(kMaxWorkerIdBytes + 1, 'w')); },
       "bytes is over the limit of"},
      {[](proto::Hello& h) { h.clear_filters(); }, "needs 'sleep', which the worker does not have"},
      {[](proto::Hello& h) { h.set_build_version("0.0.9"); },
       "worker version 0.0.9 is not this coordinator's version " + std::string(kVersion)},
      {[](proto::Hello& h) { h.clear_build_version(); }, "unknown (older than 0.1.0)"},
  };
  const Refusal& refusal = refusals[GetParam()];
  ASSERT_NO_FATAL_FAILURE(Start());
  Submit(0);
  zmq::socket_t& peer = Peer(refusal.tune);
  std::optional<Message> reject =
      Next(peer, [](const proto::Envelope& e) { return e.has_reject() || e.has_job(); });
  ASSERT_TRUE(reject.has_value());
  ASSERT_TRUE(reject->envelope.has_reject()) << "a job went to a worker it refused";
  EXPECT_NE(reject->envelope.reject().reason().find(refusal.reason), std::string::npos)
      << reject->envelope.reject().reason();
  EXPECT_EQ(dispatcher_->stats().rejected, 1u);
  EXPECT_EQ(dispatcher_->workers(), 0u);
  EXPECT_EQ(dispatcher_->queued(), 1u);
  EXPECT_TRUE(events_.Has("rejected worker")) << ::testing::PrintToString(events_.lines);
}

INSTANTIATE_TEST_SUITE_P(Dispatcher, DispatcherHelloTest, ::testing::Range(0, 7));

TEST_F(DispatcherPolicyTest, AWorkerSilentForThreeIntervalsIsDeadAndItsJobRequeued) {
  ASSERT_NO_FATAL_FAILURE(Start([](DispatchOptions& d) { d.heartbeat_ms = 1000; }));
  zmq::socket_t& peer = Peer();
  ASSERT_NO_FATAL_FAILURE(Join(1));
  Submit(0);
  ASSERT_TRUE(NextJob(peer).has_value());
  clock_.Advance(seconds(3));
  dispatcher_->Heartbeat();
  EXPECT_EQ(dispatcher_->workers(), 1u) << "silent for exactly 3 intervals: not yet";
  clock_.Advance(milliseconds(1));
  dispatcher_->Heartbeat();
  EXPECT_EQ(dispatcher_->workers(), 0u);
  EXPECT_EQ(dispatcher_->stats().workers_lost, 1u);
  EXPECT_EQ(dispatcher_->queued(), 1u) << "its job waits for another worker";
  EXPECT_TRUE(outcomes_.empty());
  EXPECT_TRUE(events_.Has("missed 3 heartbeats (silent for 3000 ms)"))
      << ::testing::PrintToString(events_.lines);
}

TEST_F(DispatcherPolicyTest, AWorkerThatSpeaksIsNotSilent) {
  ASSERT_NO_FATAL_FAILURE(Start([](DispatchOptions& d) { d.heartbeat_ms = 1000; }));
  zmq::socket_t& peer = Peer();
  ASSERT_NO_FATAL_FAILURE(Join(1));
  Submit(0);
  clock_.Advance(milliseconds(2500));
  ASSERT_NO_FATAL_FAILURE(Answer(peer, Jpeg()));  // heard at 2.5 s
  ASSERT_TRUE(RunUntil([&] { return outcomes_.size() == 1; }));
  clock_.Advance(milliseconds(2500));  // 5 s since the Hello, 2.5 s since the result
  dispatcher_->Heartbeat();
  EXPECT_EQ(dispatcher_->workers(), 1u);
  EXPECT_TRUE(outcomes_[0].error.ok()) << outcomes_[0].error.ToString();
}

TEST_F(DispatcherPolicyTest, AJobHeldPastTheTimeoutStopsItsWorkerAndFailsAtMaxAttempts) {
  ASSERT_NO_FATAL_FAILURE(Start([](DispatchOptions& d) {
    d.job_timeout_ms = 5000;
    d.max_attempts = 1;
  }));
  zmq::socket_t& peer = Peer();
  ASSERT_NO_FATAL_FAILURE(Join(1));
  Submit(0);
  ASSERT_TRUE(NextJob(peer).has_value());
  clock_.Advance(seconds(5));
  dispatcher_->Heartbeat();
  EXPECT_EQ(dispatcher_->workers(), 1u) << "held for exactly the timeout: not yet";
  clock_.Advance(milliseconds(1));
  dispatcher_->Heartbeat();
  EXPECT_EQ(dispatcher_->workers(), 0u);
  EXPECT_EQ(dispatcher_->stats().timed_out, 1u);
  std::optional<Message> bye =
      Next(peer, [](const proto::Envelope& e) { return e.has_shutdown(); });
  ASSERT_TRUE(bye.has_value());
  EXPECT_EQ(bye->envelope.shutdown().reason(), "held a job for more than 5.0 s (--job-timeout)");
  ASSERT_EQ(outcomes_.size(), 1u);
  EXPECT_EQ(outcomes_[0].error.code(), Code::kJobTimeout);
}

TEST_F(DispatcherPolicyTest, ThreeInvalidResultsInARowStopTheWorkerAValidOneResetsTheCount) {
  ASSERT_NO_FATAL_FAILURE(Start([](DispatchOptions& d) { d.max_attempts = 10; }));
  zmq::socket_t& peer = Peer();
  ASSERT_NO_FATAL_FAILURE(Join(1));
  Submit(0);
  Submit(1);
  const std::string garbage = "\xFF\xD8\xFF not an image";
  uint64_t bad = 0;
  for (const bool valid : {false, false, true, false, false}) {
    ASSERT_NO_FATAL_FAILURE(Answer(peer, valid ? Jpeg() : garbage));
    bad += valid ? 0 : 1;
    const size_t results = valid ? 1 : 0;
    ASSERT_TRUE(RunUntil(
        [&] { return dispatcher_->stats().bad_results == bad && outcomes_.size() >= results; }));
    EXPECT_EQ(dispatcher_->workers(), 1u) << "fewer than 3 invalid results in a row";
  }
  ASSERT_NO_FATAL_FAILURE(Answer(peer, garbage));  // the third in a row
  ASSERT_TRUE(RunUntil([&] { return dispatcher_->stats().workers_lost == 1; }));
  std::optional<Message> bye =
      Next(peer, [](const proto::Envelope& e) { return e.has_shutdown(); });
  ASSERT_TRUE(bye.has_value());
  EXPECT_NE(bye->envelope.shutdown().reason().find("returned an invalid image"), std::string::npos);
  ASSERT_EQ(outcomes_.size(), 1u) << "the other user waits for another worker";
  EXPECT_EQ(dispatcher_->queued(), 1u);
}

TEST_F(DispatcherPolicyTest, WhileThePoolFillsABusyWorkerGetsNoSecondJobUntilTheGraceEnds) {
  ASSERT_NO_FATAL_FAILURE(Start([](DispatchOptions& d) {
    d.expected_workers = 2;
    d.fill_grace_ms = 1000;
  }));
  Peer([](proto::Hello& h) { h.set_capacity(2); });
  ASSERT_NO_FATAL_FAILURE(Join(1));
  Submit(0);
  Submit(1);
  EXPECT_EQ(dispatcher_->queued(), 1u) << "the second job waits for the second worker";
  clock_.Advance(milliseconds(999));
  dispatcher_->Heartbeat();
  EXPECT_EQ(dispatcher_->queued(), 1u);
  clock_.Advance(milliseconds(1));
  dispatcher_->Heartbeat();
  EXPECT_EQ(dispatcher_->queued(), 0u) << "the grace is over: the busy worker takes it";
}

TEST_F(DispatcherPolicyTest, WithoutLocalWorkersTheRemoteWaitEndsInNoWorkers) {
  ASSERT_NO_FATAL_FAILURE(Start([](DispatchOptions& d) {
    d.endpoints = {"tcp://127.0.0.1:*", "tcp://127.0.0.1:*"};  // local, then --bind
    d.remote_wait_ms = 60'000;
  }));
  Submit(0);
  dispatcher_->NoLocalWorkers("no local workers (--workers 0)");
  EXPECT_TRUE(dispatcher_->gave_up().empty()) << "a remote worker may still come";
  dispatcher_->Heartbeat();  // the wait starts
  EXPECT_TRUE(events_.Has("waiting for a remote worker on tcp://127.0.0.1:"))
      << ::testing::PrintToString(events_.lines);
  clock_.Advance(seconds(60) - milliseconds(1));
  dispatcher_->Heartbeat();
  EXPECT_TRUE(dispatcher_->gave_up().empty());
  EXPECT_TRUE(outcomes_.empty());
  clock_.Advance(milliseconds(1));
  dispatcher_->Heartbeat();
  EXPECT_EQ(dispatcher_->gave_up(),
            "no worker joined within 60 s (--remote-wait); no local workers (--workers 0)");
  ASSERT_EQ(outcomes_.size(), 1u);
  EXPECT_EQ(outcomes_[0].error.code(), Code::kNoWorkers);
}

TEST_F(DispatcherPolicyTest, AWorkerJoiningRestartsTheRemoteWait) {
  ASSERT_NO_FATAL_FAILURE(Start([](DispatchOptions& d) {
    d.endpoints = {"tcp://127.0.0.1:*", "tcp://127.0.0.1:*"};
    d.remote_wait_ms = 60'000;
    d.heartbeat_ms = 1000;
  }));
  dispatcher_->NoLocalWorkers("no local workers (--workers 0)");
  dispatcher_->Heartbeat();
  clock_.Advance(seconds(50));
  Peer();
  ASSERT_NO_FATAL_FAILURE(Join(1));
  dispatcher_->Heartbeat();  // a worker is connected: no wait
  peers_.clear();            // it leaves without a word
  clock_.Advance(seconds(3) + milliseconds(1));
  dispatcher_->Heartbeat();  // declared dead: the wait starts again now
  EXPECT_EQ(dispatcher_->workers(), 0u);
  clock_.Advance(seconds(59));
  dispatcher_->Heartbeat();
  EXPECT_TRUE(dispatcher_->gave_up().empty()) << "59 s of a new wait, not 112 s of the old one";
  clock_.Advance(seconds(1));
  dispatcher_->Heartbeat();
  EXPECT_FALSE(dispatcher_->gave_up().empty());
}

TEST_F(DispatcherPolicyTest, WithOnlyTheLocalEndpointNoLocalWorkersFailsTheQueueAtOnce) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Submit(0);
  dispatcher_->NoLocalWorkers("every local worker keeps dying");
  EXPECT_EQ(dispatcher_->gave_up(), "every local worker keeps dying");
  ASSERT_EQ(outcomes_.size(), 1u);
  EXPECT_EQ(outcomes_[0].error.code(), Code::kNoWorkers);
}

// A worker's failure keeps its code only when the manifest knows it; any other (an internal
// code, a code from another build, none) is the filter code, the worker's code leading the
// message, so a manifest line never carries a code README.md does not document.
TEST(WorkerFailureTest, AWorkersCodeOutsideTheManifestTableIsFilter) {
  const Status known = WorkerFailure("decode_error", "truncated JPEG");
  EXPECT_EQ(known.code(), Code::kDecodeError);
  EXPECT_EQ(known.message(), "truncated JPEG");
  const Status internal = WorkerFailure("unknown_filter", "unknown filter 'x'");
  EXPECT_EQ(internal.code(), Code::kFilter);
  EXPECT_EQ(internal.message(), "unknown_filter: unknown filter 'x'");
  const Status newer = WorkerFailure("gpu_lost", "device reset");
  EXPECT_EQ(newer.code(), Code::kFilter);
  EXPECT_EQ(newer.message(), "gpu_lost: device reset");
  const Status none = WorkerFailure("", "it broke");
  EXPECT_EQ(none.code(), Code::kFilter);
  EXPECT_EQ(none.message(), "it broke");
  EXPECT_EQ(WorkerFailure("ok", "").code(), Code::kFilter);               // never an ok failure
  EXPECT_EQ(WorkerFailure("bad\nname", "m").message(), "bad\\nname: m");  // escaped
}

}  // namespace
}  // namespace pixelmill
