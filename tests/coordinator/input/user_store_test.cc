#include "coordinator/input/user_store.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

// The seed's test case 1: a user carries no per-object overhead. The fixed part is pinned at
// compile time here as well as in the header.
static_assert(sizeof(UserStore::Record) == 16);
static_assert(UserStore::kFixedOverheadPerUser <= 24);

TEST(UserStoreTest, AddAndGetRoundTrip) {
  UserStore store;
  EXPECT_EQ(store.Add(7, "Alice", "http://x/7.jpg"), 0u);
  EXPECT_EQ(store.Add(-3, "", "http://x/3.png"), 1u);
  ASSERT_EQ(store.size(), 2u);
  UserView a = store.Get(0);
  EXPECT_EQ(a.id, 7);
  EXPECT_EQ(a.name, "Alice");
  EXPECT_EQ(a.image_url, "http://x/7.jpg");
  UserView b = store.Get(1);
  EXPECT_EQ(b.id, -3);
  EXPECT_EQ(b.name, "");
  EXPECT_EQ(b.image_url, "http://x/3.png");
  EXPECT_EQ(store.status(1), UserStatus::kPending);
}

TEST(UserStoreTest, OutcomeIsOneByte) {
  UserStore store;
  store.Add(42, "n", "u");
  store.SetOutcome(0, UserStatus::kOk, OutputFormat::kWebp);
  EXPECT_EQ(store.status(0), UserStatus::kOk);
  EXPECT_EQ(store.format(0), OutputFormat::kWebp);
  store.SetOutcome(0, UserStatus::kFailed, OutputFormat::kUnknown);
  EXPECT_EQ(store.status(0), UserStatus::kFailed);
}

TEST(UserStoreTest, PopBackRemovesLastUserAndItsBytes) {
  UserStore store;
  store.Add(1, "a", "http://a");
  const size_t field_bytes = store.FieldBytes();
  store.Add(2, "bbbb", "http://bbbb");
  store.PopBack();
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.FieldBytes(), field_bytes);
  EXPECT_EQ(store.Get(0).image_url, "http://a");
}

TEST(UserStoreTest, RemoveSortedKeepsTheOthersInOrder) {
  UserStore store;
  for (int i = 0; i < 6; ++i) {
    store.Add(i, "name" + std::to_string(i), "http://x/" + std::to_string(i));
  }
  store.SetOutcome(5, UserStatus::kOk, OutputFormat::kPng);
  store.RemoveSorted({1, 2, 4});
  ASSERT_EQ(store.size(), 3u);
  const int expected[] = {0, 3, 5};
  for (size_t k = 0; k < 3; ++k) {
    const std::string n = std::to_string(expected[k]);
    EXPECT_EQ(store.Get(k).id, expected[k]);
    EXPECT_EQ(store.Get(k).name, "name" + n);
    EXPECT_EQ(store.Get(k).image_url, "http://x/" + n);
  }
  EXPECT_EQ(store.format(2), OutputFormat::kPng);
  EXPECT_EQ(store.FieldBytes(), 3 * 8 + 3 * (5 + 10));
}

// String ids share the arena with names and URLs: removing users moves their id bytes too.
TEST(UserStoreTest, StringIdsLiveInTheArena) {
  UserStore store;
  const std::vector<std::string> ids = {"a-1", "bb-22", "ccc-333", "dddd-4444"};
  for (size_t i = 0; i < ids.size(); ++i) store.Add(UserId::String(ids[i]), "n", "u" + ids[i]);
  store.Add(99, "n", "u99");
  store.RemoveSorted({1});
  ASSERT_EQ(store.size(), 4u);
  EXPECT_EQ(store.id(0).text, "a-1");
  EXPECT_EQ(store.id(1).text, "ccc-333");
  EXPECT_EQ(store.Get(2).id.text, "dddd-4444");
  EXPECT_EQ(store.Get(2).image_url, "udddd-4444");
  EXPECT_EQ(store.id(3), UserId(99));
  EXPECT_EQ(store.key(1), IdKey(UserId::String("ccc-333")));
  EXPECT_EQ(store.FieldBytes(), 4 * 8 + (3 + 7 + 9) + 4 * 1 + (4 + 8 + 10 + 3));
}

// 100k users shaped like the seed's records: the store's own accounting (capacities, not sizes)
// stays within field bytes + 24 B per user.
TEST(UserStoreTest, MemoryWithinFieldBytesPlus24PerUser) {
  constexpr size_t kUsers = 100000;
  UserStore store;
  for (size_t i = 0; i < kUsers; ++i) {
    const std::string id = std::to_string(i);
    store.Add(static_cast<int64_t>(i), "user" + id, "http://api.example.com/img/" + id + ".jpg");
  }
  store.ShrinkToFit();
  EXPECT_LE(store.MemoryBytes(), store.FieldBytes() + 24 * kUsers);
  // And the overhead is what the layout says, not just under the bound.
  EXPECT_LE(store.MemoryBytes(),
            (store.FieldBytes() + UserStore::kFixedOverheadPerUser * kUsers) * 33 / 32);
}

}  // namespace
}  // namespace pixelmill
