#include "common/wire/protocol.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

std::vector<zmq::message_t> Frames(const proto::Envelope& e, const std::string* payload = nullptr) {
  std::vector<zmq::message_t> frames;
  frames.push_back(EncodeEnvelope(e));
  if (payload != nullptr) frames.emplace_back(payload->data(), payload->size());
  return frames;
}

// The pid of an ipc:// peer comes from the kernel; a TCP peer has none.
TEST(ProtocolTest, IpcPeerPidIsTheSendersProcessAndZeroOverTcp) {
  zmq::context_t context;
  zmq::socket_t router(context, zmq::socket_type::router);
  const std::string ipc = "ipc://@pixelmill-protocol-test-" + std::to_string(::getpid());
  router.bind(ipc);
  router.bind("tcp://127.0.0.1:*");
  const std::string tcp = router.get(zmq::sockopt::last_endpoint);
  for (const std::string& endpoint : {ipc, tcp}) {
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.connect(endpoint);
    proto::Envelope beat;
    beat.mutable_heartbeat();
    ASSERT_TRUE(SendMessage(dealer, nullptr, beat, nullptr));
    std::vector<zmq::message_t> frames;
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    ASSERT_EQ(zmq::poll(&item, 1, std::chrono::seconds(10)), 1) << endpoint;
    ASSERT_TRUE(ReceiveFrames(router, frames));
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(IpcPeerPid(frames[1]), endpoint == ipc ? static_cast<uint32_t>(::getpid()) : 0u)
        << endpoint;
  }
  EXPECT_EQ(IpcPeerPid(zmq::message_t(std::string("not received"))), 0u);
}

TEST(ProtocolTest, RoundTripsAJobWithItsPayload) {
  proto::Envelope e;
  e.mutable_job()->set_job_id(42);
  e.mutable_job()->set_filter("spin:5");
  const std::string image = "\xFF\xD8\xFFimage";
  auto frames = Frames(e, &image);
  Result<Message> m = DecodeMessage(frames, Sender::kCoordinator, 1 << 20);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->envelope.job().job_id(), 42u);
  EXPECT_EQ(m->envelope.job().filter(), "spin:5");
  ASSERT_TRUE(m->has_payload);
  EXPECT_EQ(m->payload.to_string(), image);
}

TEST(ProtocolTest, RefusesWhatDoesNotBelong) {
  const auto refused = [](std::vector<zmq::message_t> frames, Sender sender) {
    Result<Message> m = DecodeMessage(frames, sender, 16);
    EXPECT_FALSE(m.ok());
    return m.ok() ? std::string() : m.status().message();
  };
  proto::Envelope job;
  job.mutable_job()->set_job_id(1);
  EXPECT_NE(refused(Frames(job), Sender::kCoordinator).find("without its payload"),
            std::string::npos);
  const std::string big(17, 'x');
  EXPECT_NE(refused(Frames(job, &big), Sender::kCoordinator).find("over the limit"),
            std::string::npos);
  EXPECT_NE(refused(Frames(job, &big), Sender::kWorker).find("wrong side"), std::string::npos);
  proto::Envelope beat;
  beat.mutable_heartbeat();
  const std::string tiny = "x";
  EXPECT_NE(refused(Frames(beat, &tiny), Sender::kWorker).find("unexpected payload"),
            std::string::npos);
  EXPECT_NE(refused(Frames(proto::Envelope()), Sender::kWorker).find("no body"), std::string::npos);
  std::vector<zmq::message_t> garbage;
  garbage.emplace_back("\xff\xff\xff\xff", 4);
  EXPECT_NE(refused(std::move(garbage), Sender::kWorker).find("not a valid protobuf"),
            std::string::npos);
  std::vector<zmq::message_t> three = Frames(beat);
  three.emplace_back(1);
  three.emplace_back(1);
  EXPECT_NE(refused(std::move(three), Sender::kWorker).find("1 or 2 frames"), std::string::npos);
  EXPECT_FALSE(refused({}, Sender::kWorker).empty());
  proto::Envelope failed;
  failed.mutable_result()->mutable_error()->set_code("decode");
  std::vector<zmq::message_t> failed_frames = Frames(failed);
  EXPECT_TRUE(DecodeMessage(failed_frames, Sender::kWorker, 16).ok())
      << "an error carries no image";
}

// Random bytes in random frame counts never crash the decoder (and almost never parse).
TEST(ProtocolTest, RandomFramesAreRefusedNotFatal) {
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<zmq::message_t> frames;
    const int count = static_cast<int>(rng() % 4);
    for (int f = 0; f < count; ++f) {
      std::string bytes(rng() % 64, '\0');
      for (char& c : bytes) c = static_cast<char>(rng());
      frames.emplace_back(bytes.data(), bytes.size());
    }
    Result<Message> m =
        DecodeMessage(frames, round % 2 ? Sender::kWorker : Sender::kCoordinator, 1 << 10);
    accepted += m.ok();
  }
  EXPECT_LT(accepted, 2000);
}

}  // namespace
}  // namespace pixelmill
