// ImageBuffer: one move-only owner for image bytes, whatever allocated them, handed to ZeroMQ
// without a copy, with its budget lease given back exactly once, when the bytes go.
#include "common/image/image_buffer.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

TEST(ImageBufferTest, OwnsStringsMessagesAndCBlocks) {
  ImageBuffer s = ImageBuffer::FromString("jpeg bytes");
  EXPECT_EQ(s.view(), "jpeg bytes");
  ImageBuffer m = ImageBuffer::FromMessage(zmq::message_t(std::string("frame")));
  EXPECT_EQ(m.view(), "frame");
  void* block = std::malloc(4);
  std::memcpy(block, "abcd", 4);
  ImageBuffer c = ImageBuffer::Adopt(block, 4, &std::free);  // ASan would flag a leak
  EXPECT_EQ(c.view(), "abcd");
  ImageBuffer empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.view(), "");
}

TEST(ImageBufferTest, MovesWithoutCopyingAndKeepsTheFormat) {
  ImageBuffer a = ImageBuffer::FromString(std::string(100000, 'x'));
  a.set_format(OutputFormat::kPng);
  const char* data = a.data();
  ImageBuffer b = std::move(a);
  EXPECT_EQ(b.data(), data) << "moved, not copied";
  EXPECT_EQ(b.format(), OutputFormat::kPng);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
}

TEST(ImageBufferTest, TheLeaseIsGivenBackOnceWhenTheBytesGo) {
  ByteBudget budget(1000);
  {
    ImageBuffer a = ImageBuffer::FromString("x");
    a.set_lease(budget.Take(100));
    ImageBuffer b = std::move(a);
    EXPECT_EQ(budget.used(), 100u);
    EXPECT_EQ(b.lease().bytes(), 100u);
    b = ImageBuffer::FromString("y");  // the old bytes go here
    EXPECT_EQ(budget.used(), 0u);
    b.set_lease(budget.Take(30));
  }
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_EQ(budget.peak(), 100u);
}

// A download body grows in GrowableBytes and travels on without a copy, lease and all.
TEST(ImageBufferTest, HoldsADownloadBodyWithoutACopy) {
  ByteBudget budget(1 << 20);
  GrowableBytes body;
  const std::string bytes(300000, 'j');
  body.Append(bytes.data(), bytes.size());
  const char* data = body.data();
  ImageBuffer b = ImageBuffer::FromBytes(std::move(body));
  b.set_lease(budget.Take(b.size()));
  EXPECT_EQ(b.data(), data) << "copied";
  EXPECT_EQ(b.view(), bytes);
  {
    zmq::message_t frame = std::move(b).ToMessage();
    EXPECT_EQ(frame.data(), data) << "copied into the frame";
    EXPECT_EQ(budget.used(), 300000u);
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST(ImageBufferTest, ToMessageHandsTheBytesOverWithoutACopy) {
  ByteBudget budget(1 << 20);
  void* block = std::malloc(64 * 1024);
  std::memset(block, 7, 64 * 1024);
  ImageBuffer c = ImageBuffer::Adopt(block, 64 * 1024, &std::free);
  c.set_lease(budget.Take(64 * 1024));
  {
    zmq::message_t frame = std::move(c).ToMessage();
    EXPECT_EQ(frame.data(), block) << "copied";
    EXPECT_EQ(frame.size(), 64u * 1024);
    EXPECT_TRUE(c.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(budget.used(), 64u * 1024) << "released while the frame still holds the bytes";
  }
  EXPECT_EQ(budget.used(), 0u);
  // (Large enough that ZeroMQ keeps it out of line: tiny frames live inside the message.)
  ImageBuffer m = ImageBuffer::FromMessage(zmq::message_t(std::string(1000, 'f')));
  const void* inner = m.data();
  zmq::message_t back = std::move(m).ToMessage();
  EXPECT_EQ(back.data(), inner);
  EXPECT_EQ(ImageBuffer().ToMessage().size(), 0u);
}

// A received frame counted in the budget keeps its lease through a send: the frame that goes
// out holds it until ZeroMQ frees the bytes.
TEST(ImageBufferTest, AReceivedFrameKeepsItsLeaseThroughToMessage) {
  ByteBudget budget(1 << 20);
  ImageBuffer m = ImageBuffer::FromMessage(zmq::message_t(std::string(1000, 'f')));
  m.set_lease(budget.Take(m.size()));
  const void* inner = m.data();
  {
    zmq::message_t frame = std::move(m).ToMessage();
    EXPECT_EQ(frame.data(), inner) << "copied";
    EXPECT_EQ(budget.used(), 1000u);
  }
  EXPECT_EQ(budget.used(), 0u);
  ImageBuffer empty = ImageBuffer::FromString("");
  empty.set_lease(budget.Take(5));
  EXPECT_EQ(std::move(empty).ToMessage().size(), 0u);
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace pixelmill
