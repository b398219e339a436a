// FakeWorker: a misbehaving worker for end-to-end tests, speaking the real protocol from a
// thread of the test process over a real DEALER socket. It says Hello and heartbeats like a
// worker, but answers jobs as told: never (a hung filter, a stalled remote worker), or with
// bytes that are not an image, or with the job's own image (echo, a stand-in filter that
// works). Header-only; stops and joins in its destructor.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "common/base/version.h"
#include "common/filters/filter.h"
#include "common/wire/protocol.h"

namespace pixelmill::testing {

class FakeWorker {
 public:
  enum class Answer { kNever, kGarbage, kEmpty, kEcho };

  // `filters`: the filter names its Hello claims (default: every one this build has).
  FakeWorker(const std::string& endpoint, Answer answer, uint32_t capacity = 2,
             std::vector<std::string> filters = FilterNames())
      : filters_(std::move(filters)),
        thread_([this, endpoint, answer, capacity] { Run(endpoint, answer, capacity); }) {}
  FakeWorker(const FakeWorker&) = delete;
  FakeWorker& operator=(const FakeWorker&) = delete;
  ~FakeWorker() {
    stop_ = true;
    thread_.join();
  }

  int jobs() const { return jobs_; }  // jobs received
  bool welcomed() const { return welcomed_; }
  bool rejected() const { return rejected_; }

 private:
  void Run(const std::string& endpoint, Answer answer, uint32_t capacity) {
    zmq::context_t context(1);
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(endpoint);
    proto::Envelope hello;
    hello.mutable_hello()->set_protocol_version(kProtocolVersion);
    hello.mutable_hello()->set_build_version(kVersion);
    hello.mutable_hello()->set_worker_id("fake:" +
                                         std::to_string(reinterpret_cast<uintptr_t>(this)));
    hello.mutable_hello()->set_host("fake-host");
    hello.mutable_hello()->set_capacity(capacity);
    for (const std::string& name : filters_) hello.mutable_hello()->add_filters(name);
    SendMessage(socket, nullptr, hello, nullptr);
    proto::Envelope beat;
    beat.mutable_heartbeat();
    auto next_beat = std::chrono::steady_clock::now();
    while (!stop_) {
      if (std::chrono::steady_clock::now() >= next_beat) {
        SendMessage(socket, nullptr, beat, nullptr);
        next_beat += std::chrono::milliseconds(100);
      }
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(20));
      std::vector<zmq::message_t> frames;
      while (ReceiveFrames(socket, frames)) {
        Result<Message> m = DecodeMessage(frames, Sender::kCoordinator, 64 << 20);
        if (!m.ok()) continue;
        if (m->envelope.has_welcome()) welcomed_ = true;
        if (m->envelope.has_reject()) rejected_ = true;
        if (!m->envelope.has_job()) continue;
        ++jobs_;
        if (answer == Answer::kNever) continue;
        proto::Envelope result;
        result.mutable_result()->set_job_id(m->envelope.job().job_id());
        result.mutable_result()->set_content_type("image/jpeg");
        const std::string bytes = answer == Answer::kEcho      ? m->payload.to_string()
                                  : answer == Answer::kGarbage ? "\xFF\xD8\xFF garbage"
                                                               : "";
        zmq::message_t payload(bytes.data(), bytes.size());
        SendMessage(socket, nullptr, result, &payload);
      }
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> jobs_{0};
  std::atomic<bool> welcomed_{false};
  std::atomic<bool> rejected_{false};
  const std::vector<std::string> filters_;
  std::thread thread_;
};

}  // namespace pixelmill::testing
