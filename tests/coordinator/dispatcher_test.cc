// The dispatcher with a byte budget, against fake workers on loopback: a job sent reserves room
// for its result, the result's frame then holds a lease of its real size instead, and the jobs
// of a worker that dies give their reservations back.
#include "coordinator/dispatcher.h"

#include <vips/vips.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

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
    if (dispatcher_) {
      bool closed = false;
      dispatcher_->Close([&] { closed = true; });
      uv_run(&loop_, UV_RUN_DEFAULT);
      EXPECT_TRUE(closed);
      dispatcher_.reset();
    }
    outcomes_.clear();
    EXPECT_EQ(budget_.used(), 0u) << "a reservation outlived the dispatcher";
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "leaked libuv handles";
  }

  void Start(uint32_t max_attempts) {
    DispatchOptions d;
    Result<FilterSpec> spec = ParseFilterSpec("sleep:0", std::nullopt);
    ASSERT_TRUE(spec.ok());
    d.filter = spec.value();  // a stand-in: any image format is a valid result
    d.max_attempts = max_attempts;
    d.heartbeat_ms = 50;
    d.endpoints = {"tcp://127.0.0.1:*"};
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
    dispatcher_->Submit(user, ImageBuffer::FromString(jpeg_));
  }
  ASSERT_TRUE(RunUntil([&] { return outcomes_.size() == 4; }));
  for (const JobOutcome& o : outcomes_) {
    ASSERT_TRUE(o.error_code.empty()) << o.error_message;
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
  dispatcher_->Submit(7, ImageBuffer::FromString(jpeg_));
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
  EXPECT_EQ(outcomes_[0].error_code, "worker_died");
  EXPECT_EQ(budget_.used(), 0u);
}

}  // namespace
}  // namespace pixelmill
