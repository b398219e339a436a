#include "coordinator/input/id_index.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/input/user_id.h"

namespace pixelmill {
namespace {

// Integer keys: a key is its id, every equal key the same id.
constexpr auto kSameKeySameId = [](uint64_t) { return true; };

uint64_t Key(int64_t id) { return static_cast<uint64_t>(id); }

TEST(IdIndexTest, InsertFindAndDuplicates) {
  IdIndex index;
  EXPECT_FALSE(index.InsertOrFind(Key(5), 100, kSameKeySameId).has_value());
  EXPECT_FALSE(index.InsertOrFind(Key(-5), 200, kSameKeySameId).has_value());
  EXPECT_EQ(index.InsertOrFind(Key(5), 300, kSameKeySameId), std::optional<uint64_t>(100));
  EXPECT_EQ(index.Find(Key(-5), kSameKeySameId), std::optional<uint64_t>(200));
  EXPECT_FALSE(index.Find(Key(6), kSameKeySameId).has_value());
  EXPECT_EQ(index.size(), 2u);
}

TEST(IdIndexTest, GrowsAndKeepsEveryEntry) {
  IdIndex index;
  constexpr int64_t kCount = 50000;
  for (int64_t i = 0; i < kCount; ++i) {
    ASSERT_FALSE(index.InsertOrFind(Key(i * 7919), static_cast<uint64_t>(i), kSameKeySameId));
  }
  for (int64_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(index.Find(Key(i * 7919), kSameKeySameId),
              std::optional<uint64_t>(static_cast<uint64_t>(i)));
  }
  const uint64_t lowest = Key(std::numeric_limits<int64_t>::min());
  EXPECT_EQ(index.InsertOrFind(lowest, 0, kSameKeySameId), std::nullopt);
  EXPECT_EQ(index.Find(lowest, kSameKeySameId), std::optional<uint64_t>(0));
}

// Two different ids whose keys collide are both kept and both found: `same` tells them apart.
TEST(IdIndexTest, IdsSharingAKeyStayApart) {
  const std::vector<std::string> ids = {"alpha", "beta", "gamma"};
  constexpr uint64_t kOneKey = 42;  // as if all three hashed alike
  IdIndex index;
  for (uint64_t i = 0; i < ids.size(); ++i) {
    const auto same = [&](uint64_t j) { return ids[j] == ids[i]; };
    ASSERT_FALSE(index.InsertOrFind(kOneKey, i, same).has_value()) << ids[i];
  }
  for (uint64_t i = 0; i < ids.size(); ++i) {
    const auto same = [&](uint64_t j) { return ids[j] == ids[i]; };
    EXPECT_EQ(index.Find(kOneKey, same), std::optional<uint64_t>(i)) << ids[i];
    EXPECT_EQ(index.InsertOrFind(kOneKey, 9, same), std::optional<uint64_t>(i)) << ids[i];
  }
  EXPECT_EQ(index.size(), 3u);
  EXPECT_FALSE(index.Find(kOneKey, [](uint64_t) { return false; }).has_value());
}

}  // namespace
}  // namespace pixelmill
