#include "coordinator/input/shard.h"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/base/fnv1a.h"
#include "coordinator/input/user_loader.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

TEST(ShardTest, TheHashIsFnv1aOfTheIdsDigits) {
  // FNV-1a 64's published value for "a", and the id's text hashed the same way.
  EXPECT_EQ(Fnv1a("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(IdHash(42), Fnv1a("42"));
  EXPECT_EQ(IdHash(-7), Fnv1a("-7"));
  // Fixed values: a change here would move users between the shards of runs already made.
  std::vector<uint32_t> shards;
  for (int64_t id : {1, 2, 42, 1000, -5}) shards.push_back(ShardOf(id, 1000));
  EXPECT_EQ(shards, (std::vector<uint32_t>{485, 740, 504, 372, 355}));
}

TEST(ShardTest, EveryIdIsInExactlyOneShardAndEachGetsItsPart) {
  constexpr int64_t kIds = 1'000'000;
  for (const uint32_t count : {2u, 3u, 7u, 16u}) {
    std::vector<uint64_t> per_shard(count, 0);
    for (int64_t id = 1; id <= kIds; ++id) {
      uint32_t holders = 0;
      for (uint32_t k = 0; k < count; ++k) holders += Shard{k, count}.Holds(id) ? 1 : 0;
      ASSERT_EQ(holders, 1u) << "id " << id << " in " << count << " shards";
      ++per_shard[ShardOf(id, count)];
    }
    const double fair = static_cast<double>(kIds) / count;
    for (uint32_t k = 0; k < count; ++k) {
      EXPECT_NEAR(static_cast<double>(per_shard[k]), fair, fair * 0.02)
          << "shard " << k << "/" << count;
    }
  }
}

TEST(ShardTest, TheWholeInputHoldsEveryId) {
  const Shard whole;
  EXPECT_TRUE(whole.whole());
  EXPECT_TRUE(whole.Holds(-1));
  EXPECT_TRUE(whole.TakesBadRecords());
  EXPECT_EQ(whole.Text(), "0/1");
}

TEST(ShardTest, ParsesKOfNAndRefusesTheRest) {
  Result<Shard> shard = ParseShard("2/5");
  ASSERT_TRUE(shard.ok()) << shard.status().ToString();
  EXPECT_EQ(shard->index, 2u);
  EXPECT_EQ(shard->count, 5u);
  EXPECT_EQ(shard->Text(), "2/5");
  EXPECT_TRUE(ParseShard("")->whole());
  for (const char* bad :
       {"5/5", "1/0", "0/0", "3", "/4", "1/", "a/4", "1/4x", "-1/4", " 1/4", "0/65537", "1/4/5"}) {
    Result<Shard> refused = ParseShard(bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.status().code(), Code::kUsage) << bad;
    EXPECT_NE(refused.status().message().find("--shard"), std::string::npos) << bad;
  }
  EXPECT_NE(ParseShard("4/4").status().message().find("0..3"), std::string::npos);
}

TEST(ShardTest, FanOutFoldersSpreadOverEveryFirstLevelFolder) {
  std::set<std::string> first, both;
  for (int64_t id = 0; id < 100'000; ++id) {
    const std::string folder = FanOutFolder(id);
    first.insert(folder.substr(0, 2));
    both.insert(folder);
  }
  EXPECT_EQ(first.size(), 256u);
  EXPECT_GT(both.size(), 50'000u);  // 100,000 ids over 65,536 folders
  // Independent of the shard: one shard's users still fill every first-level folder.
  std::set<std::string> shard_first;
  for (int64_t id = 0; id < 1'000'000; ++id) {  // about 3,900 of them in shard 7/256
    if (ShardOf(id, 256) == 7) shard_first.insert(FanOutFolder(id).substr(0, 2));
  }
  EXPECT_EQ(shard_first.size(), 256u);
}

// The loader takes its shard's users; bad records are shard 0's, a duplicate id its own
// shard's; every shard counts every record once.
TEST(ShardTest, TheLoaderTakesItsShardBadRecordsGoToShardZero) {
  testing::TempDir dir;
  std::string text;
  for (int64_t id = 1; id <= 400; ++id) {
    text += "{\"id\":" + std::to_string(id) + ",\"name\":\"u\",\"image_url\":\"http://x/" +
            std::to_string(id) + "\"}\n";
  }
  text += "{\"id\":[\"not an id\"],\"name\":\"u\",\"image_url\":\"http://x/a\"}\n";
  text += "{\"id\":9,\"name\":\"dup\",\"image_url\":\"http://x/dup\"}\n";
  const std::string path = dir.Write("users.jsonl", text);
  std::set<int64_t> seen;
  uint64_t bad_total = 0;
  for (uint32_t k = 0; k < 3; ++k) {
    Result<InputFile> input = InputFile::Open(path);
    ASSERT_TRUE(input.ok());
    LoadOptions options;
    options.max_bad_records = 10;
    options.shard = Shard{k, 3};
    UserStore store;
    std::vector<std::string> bad;
    Result<LoadStats> stats = LoadUsers(
        input.value(), options, store, [&](const BadRecord& b) { bad.push_back(b.Describe("f")); });
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->users + stats->bad_records + stats->other_shards, 402u) << "shard " << k;
    for (size_t i = 0; i < store.size(); ++i) {
      EXPECT_EQ(ShardOf(store.id(i), 3), k);
      EXPECT_TRUE(seen.insert(store.id(i).number).second) << "id " << store.id(i) << " twice";
    }
    const bool has_duplicate = ShardOf(9, 3) == k;
    EXPECT_EQ(stats->bad_records, (k == 0 ? 1u : 0u) + (has_duplicate ? 1u : 0u)) << "shard " << k;
    EXPECT_EQ(bad.size(), stats->bad_records);
    bad_total += stats->bad_records;
  }
  EXPECT_EQ(seen.size(), 400u);
  EXPECT_EQ(bad_total, 2u);
}

}  // namespace
}  // namespace pixelmill
