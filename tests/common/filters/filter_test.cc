// Filter specs (chains, arguments, --intensity, usage errors) and the stand-in filters.
#include "common/filters/filter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

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
  EXPECT_EQ(ParseFilterSpec("nope").status().code(), Code::kUnknownFilter);
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
      EXPECT_EQ(r.status().code(), Code::kBadFilterArgument) << bad;
    }
  }
  EXPECT_NE(ParseFilterSpec("blur:101").status().message().find("0.1..100"), std::string::npos);
  EXPECT_NE(ParseFilterSpec("blur").status().message().find("--intensity"), std::string::npos);
}

// NaN fails every comparison, so a range check written as "below min or above max" let it
// through: an --intensity nan run downloaded every image, then failed every user.
TEST(FilterTest, NonFiniteArgumentsAreRefused) {
  for (const char* bad : {"blur:nan", "blur:-nan", "blur:inf", "sepia:-inf", "blur:1e999"}) {
    Result<FilterSpec> r = ParseFilterSpec(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kBadFilterArgument) << bad;
    }
  }
  for (double intensity : {std::nan(""), HUGE_VAL, -HUGE_VAL}) {
    Result<FilterSpec> r = ParseFilterSpec("blur", intensity);
    ASSERT_FALSE(r.ok()) << intensity;
    EXPECT_NE(r.status().message().find("is not a finite number"), std::string::npos)
        << r.status().message();
  }
}

// A range error prints the value as given, not rounded to six digits: "SIGMA 0.1 is outside
// 0.1..100" was a false statement.
TEST(FilterTest, RangeErrorsPrintTheValueAsGiven) {
  Result<FilterSpec> r = ParseFilterSpec("blur:0.09999999999999999");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("SIGMA 0.09999999999999999 is outside 0.1..100"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(ParseFilterSpec("thumbnail:10000.000001").status().message().find("10000.000001"),
            std::string::npos);
  EXPECT_EQ(ParseFilterSpec("blur:0.30000000000000004")->text, "blur:0.30000000000000004");
}

// 2,000 steps overflowed the stack of every worker (and of the coordinator with --sequential):
// a longer chain is refused when the spec is parsed, naming the limit.
TEST(FilterTest, ChainsOverTheLimitAreRefused) {
  std::string chain = "invert";
  for (size_t i = 1; i < kMaxFilterSteps; ++i) chain += ",invert";
  EXPECT_TRUE(ParseFilterSpec(chain).ok());
  Result<FilterSpec> over = ParseFilterSpec(chain + ",invert");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), Code::kBadFilterArgument);
  EXPECT_NE(over.status().message().find("limit of " + std::to_string(kMaxFilterSteps)),
            std::string::npos)
      << over.status().message();
  std::string huge = "blur:1";
  for (int i = 0; i < 100'000; ++i) huge += ",blur:1";
  EXPECT_FALSE(ParseFilterSpec(huge).ok());
  EXPECT_NE(FilterHelp().find("at most " + std::to_string(kMaxFilterSteps) + " steps"),
            std::string::npos);
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
  for (const char* name : {"none", "sleep", "spin", "blur", "sharpen", "grayscale", "sepia", "edge",
                           "invert", "brightness", "contrast", "pixelate", "thumbnail"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
    EXPECT_NE(help.find(std::string("  ") + name), std::string::npos) << name;
  }
}

// `crash` kills the process that runs it: only test-only builds register it
// (tests/support/crash_filter.cc), never the registry the production binaries use.
TEST(FilterTest, ProductionRegistryHasNoCrashFilter) {
  const std::vector<std::string> names = FilterNames();
  EXPECT_EQ(std::find(names.begin(), names.end(), "crash"), names.end());
  EXPECT_EQ(FilterHelp().find("crash"), std::string::npos) << FilterHelp();
  Result<FilterSpec> spec = ParseFilterSpec("crash");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), Code::kUnknownFilter);
}

}  // namespace
}  // namespace pixelmill
