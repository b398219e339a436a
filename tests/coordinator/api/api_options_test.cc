// ToOptions: the rules between options, and what the option table's checks return.
#include <gtest/gtest.h>

#include "coordinator/api/api_parts.h"
#include "coordinator/api/option_table.h"

namespace pixelmill {
namespace {

RunOptions Filtering() {
  RunOptions options;
  options.output_dir = "out";
  options.filter = "blur:1";
  options.worker_binary = PIXELMILL_WORKER;
  return options;
}

TEST(ToOptionsTest, TheHeartbeatRangeIsTheCommandLines) {
  RunOptions options = Filtering();
  options.heartbeat_ms = 10;
  Result<Options> checked = ToOptions(options);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.status().code(), Code::kUsage);
  EXPECT_EQ(checked.status().message(), "--heartbeat-ms: 10 is not 50..60000");
  options.heartbeat_ms = 60001;
  EXPECT_FALSE(ToOptions(options).ok());
  options.heartbeat_ms = 60000;
  EXPECT_TRUE(ToOptions(options).ok()) << ToOptions(options).status().ToString();
}

// Every flag a message names gets its field beside it; text that only looks like a flag does
// not.
TEST(InApiTermsTest, FlagsBecomeFieldsWithTheFlagBeside) {
  EXPECT_EQ(InApiTerms("--burst needs --rate"), "burst (--burst) needs rate (--rate)");
  EXPECT_EQ(InApiTerms("--output is required"), "output_dir (--output) is required");
  EXPECT_EQ(InApiTerms("pass --allow-private-networks to allow"),
            "pass allowed_private_networks (--allow-private-networks) to allow");
  EXPECT_EQ(InApiTerms("--max-bad-records: -1 is not >= 0"),
            "max_bad_records (--max-bad-records): -1 is not >= 0");
  EXPECT_EQ(InApiTerms("--no-such-flag and a--rate and --ratex stay"),
            "--no-such-flag and a--rate and --ratex stay");
  EXPECT_EQ(InApiTerms("ends with --resume"), "ends with resume (--resume)");
  EXPECT_EQ(InApiTerms(""), "");
}

TEST(ToOptionsTest, ZeroWorkersMeansRemoteOnlyAndNeedsBind) {
  RunOptions options = Filtering();
  EXPECT_GE(options.workers, 1u) << "the default is one per hardware thread";
  options.workers = 0;
  Result<Options> checked = ToOptions(options);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.status().message(), "--workers 0 needs --bind (remote workers only)");
  options.bind = "tcp://127.0.0.1:*";
  EXPECT_FALSE(ToOptions(options).ok()) << "plain TCP, even on loopback, needs insecure";
  options.insecure = true;
  ASSERT_TRUE(ToOptions(options).ok()) << ToOptions(options).status().ToString();
  EXPECT_EQ(ToOptions(options).value().workers, 0u);
  RunOptions no_filter = Filtering();
  no_filter.filter = "none";
  no_filter.workers = 0;
  EXPECT_TRUE(ToOptions(no_filter).ok()) << "no worker runs";
}

TEST(ToOptionsTest, OptionsHoldTheCheckedValuesAndWhatDerivesFromThem) {
  RunOptions options = Filtering();
  options.resume_anyway = true;
  options.grace_s = 2.5;
  options.job_timeout_s = 7;
  options.format = "png";
  options.quality = 60;
  options.concurrency = 9;
  options.timeout_s = 1.5;
  Result<Options> checked = ToOptions(options);
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  const Options& o = checked.value();
  EXPECT_TRUE(o.resume) << "--resume-anyway implies --resume";
  EXPECT_EQ(o.grace_ms(), 2500u);
  EXPECT_EQ(o.job_timeout_ms(), 7000u);
  EXPECT_EQ(o.filter_spec.text, "blur:1");
  EXPECT_EQ(o.filter_output.format, OutputFormat::kPng);
  EXPECT_EQ(o.filter_output.quality, 60);
  EXPECT_EQ(o.download.concurrency, 9u);
  EXPECT_EQ(o.download.timeout_ms, 1500u);
  EXPECT_EQ(o.worker_binary, PIXELMILL_WORKER);
}

TEST(ToOptionsTest, ATextOptionOutsideItsChoicesNamesThem) {
  RunOptions options = Filtering();
  options.format = "gif";
  EXPECT_EQ(ToOptions(options).status().message(),
            "--format: 'gif' is not input, jpeg, png or webp");
}

}  // namespace
}  // namespace pixelmill
