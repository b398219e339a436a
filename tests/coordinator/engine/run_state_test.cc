// RunState: run.json round-trips, the same input and settings are the same run, and every
// change (size, content, time, filter, output settings, standard input) is named.
#include "coordinator/engine/run_state.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/output/output_layout.h"
#include "tests/support/json_at.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::JsonAt;
using testing::ReadFile;
using testing::TempDir;

bool Has(const std::vector<std::string>& phrases, const std::string& part) {
  return std::any_of(phrases.begin(), phrases.end(),
                     [&](const std::string& p) { return p.find(part) != std::string::npos; });
}

// Sets the file's modification time to `seconds` after the epoch.
void SetTime(const std::string& path, time_t epoch_s) {
  const timespec times[2] = {{epoch_s, 0}, {epoch_s, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

Options OptionsFor(const std::string& input) {
  Options options;
  options.input = input;
  options.filter_spec.text = "blur:5";
  return options;
}

TEST(RunStateTest, DescribesTheInputAndSettings) {
  TempDir dir;
  const std::string input = dir.Write("users.jsonl", std::string(3 << 20, 'x'));
  Options options = OptionsFor(input);
  options.filter_output.format = OutputFormat::kWebp;
  options.filter_output.quality = 70;
  options.filter_output.keep_metadata = true;
  Result<RunState> state = CurrentRunState(options);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->input.path, input);
  EXPECT_EQ(state->input.size, 3u << 20);
  EXPECT_NE(state->input.mtime_ns, 0);
  EXPECT_NE(state->input.head_hash, 0u);
  EXPECT_EQ(state->input.head_hash, state->input.tail_hash) << "same bytes at both ends";
  EXPECT_EQ(state->filter, "blur:5");
  EXPECT_EQ(state->format, "webp");
  EXPECT_EQ(state->quality, 70);
  EXPECT_TRUE(state->keep_metadata);
  EXPECT_FALSE(state->complete);
}

TEST(RunStateTest, ARelativeInputIsRecordedAbsolute) {
  TempDir dir;
  dir.Write("users.jsonl", "{}\n");
  const fs::path before = fs::current_path();
  fs::current_path(dir.path());
  Result<RunState> state = CurrentRunState(OptionsFor("./users.jsonl"));
  fs::current_path(before);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->input.path, (dir / "users.jsonl").string());
}

TEST(RunStateTest, RoundTripsThroughRunJsonAndMarksComplete) {
  TempDir dir;
  const std::string input = dir.Write("users \"q\".jsonl", "{\"id\":1}\n");
  Result<RunState> state = CurrentRunState(OptionsFor(input));
  ASSERT_TRUE(state.ok());
  state->max_pixels = 123456789012ULL;
  ASSERT_TRUE(WriteRunState(dir.path().string(), state.value()).ok());
  EXPECT_EQ(JsonAt(ReadFile(dir / OutputLayout::kRunState), "/complete"), "false");

  Result<RunState> read = ReadRunState(dir.path().string());
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(DescribeChanges(state.value(), read.value()).empty());
  EXPECT_EQ(read->input.path, input);
  EXPECT_EQ(read->input.head_hash, state->input.head_hash);
  EXPECT_EQ(read->input.mtime_ns, state->input.mtime_ns);
  EXPECT_EQ(read->max_pixels, 123456789012ULL);
  EXPECT_FALSE(read->complete);

  ASSERT_TRUE(MarkRunComplete(dir.path().string(), state.value()).ok());
  read = ReadRunState(dir.path().string());
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->complete);
}

// The shard, the counts, the layout and the times round-trip; a file from before them reads as
// one whole run in one folder; another shard is never the same folder's run.
TEST(RunStateTest, TheShardCountsLayoutAndTimesRoundTrip) {
  TempDir dir;
  const std::string input = dir.Write("users.jsonl", "{\"id\":1}\n");
  Result<RunState> state = CurrentRunState(OptionsFor(input));
  ASSERT_TRUE(state.ok());
  state->shard = Shard{2, 5};
  state->users = 41;
  state->input_records = 203;
  state->fan_out = true;
  state->started_ns = 1'700'000'000'123'456'789;
  ASSERT_TRUE(MarkRunComplete(dir.path().string(), state.value()).ok());
  Result<RunState> read = ReadRunState(dir.path().string());
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->shard, (Shard{2, 5}));
  EXPECT_EQ(read->users, 41u);
  EXPECT_EQ(read->input_records, 203u);
  EXPECT_TRUE(read->fan_out);
  EXPECT_EQ(read->started_ns, 1'700'000'000'123'456'789);
  EXPECT_GT(read->finished_ns, read->started_ns);
  EXPECT_EQ(JsonAt(ReadFile(dir / OutputLayout::kRunState), "/shard"), "2/5");

  std::string older = ReadFile(dir / OutputLayout::kRunState);
  older = older.substr(0, older.find(",\"shard\"")) + "}\n";
  dir.Write("run.json", older);
  read = ReadRunState(dir.path().string());
  ASSERT_TRUE(read.ok()) << older;
  EXPECT_TRUE(read->shard.whole());
  EXPECT_FALSE(read->fan_out);
  EXPECT_EQ(read->started_ns, 0);

  const std::string with_bad = older.substr(0, older.rfind('}')) + ",\"shard\":\"5/5\"}\n";
  dir.Write("run.json", with_bad);
  EXPECT_EQ(ReadRunState(dir.path().string()).status().code(), Code::kBadState) << with_bad;

  EXPECT_EQ(ShardMismatch(Shard{1, 4}, Shard{1, 4}), "");
  EXPECT_NE(ShardMismatch(Shard{1, 4}, Shard{2, 4}).find("shard 1/4"), std::string::npos);
  EXPECT_NE(ShardMismatch(Shard{}, Shard{0, 2}).find("the whole input"), std::string::npos);
}

TEST(RunStateTest, MissingAndForeignRunJsonAreTold) {
  TempDir dir;
  EXPECT_EQ(ReadRunState(dir.path().string()).status().code(), Code::kMissing);
  for (const std::string text : {"", "{", "[]", "{\"version\":1}", "{\"version\":99}"}) {
    dir.Write("run.json", text);
    Result<RunState> read = ReadRunState(dir.path().string());
    ASSERT_FALSE(read.ok()) << text;
    EXPECT_EQ(read.status().code(), Code::kBadState) << text;
  }
}

TEST(RunStateTest, TheSameFileAndSettingsAreTheSameRun) {
  TempDir dir;
  const std::string input = dir.Write("users.jsonl", "{\"id\":1}\n");
  Result<RunState> first = CurrentRunState(OptionsFor(input));
  Result<RunState> second = CurrentRunState(OptionsFor(input));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(DescribeChanges(first.value(), second.value()).empty());
}

TEST(RunStateTest, NamesEachChange) {
  TempDir dir;
  const std::string input = dir.Write("users.jsonl", std::string(1200, 'a'));
  SetTime(input, 1'700'000'000);
  Result<RunState> before = CurrentRunState(OptionsFor(input));
  ASSERT_TRUE(before.ok());

  dir.Write("users.jsonl", std::string(1300, 'a'));
  SetTime(input, 1'700'000'000);
  Options options = OptionsFor(input);
  options.filter_spec.text = "blur:3";
  options.filter_output.quality = 90;
  options.filter_output.format = OutputFormat::kJpeg;
  Result<RunState> after = CurrentRunState(options);
  ASSERT_TRUE(after.ok());
  const std::vector<std::string> changes = DescribeChanges(before.value(), after.value());
  EXPECT_TRUE(Has(changes, "input file changed: size 1200 -> 1300")) << changes.front();
  EXPECT_TRUE(Has(changes, "filter changed: blur:5 -> blur:3"));
  EXPECT_TRUE(Has(changes, "--quality changed: 85 -> 90"));
  EXPECT_TRUE(Has(changes, "--format changed: input -> jpeg"));
  EXPECT_FALSE(Has(changes, "modified")) << "the time was kept";
  EXPECT_EQ(changes.size(), 4u);
}

// Same size, same time: only the hash of the ends can tell.
TEST(RunStateTest, ContentChangedInPlaceIsSeen) {
  TempDir dir;
  std::string text(3 << 20, 'a');
  const std::string input = dir.Write("users.jsonl", text);
  SetTime(input, 1'700'000'000);
  Result<RunState> before = CurrentRunState(OptionsFor(input));
  text[text.size() - 10] = 'b';  // in the last MiB
  dir.Write("users.jsonl", text);
  SetTime(input, 1'700'000'000);
  Result<RunState> after = CurrentRunState(OptionsFor(input));
  ASSERT_TRUE(before.ok() && after.ok());
  const std::vector<std::string> changes = DescribeChanges(before.value(), after.value());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0], "input file changed: its content differs");
}

TEST(RunStateTest, ATouchedFileIsAChange) {
  TempDir dir;
  const std::string input = dir.Write("users.jsonl", "{}\n");
  SetTime(input, 1'700'000'000);
  Result<RunState> before = CurrentRunState(OptionsFor(input));
  SetTime(input, 1'700'000'100);
  Result<RunState> after = CurrentRunState(OptionsFor(input));
  ASSERT_TRUE(before.ok() && after.ok());
  const std::vector<std::string> changes = DescribeChanges(before.value(), after.value());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0],
            "input file changed: modified 2023-11-14 22:13:20.000000000 UTC -> 2023-11-14 "
            "22:15:00.000000000 UTC");
}

// Standard input is known by the users read from it, so a resume fed the same users again is
// the same run (the printed resume command works), and other users are refused.
TEST(RunStateTest, StandardInputIsKnownByItsUsers) {
  UserStore same_a, same_b, other;
  for (UserStore* store : {&same_a, &same_b, &other}) store->Add(1, "a", "http://h/1.jpg");
  other.Add(2, "b", "http://h/2.jpg");
  const Options options = OptionsFor("-");
  const RunState a = RunStateFor(options, IdentifyUsers(same_a, "-"));
  const RunState b = RunStateFor(options, IdentifyUsers(same_b, "-"));
  const RunState c = RunStateFor(options, IdentifyUsers(other, "-"));
  EXPECT_TRUE(a.input.is_stdin());
  EXPECT_TRUE(DescribeChanges(a, b).empty());
  EXPECT_TRUE(Has(DescribeChanges(a, c), "the users on standard input changed: count 1 -> 2"));

  RunState unchecked = a;  // what an older pixelmill recorded for standard input
  unchecked.input.head_hash = unchecked.input.tail_hash = 0;
  EXPECT_TRUE(Has(DescribeChanges(unchecked, a), "which it could not check"));

  TempDir dir;
  Result<RunState> file = CurrentRunState(OptionsFor(dir.Write("users.jsonl", "{}\n")));
  ASSERT_TRUE(file.ok());
  EXPECT_TRUE(Has(DescribeChanges(file.value(), a), "input file changed: path"));
}

// A huge run.json is refused from its size, without being read (a sparse 3 GB file here).
TEST(RunStateTest, AHugeRunStateIsRefusedUnread) {
  TempDir dir;
  const std::string path = dir.Write("run.json", "{");
  std::filesystem::resize_file(path, uint64_t{3} << 30);
  Result<RunState> state = ReadRunState(dir.path().string());
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), Code::kBadState);
  EXPECT_NE(state.status().message().find("3221225472 bytes"), std::string::npos)
      << state.status().message();
}

TEST(RunStateTest, AMissingInputIsAnIoError) {
  TempDir dir;
  Result<RunState> state = CurrentRunState(OptionsFor((dir / "nope.jsonl").string()));
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), Code::kIo);
}

}  // namespace
}  // namespace pixelmill
