// ImageBuffer: one move-only owner for image bytes, whatever allocated them, handed to ZeroMQ
// without a copy, with its release hook run exactly once.
#include "common/image_buffer.h"

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

TEST(ImageBufferTest, TheReleaseHookRunsOnceWhenTheBytesGo) {
  int released = 0;
  {
    ImageBuffer a = ImageBuffer::FromString("x");
    a.OnRelease([&] { ++released; });
    ImageBuffer b = std::move(a);
    EXPECT_EQ(released, 0);
    b = ImageBuffer::FromString("y");  // the old bytes go here
    EXPECT_EQ(released, 1);
  }
  EXPECT_EQ(released, 1);
}

TEST(ImageBufferTest, ToMessageHandsTheBytesOverWithoutACopy) {
  int released = 0;
  void* block = std::malloc(64 * 1024);
  std::memset(block, 7, 64 * 1024);
  ImageBuffer c = ImageBuffer::Adopt(block, 64 * 1024, &std::free);
  c.OnRelease([&] { ++released; });
  {
    zmq::message_t frame = std::move(c).ToMessage();
    EXPECT_EQ(frame.data(), block) << "copied";
    EXPECT_EQ(frame.size(), 64u * 1024);
    EXPECT_TRUE(c.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(released, 0) << "released while the frame still holds the bytes";
  }
  EXPECT_EQ(released, 1);
  // (Large enough that ZeroMQ keeps it out of line: tiny frames live inside the message.)
  ImageBuffer m = ImageBuffer::FromMessage(zmq::message_t(std::string(1000, 'f')));
  const void* inner = m.data();
  zmq::message_t back = std::move(m).ToMessage();
  EXPECT_EQ(back.data(), inner);
  EXPECT_EQ(ImageBuffer().ToMessage().size(), 0u);
}

}  // namespace
}  // namespace pixelmill
