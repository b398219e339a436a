// The dispatcher with a byte budget, against fake workers on loopback: a job sent reserves room
// for its result, the result's frame then holds a lease of its real size instead, and the jobs
// of a worker that dies give their reservations back.
#include "coordinator/workers/dispatcher.h"

#include <unistd.h>
#include <vips/vips.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/base/hostname.h"
#include "common/base/peer_text.h"
#include "common/base/version.h"
#include "tests/coordinator/workers/dispatcher_closing.h"
#include "tests/support/event_log.h"
#include "tests/support/fake_worker.h"

namespace pixelmill {
namespace {

using testing::FakeWorker;

std::string SmallJpeg() {
  EXPECT_EQ(VIPS_INIT("dispatcher_test"), 0);
  VipsImage* image = nullptr;
  void* buffer = nullptr;
  size_t length = 0;
  EXPECT_EQ(vips_black(&image, 64, 64, "bands", 3, nullptr), 0);
  EXPECT_EQ(vips_jpegsave_buffer(image, &buffer, &length, nullptr), 0);
  std::string bytes(static_cast<const char*>(buffer), length);
  g_free(buffer);
  g_object_unref(image);
  return bytes;
}

class DispatcherBudgetTest : public ::testing::Test {
 protected:
  void SetUp() override { uv_loop_init(&loop_); }
  void TearDown() override {
    testing::CloseOnLoop(dispatcher_, loop_);
    outcomes_.clear();
    EXPECT_EQ(budget_.used(), 0u) << "a reservation outlived the dispatcher";
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "leaked libuv handles";
  }

  void Start(uint32_t max_attempts, const std::function<void(DispatchOptions&)>& tune = {}) {
    DispatchOptions d;
    Result<FilterSpec> spec = ParseFilterSpec("sleep:0", std::nullopt);
    ASSERT_TRUE(spec.ok());
    d.filter = spec.value();  // a stand-in: any image format is a valid result
    d.max_attempts = max_attempts;
    d.heartbeat_ms = 50;
    d.endpoints = {"tcp://127.0.0.1:*"};
    if (tune) tune(d);
    dispatcher_ = std::make_unique<Dispatcher>(
        loop_, std::move(d), [this](JobOutcome&& o) { outcomes_.push_back(std::move(o)); },
        &budget_);
    ASSERT_TRUE(dispatcher_->Init().ok());
  }
  const std::string& endpoint() const { return dispatcher_->bound().front(); }

  // Runs the loop until `done` (the heartbeat timer wakes it at least every 50 ms), for at most
  // 60 s: a hang detector, not a speed bound.
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop_, UV_RUN_ONCE);
    }
    return true;
  }

  ByteBudget budget_{1 << 20};
  uv_loop_t loop_{};
  std::unique_ptr<Dispatcher> dispatcher_;
  std::vector<JobOutcome> outcomes_;
  const std::string jpeg_ = SmallJpeg();
};

TEST_F(DispatcherBudgetTest, AResultHoldsItsRealSizeAndTheEstimateGoesBack) {
  ASSERT_NO_FATAL_FAILURE(Start(3));
  FakeWorker worker(endpoint(), FakeWorker::Answer::kEcho, 2);
  for (size_t user = 0; user < 4; ++user) {
    dispatcher_->Submit(user, static_cast<int64_t>(user), ImageBuffer::FromString(jpeg_));
  }
  ASSERT_TRUE(RunUntil([&] { return outcomes_.size() == 4; }));
  for (const JobOutcome& o : outcomes_) {
    ASSERT_TRUE(o.error.ok()) << o.error.ToString();
    EXPECT_EQ(o.image.view(), jpeg_);
    EXPECT_EQ(o.image.lease().bytes(), jpeg_.size());
    EXPECT_EQ(o.image.lease().budget(), &budget_);
  }
  EXPECT_EQ(budget_.used(), 4 * jpeg_.size()) << "the results only: every estimate went back";
  EXPECT_GE(budget_.peak(), 2 * jpeg_.size()) << "two jobs in flight reserved their results";
  outcomes_.clear();
  EXPECT_EQ(budget_.used(), 0u);
}

TEST_F(DispatcherBudgetTest, ADeadWorkersJobsGiveTheirReservationBack) {
  ASSERT_NO_FATAL_FAILURE(Start(2));
  auto silent = std::make_unique<FakeWorker>(endpoint(), FakeWorker::Answer::kNever, 1);
  dispatcher_->Submit(7, 7, ImageBuffer::FromString(jpeg_));
  ASSERT_TRUE(RunUntil([&] { return silent->jobs() == 1; }));
  EXPECT_EQ(budget_.used(), jpeg_.size()) << "the job in flight reserves its result";
  silent.reset();  // it stops heartbeating: dead after 3 intervals, its job requeued
  ASSERT_TRUE(RunUntil([&] { return dispatcher_->stats().workers_lost == 1; }));
  EXPECT_EQ(dispatcher_->pending(), 1u);
  EXPECT_EQ(budget_.used(), 0u) << "a queued job reserves nothing";
  auto again = std::make_unique<FakeWorker>(endpoint(), FakeWorker::Answer::kNever, 1);
  ASSERT_TRUE(RunUntil([&] { return again->jobs() == 1; }));
  EXPECT_EQ(budget_.used(), jpeg_.size());
  again.reset();  // the last attempt dies too: the user fails
  ASSERT_TRUE(RunUntil([&] { return outcomes_.size() == 1; }));
  EXPECT_EQ(outcomes_[0].error.code(), Code::kWorkerDied);
  EXPECT_EQ(budget_.used(), 0u);
}

// Which workers are local (the supervisor's to kill and replace) is decided by the endpoint they
// came through, never by the host and pid their Hello states: a TCP peer naming this host and
// a local worker's pid, then falling silent, got that real worker SIGKILLed.
class DispatcherPeerTest : public DispatcherBudgetTest {
 protected:
  void Start() {
    DispatcherBudgetTest::Start(3, [this](DispatchOptions& d) {
      d.endpoints = {local_, "tcp://127.0.0.1:*"};
      d.on_local_join = [this](uint32_t pid) { joined_.push_back(pid); };
      d.on_local_lost = [this](uint32_t pid) { lost_.push_back(pid); };
      d.observer = &events_;
    });
  }
  // A peer that says Hello claiming `host` and `pid`, then stays silent.
  zmq::socket_t Hello(const std::string& endpoint, const std::string& host, uint32_t pid,
                      const std::string& worker_id = "") {
    zmq::socket_t peer(context_, zmq::socket_type::dealer);
    peer.set(zmq::sockopt::linger, 0);
    peer.connect(endpoint);
    proto::Envelope hello;
    hello.mutable_hello()->set_protocol_version(kProtocolVersion);
    hello.mutable_hello()->set_build_version(kVersion);
    hello.mutable_hello()->set_worker_id(worker_id.empty() ? host + ":" + std::to_string(pid)
                                                           : worker_id);
    hello.mutable_hello()->set_host(host);
    hello.mutable_hello()->set_pid(pid);
    hello.mutable_hello()->set_capacity(1);
    for (const std::string& name : FilterNames()) hello.mutable_hello()->add_filters(name);
    EXPECT_TRUE(SendMessage(peer, nullptr, hello, nullptr));
    return peer;
  }

  // The next Job the peer got, within the loop's 10 s.
  std::optional<proto::Job> NextJob(zmq::socket_t& peer) {
    std::optional<proto::Job> job;
    std::vector<zmq::message_t> frames;
    EXPECT_TRUE(RunUntil([&] {
      while (!job && ReceiveFrames(peer, frames)) {
        Result<Message> m = DecodeMessage(frames, Sender::kCoordinator, 1 << 20);
        if (m.ok() && m->envelope.has_job()) job = m->envelope.job();
      }
      return job.has_value();
    }));
    return job;
  }

  const std::string local_ = "ipc://@pixelmill-dispatcher-test-" + std::to_string(::getpid());
  testing::EventLog events_;
  zmq::context_t context_;
  std::vector<uint32_t> joined_, lost_;
};

TEST_F(DispatcherPeerTest, ATcpPeerClaimingALocalPidGetsNothingKilled) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const uint32_t victim = static_cast<uint32_t>(::getpid());  // a real process on this host
  zmq::socket_t peer = Hello(dispatcher_->bound()[1], Hostname(), victim);
  ASSERT_TRUE(RunUntil([&] { return dispatcher_->stats().workers_joined == 1; }));
  ASSERT_TRUE(RunUntil([&] { return dispatcher_->stats().workers_lost == 1; }));  // silent
  EXPECT_TRUE(joined_.empty()) << "a TCP peer was taken for a local worker";
  EXPECT_TRUE(lost_.empty()) << "the supervisor was asked to kill pid " << lost_[0];
  dispatcher_->WorkerExited(victim, "exited with status 0");  // nothing of it in the pool
  EXPECT_EQ(dispatcher_->stats().workers_lost, 1u);
}

TEST_F(DispatcherPeerTest, AnIpcPeerIsLocalUnderTheKernelsPidNotTheOneItStates) {
  ASSERT_NO_FATAL_FAILURE(Start());
  zmq::socket_t peer = Hello(local_, "elsewhere", 1);
  ASSERT_TRUE(RunUntil([&] { return dispatcher_->stats().workers_joined == 1; }));
  EXPECT_EQ(joined_, std::vector<uint32_t>{static_cast<uint32_t>(::getpid())});
  ASSERT_TRUE(RunUntil([&] { return dispatcher_->stats().workers_lost == 1; }));  // silent
  EXPECT_EQ(lost_, std::vector<uint32_t>{static_cast<uint32_t>(::getpid())});
}

// The Job names the user by its id from the input, not by its index in the coordinator's store.
TEST_F(DispatcherPeerTest, AJobCarriesTheUsersIdNotItsStoreIndex) {
  ASSERT_NO_FATAL_FAILURE(Start());
  zmq::socket_t peer = Hello(dispatcher_->bound()[1], "remote", 7);
  ASSERT_TRUE(RunUntil([&] { return dispatcher_->stats().workers_joined == 1; }));
  dispatcher_->Submit(2, 9'000'000'001, ImageBuffer::FromString(jpeg_));
  std::optional<proto::Job> job = NextJob(peer);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->user_id(), 9'000'000'001);
}

// Each Result's count of libvips warnings (a damaged but readable image) adds up in the stats.
TEST_F(DispatcherPeerTest, ImageWarningsOfResultsAreSummed) {
  ASSERT_NO_FATAL_FAILURE(Start());
  zmq::socket_t peer = Hello(dispatcher_->bound()[1], "remote", 7);
  ASSERT_TRUE(RunUntil([&] { return dispatcher_->stats().workers_joined == 1; }));
  for (size_t user = 0; user < 2; ++user) {
    dispatcher_->Submit(user, static_cast<int64_t>(user), ImageBuffer::FromString(jpeg_));
    std::optional<proto::Job> job = NextJob(peer);
    ASSERT_TRUE(job);
    proto::Envelope result;
    result.mutable_result()->set_job_id(job->job_id());
    result.mutable_result()->set_warnings(3);
    zmq::message_t image(jpeg_.data(), jpeg_.size());
    ASSERT_TRUE(SendMessage(peer, nullptr, result, &image));
    ASSERT_TRUE(RunUntil([&] { return outcomes_.size() == user + 1; }));
    EXPECT_TRUE(outcomes_.back().error.ok()) << outcomes_.back().error.ToString();
  }
  EXPECT_EQ(dispatcher_->stats().image_warnings, 6u);
}

// A Hello the coordinator drops (too big to read, an over-long id) is answered with a Reject
// saying why: a worker with a 70 KB --id waited for a Welcome forever.
TEST_F(DispatcherPeerTest, AHelloThatIsDroppedIsAnsweredWithTheReason) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const auto reject_of = [&](zmq::socket_t& peer) {
    std::string reason;
    std::vector<zmq::message_t> frames;
    EXPECT_TRUE(RunUntil([&] {
      while (reason.empty() && ReceiveFrames(peer, frames)) {
        Result<Message> m = DecodeMessage(frames, Sender::kCoordinator, 1 << 20);
        if (m.ok() && m->envelope.has_reject()) reason = m->envelope.reject().reason();
      }
      return !reason.empty();
    }));
    return reason;
  };
  zmq::socket_t huge = Hello(dispatcher_->bound()[1], "remote", 7, std::string(70 * 1024, 'x'));
  EXPECT_NE(reject_of(huge).find("over the limit"), std::string::npos);
  zmq::socket_t long_id =
      Hello(dispatcher_->bound()[1], "remote", 8, std::string(kMaxWorkerIdBytes + 1, 'y'));
  const std::string reason = reject_of(long_id);
  EXPECT_NE(
      reason.find("over the limit of " + std::to_string(kMaxWorkerIdBytes) + " (worker --id)"),
      std::string::npos)
      << reason;
  EXPECT_EQ(dispatcher_->stats().workers_joined, 0u);
  EXPECT_EQ(dispatcher_->stats().malformed, 1u);
  EXPECT_EQ(dispatcher_->stats().rejected, 1u);
}

// A peer's strings reach text logs and the manifest escaped: a worker_id with a newline and
// ANSI escapes forged a "done:" line and cleared the terminal.
TEST_F(DispatcherPeerTest, APeersTextIsEscapedInEveryEventAndOutcome) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string forged = "w1\n12:00:00 pixelmill: done: 999 users, 999 ok\x1b[2J";
  zmq::socket_t peer = Hello(dispatcher_->bound()[1], "h\r\x1b[1A", 7, forged);
  ASSERT_TRUE(RunUntil([&] { return dispatcher_->stats().workers_joined == 1; }));
  dispatcher_->Submit(0, 1, ImageBuffer::FromString(jpeg_));
  std::optional<proto::Job> job = NextJob(peer);
  ASSERT_TRUE(job);
  proto::Envelope result;
  result.mutable_result()->set_job_id(job->job_id());
  result.mutable_result()->mutable_error()->set_code("decode\n");
  result.mutable_result()->mutable_error()->set_message("bad\x1b[2J\ndone: forged");
  ASSERT_TRUE(SendMessage(peer, nullptr, result, nullptr));
  ASSERT_TRUE(RunUntil([&] { return outcomes_.size() == 1; }));
  // Not a manifest code: the filter code, the worker's code kept (escaped) in the message.
  EXPECT_EQ(outcomes_[0].error.code(), Code::kFilter);
  EXPECT_EQ(outcomes_[0].error.message(), "decode\\n: bad\\x1b[2J\\ndone: forged");
  ASSERT_TRUE(RunUntil([&] { return dispatcher_->stats().workers_lost == 1; }));  // silent
  bool named = false;
  for (const std::string& line : events_.lines) {
    EXPECT_EQ(line.find_first_of("\n\r\x1b"), std::string::npos) << line;
    named = named || line.find(PeerText(forged)) != std::string::npos;
  }
  EXPECT_TRUE(named) << "no event names the worker";
}

}  // namespace
}  // namespace pixelmill
