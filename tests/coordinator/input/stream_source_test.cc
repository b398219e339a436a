#include "coordinator/input/stream_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ios>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "coordinator/input/user_loader.h"
#include "coordinator/input/user_store.h"

namespace pixelmill {
namespace {

// Reads `source` to the end in reads of `step` bytes.
std::string ReadAll(StreamSource& source, size_t step) {
  std::string all;
  std::vector<char> buffer(step);
  for (;;) {
    Result<size_t> got = source.Read(buffer.data(), step, nullptr);
    EXPECT_TRUE(got.ok()) << got.status().message();
    if (!got.ok()) break;
    all.append(buffer.data(), got.value());
    if (got.value() < step) break;
  }
  return all;
}

TEST(StreamSourceTest, KeepsTheFirstAndLastBytesWhateverTheReadSizes) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += std::to_string(i * 7919) + ",";
  for (const size_t kept : {size_t{1}, size_t{16}, size_t{1000}, text.size(), text.size() + 5}) {
    for (const size_t step : {size_t{1}, size_t{7}, size_t{64}, size_t{4096}}) {
      std::istringstream in(text);
      StreamSource source(in, "<stream>", kept);
      EXPECT_EQ(ReadAll(source, step), text);
      const size_t expected = std::min(kept, text.size());
      EXPECT_EQ(source.bytes_read(), text.size());
      EXPECT_EQ(source.head(), text.substr(0, expected)) << kept << " " << step;
      EXPECT_EQ(source.tail(), text.substr(text.size() - expected)) << kept << " " << step;
    }
  }
}

TEST(StreamSourceTest, ASeekableStreamHintsItsSizeAndIsReadFromWhereItStands) {
  std::istringstream in("skip{\"id\": 1}");
  in.seekg(4);
  StreamSource source(in, "<stream>", 64);
  EXPECT_EQ(source.size_hint(), 9u);
  EXPECT_EQ(ReadAll(source, 64), "{\"id\": 1}");
}

// A stream whose buffer fails on the first read.
class FailingBuf : public std::streambuf {
 protected:
  int_type underflow() override { throw std::ios_base::failure("disk gone"); }
};

TEST(StreamSourceTest, AFailingStreamFailsTheLoadAsAnIoError) {
  FailingBuf buf;
  std::istream in(&buf);
  StreamSource source(in, "<stream>", 64);
  UserStore store;
  Result<LoadStats> stats = LoadUsers(source, LoadOptions{}, store);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), Code::kIo);
  EXPECT_EQ(stats.status().message(), "cannot read the input stream");
}

TEST(StreamSourceTest, TheLoaderNamesTheStreamInItsMessages) {
  std::istringstream in(
      "{\"id\": 1, \"name\": \"a\", \"image_url\": \"http://h/a.jpg\"}\n"
      "{\"id\": 2, \"name\": \"b\"}\n");
  StreamSource source(in, "<stream>", 64);
  UserStore store;
  Result<LoadStats> stats = LoadUsers(source, LoadOptions{}, store);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), Code::kBadInput);
  EXPECT_NE(stats.status().message().find("<stream>:2: field \"image_url\": missing field"),
            std::string::npos)
      << stats.status().message();
}

}  // namespace
}  // namespace pixelmill
