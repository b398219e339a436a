#include "coordinator/input/id_index.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

TEST(IdIndexTest, InsertFindAndDuplicates) {
  IdIndex index;
  EXPECT_FALSE(index.InsertOrFind(5, 100).has_value());
  EXPECT_FALSE(index.InsertOrFind(-5, 200).has_value());
  EXPECT_EQ(index.InsertOrFind(5, 300), std::optional<uint64_t>(100));
  EXPECT_EQ(index.Find(-5), std::optional<uint64_t>(200));
  EXPECT_FALSE(index.Find(6).has_value());
  EXPECT_EQ(index.size(), 2u);
}

TEST(IdIndexTest, GrowsAndKeepsEveryEntry) {
  IdIndex index;
  constexpr int64_t kCount = 50000;
  for (int64_t i = 0; i < kCount; ++i) {
    ASSERT_FALSE(index.InsertOrFind(i * 7919, static_cast<uint64_t>(i)).has_value());
  }
  for (int64_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(index.Find(i * 7919), std::optional<uint64_t>(static_cast<uint64_t>(i)));
  }
  EXPECT_EQ(index.InsertOrFind(std::numeric_limits<int64_t>::min(), 0), std::nullopt);
  EXPECT_EQ(index.Find(std::numeric_limits<int64_t>::min()), std::optional<uint64_t>(0));
}

}  // namespace
}  // namespace pixelmill
