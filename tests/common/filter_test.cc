// Filter specs (chains, arguments, --intensity, usage errors) and the stand-in filters.
#include "common/filter.h"

#include <algorithm>
#include <chrono>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

TEST(FilterTest, ParsesSpecsAndChains) {
  Result<FilterSpec> spin = ParseFilterSpec("spin:200");
  ASSERT_TRUE(spin.ok());
  ASSERT_EQ(spin->steps.size(), 1u);
  EXPECT_EQ(spin->steps[0].name, "spin");
  EXPECT_EQ(spin->steps[0].argument, 200.0);
  EXPECT_TRUE(spin->IsStandIn());
  EXPECT_TRUE(ParseFilterSpec("none")->IsNone());
  EXPECT_EQ(ParseFilterSpec("sleep", 50.0)->steps[0].argument, 50.0);  // --intensity fills in
  Result<FilterSpec> chain = ParseFilterSpec("thumbnail:256,sharpen:1.50,grayscale");
  ASSERT_TRUE(chain.ok()) << chain.status().message();
  EXPECT_EQ(chain->steps.size(), 3u);
  EXPECT_EQ(chain->text, "thumbnail:256,sharpen:1.5,grayscale");
  EXPECT_FALSE(chain->IsStandIn());
  EXPECT_FALSE(chain->IsNone());
  EXPECT_EQ(ParseFilterSpec("blur", 3.0)->text, "blur:3");
}

TEST(FilterTest, BadSpecsNameTheBadPart) {
  EXPECT_EQ(ParseFilterSpec("nope").status().code(), "unknown_filter");
  EXPECT_NE(ParseFilterSpec("nope").status().message().find("blur"), std::string::npos);
  EXPECT_NE(ParseFilterSpec("blur:5,nope").status().message().find("'nope'"), std::string::npos);
  for (const char* bad : {"spin",       "spin:",       "spin:abc",    "spin:-1",
                          "spin:1e99",  "none:3",      "sleep:nan",   "spin:5x",
                          "blur",       "blur:0",      "blur:101",    "sepia:1.5",
                          "pixelate:1", "thumbnail:0", "grayscale:2", "blur:5,,sharpen:1",
                          "blur:5,",    ",blur:5",     "none,blur:5", "blur:5,spin:10"}) {
    Result<FilterSpec> r = ParseFilterSpec(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), "bad_filter_argument") << bad;
    }
  }
  EXPECT_NE(ParseFilterSpec("blur:101").status().message().find("0.1..100"), std::string::npos);
  EXPECT_NE(ParseFilterSpec("blur").status().message().find("--intensity"), std::string::npos);
}

TEST(FilterTest, SleepAndSpinTakeTheirTimeAndKeepTheImage) {
  for (const char* spec : {"sleep:60", "spin:60"}) {
    const auto started = std::chrono::steady_clock::now();
    Result<FilterOutput> out = RunFilter(ParseFilterSpec(spec).value(), FilterContext{}, "bytes");
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    ASSERT_TRUE(out.ok());
    EXPECT_FALSE(out->bytes.has_value()) << "unchanged";
    // At least its 60 ms (a busy machine can only add to that); far less than the 60 s that
    // reading MS as seconds would take. Not a speed bound.
    EXPECT_GE(ms, 55) << spec;
    EXPECT_LT(ms, 30'000) << spec;
  }
}

TEST(FilterTest, RegistryAndHelpListEveryFilter) {
  const std::vector<std::string> names = FilterNames();
  const std::string help = FilterHelp();
  for (const char* name :
       {"none", "sleep", "spin", "crash", "blur", "sharpen", "grayscale", "sepia", "edge", "invert",
        "brightness", "contrast", "pixelate", "thumbnail"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
    EXPECT_NE(help.find(std::string("  ") + name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace pixelmill
