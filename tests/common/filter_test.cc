#include "common/filter.h"

#include <algorithm>
#include <chrono>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

TEST(FilterTest, ParsesSpecs) {
  Result<FilterSpec> spin = ParseFilterSpec("spin:200");
  ASSERT_TRUE(spin.ok());
  EXPECT_EQ(spin->name, "spin");
  EXPECT_EQ(spin->argument, 200.0);
  EXPECT_TRUE(ParseFilterSpec("none").ok());
  EXPECT_EQ(ParseFilterSpec("sleep", 50.0)->argument, 50.0);  // --intensity fills in
  EXPECT_EQ(ParseFilterSpec("nope").status().code(), "unknown_filter");
  EXPECT_NE(ParseFilterSpec("nope").status().message().find("spin"), std::string::npos);
  for (const char* bad :
       {"spin", "spin:", "spin:abc", "spin:-1", "spin:1e99", "none:3", "sleep:nan", "spin:5x"}) {
    Result<FilterSpec> r = ParseFilterSpec(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), "bad_filter_argument") << bad;
    }
  }
}

TEST(FilterTest, SleepAndSpinTakeTheirTimeAndKeepTheImage) {
  for (const char* spec : {"sleep:60", "spin:60"}) {
    const auto started = std::chrono::steady_clock::now();
    Result<FilterOutput> out = RunFilter(ParseFilterSpec(spec).value(), "bytes");
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    ASSERT_TRUE(out.ok());
    EXPECT_FALSE(out->bytes.has_value()) << "unchanged";
    EXPECT_GE(ms, 55) << spec;
    EXPECT_LT(ms, 2000) << spec;
  }
}

TEST(FilterTest, RegistryListsEveryFilter) {
  const std::vector<std::string> names = FilterNames();
  for (const char* name : {"none", "sleep", "spin", "crash"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

}  // namespace
}  // namespace pixelmill
