// GrowableBytes: a download body that grows write by write, stays contiguous, and whose freed
// bytes go back to the system (growing multi-MB strings fragmented the heap, and the
// coordinator's RSS stayed far above the bytes it held).
#include "common/base/growable_bytes.h"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

// This process's resident bytes now (/proc/self/statm).
size_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

std::string Pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 7);
  return s;
}

TEST(GrowableBytesTest, GrowsWriteByWriteFromTheHeapIntoAMappingKeepingEveryByte) {
  GrowableBytes b;
  EXPECT_EQ(b.size(), 0u);
  EXPECT_STREQ(b.data(), "");
  const std::string piece = Pattern(16 << 10, 3);
  std::string expected;
  b.Append(piece.data(), 1000);
  expected.append(piece, 0, 1000);
  EXPECT_FALSE(b.mapped()) << "small bodies stay on the heap";
  for (int i = 0; i < 40; ++i) {  // 640 KiB more, past kMapBytes
    b.Append(piece.data(), piece.size());
    expected += piece;
  }
  EXPECT_TRUE(b.mapped());
  ASSERT_EQ(b.size(), expected.size());
  EXPECT_EQ(std::string(b.data(), b.size()), expected);
  b.Reserve(8 << 20);
  EXPECT_GE(b.capacity(), 8u << 20);
  EXPECT_EQ(std::string(b.data(), b.size()), expected) << "grown without losing a byte";
  b.ShrinkToFit();
  EXPECT_LT(b.capacity() - b.size(), static_cast<size_t>(sysconf(_SC_PAGESIZE)));
  EXPECT_EQ(std::string(b.data(), b.size()), expected);
  GrowableBytes moved = std::move(b);
  EXPECT_EQ(moved.size(), expected.size());
  EXPECT_EQ(b.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  moved.Clear();
  EXPECT_EQ(moved.size(), 0u);
  EXPECT_EQ(moved.capacity(), 0u);
}

// Eight bodies of 16 MiB growing together, as eight downloads do, then seven freed: the
// process keeps about what the eighth holds, not the 128 MiB it once had. Once a 30 MiB block
// has been freed, glibc serves every smaller one from its heap, where freed blocks stay
// resident (std::string bodies here keep about 96 MiB); mappings do not.
TEST(GrowableBytesTest, FreedBodiesGiveTheirMemoryBackToTheSystem) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer keeps freed memory in quarantine: RSS is not bounded";
#endif
  { const std::string large(30 << 20, 'l'); }
  const std::string piece = Pattern(16 << 10, 5);
  const size_t before = ResidentBytes();
  ASSERT_GT(before, 0u) << "no /proc/self/statm";
  std::vector<GrowableBytes> bodies(8);
  for (size_t written = 0; written < (16u << 20); written += piece.size()) {
    for (GrowableBytes& body : bodies) body.Append(piece.data(), piece.size());
  }
  const size_t grown = ResidentBytes();
  EXPECT_GE(grown, before + (120u << 20)) << "the bodies' pages are resident";
  bodies.resize(1);
  const size_t after = ResidentBytes();
  EXPECT_LE(after, before + (16u << 20) + (8u << 20))
      << "before " << before << ", grown " << grown << ", after " << after;
  EXPECT_EQ(bodies[0].size(), 16u << 20);
}

}  // namespace
}  // namespace pixelmill
