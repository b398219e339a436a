#include "coordinator/engine/dedupe.h"

#include <string>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

UserStore StoreOf(const std::vector<std::string>& urls) {
  UserStore store;
  for (size_t i = 0; i < urls.size(); ++i) store.Add(static_cast<int64_t>(100 + i), "u", urls[i]);
  return store;
}

TEST(DedupeTest, TheFirstUserOfEachCanonicalUrlLeadsTheOthers) {
  const UserStore store =
      StoreOf({"http://a.test/1.jpg", "http://b.test/2.jpg", "HTTP://A.test:80/%31.jpg",
               "http://a.test/1.JPG", "http://b.test/2.jpg", "not a url", "not a url"});
  const Dedupe dedupe(store, DedupeMode::kUrl);
  EXPECT_EQ(dedupe.UrlLeaderOf(0), std::nullopt);  // a leader
  EXPECT_EQ(dedupe.UrlLeaderOf(1), std::nullopt);
  EXPECT_EQ(dedupe.UrlLeaderOf(2), 0u);
  EXPECT_EQ(dedupe.UrlLeaderOf(3), std::nullopt);  // the path's case names another image
  EXPECT_EQ(dedupe.UrlLeaderOf(4), 1u);
  EXPECT_EQ(dedupe.UrlLeaderOf(5), std::nullopt);  // refused URLs fail on their own
  EXPECT_EQ(dedupe.UrlLeaderOf(6), std::nullopt);
  EXPECT_EQ(dedupe.grouped(), 2u);  // followers kept: nothing for users sharing nothing
}

TEST(DedupeTest, OffGroupsNothing) {
  const UserStore store = StoreOf({"http://a.test/1.jpg", "http://a.test/1.jpg"});
  Dedupe dedupe(store, DedupeMode::kOff);
  EXPECT_EQ(dedupe.UrlLeaderOf(1), std::nullopt);
  EXPECT_EQ(dedupe.ContentLeaderOf(0, "abc"), std::nullopt);
  EXPECT_EQ(dedupe.ContentLeaderOf(1, "abc"), std::nullopt);
}

TEST(DedupeTest, ManyUsersOnFewUrlsFollowTheFirstOfEach) {
  std::vector<std::string> urls;
  for (int i = 0; i < 1000; ++i) urls.push_back("http://a.test/" + std::to_string(i % 7) + ".jpg");
  const UserStore store = StoreOf(urls);
  const Dedupe dedupe(store, DedupeMode::kUrl);
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(dedupe.UrlLeaderOf(i), std::nullopt);
  for (size_t i = 7; i < urls.size(); ++i) EXPECT_EQ(dedupe.UrlLeaderOf(i), i % 7) << i;
  EXPECT_EQ(dedupe.grouped(), 1000u - 7);
}

TEST(DedupeTest, ContentModeMatchesIdenticalBytesOnly) {
  const UserStore store =
      StoreOf({"http://a.test/1", "http://a.test/2", "http://a.test/3", "http://a.test/4"});
  Dedupe dedupe(store, DedupeMode::kContent);
  EXPECT_EQ(dedupe.ContentLeaderOf(2, "same bytes"), std::nullopt);  // the first: the leader
  EXPECT_EQ(dedupe.ContentLeaderOf(0, "other bytes"), std::nullopt);
  EXPECT_EQ(dedupe.ContentLeaderOf(1, "same bytes"), 2u);
  EXPECT_EQ(dedupe.ContentLeaderOf(3, std::string("same bytes") + '\0'), std::nullopt);
  EXPECT_EQ(dedupe.ContentLeaderOf(2, "same bytes"), std::nullopt);  // itself again
}

TEST(DedupeTest, WaitersAreTakenOnceAndFailuresKeptForFollowers) {
  const UserStore store =
      StoreOf({"http://a.test/1", "http://a.test/1", "http://a.test/1", "http://a.test/2"});
  Dedupe dedupe(store, DedupeMode::kUrl);
  dedupe.Wait(0, 1);
  dedupe.Wait(0, 2);
  EXPECT_EQ(dedupe.waiting(), 2u);
  EXPECT_EQ(dedupe.TakeWaiters(0), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(dedupe.waiting(), 0u);
  EXPECT_TRUE(dedupe.TakeWaiters(0).empty());
  dedupe.LeaderFailed(0, Status::Error(Code::kHttpStatus, "HTTP 404"));
  dedupe.LeaderFailed(3, Status::Error(Code::kHttpStatus, "HTTP 500"));  // leads nobody
  ASSERT_NE(dedupe.FailureOf(0), nullptr);
  EXPECT_EQ(dedupe.FailureOf(0)->code(), Code::kHttpStatus);
  EXPECT_EQ(dedupe.FailureOf(0)->message(), "HTTP 404");
  EXPECT_EQ(dedupe.FailureOf(3), nullptr);
}

}  // namespace
}  // namespace pixelmill
