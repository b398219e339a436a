// The manifest's lines: one vocabulary for formats (the --format flag's words), one meaning of
// "attempts", and --resume still reading the lines older versions wrote ("format":"jpg").
#include "coordinator/output/manifest.h"

#include <string>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

using testing::ExitCode;
using testing::JsonAt;
using testing::JsonHas;
using testing::JsonLinesWith;
using testing::ReadFile;

ManifestRecord Filtered() {
  ManifestRecord info;
  info.id = 7;
  info.output = "images/7.jpg";
  info.format = OutputFormat::kJpeg;
  info.download_attempts = 2;
  info.filtered = true;
  info.filter_attempts = 3;
  info.filter = "blur:2";
  return info;
}

// The line said "format":"jpg" where the flag says jpeg.
TEST(ManifestTest, FormatsUseTheFlagsWords) {
  EXPECT_EQ(JsonAt(ToLine(Filtered()), "/format"), "jpeg") << ToLine(Filtered());
  EXPECT_EQ(JsonAt(ToLine(Filtered()), "/content_type"), "image/jpeg") << ToLine(Filtered());
  EXPECT_EQ(FormatName(OutputFormat::kTiff), "tiff");
  EXPECT_EQ(FormatName(OutputFormat::kPng), "png");
  EXPECT_EQ(FormatFromName("jpeg"), OutputFormat::kJpeg);
  EXPECT_EQ(FormatFromName("jpg"), OutputFormat::kJpeg);  // older manifests
  EXPECT_EQ(FormatFromName("tif"), OutputFormat::kTiff);
  EXPECT_EQ(FormatFromName("bmp"), OutputFormat::kUnknown);
}

// "attempts" counted dispatches on a filtered line and downloads on an unfiltered one: now it
// is always download attempts plus dispatches, with both parts beside it.
TEST(ManifestTest, AttemptsAreDownloadsPlusDispatchesEverywhere) {
  const std::string filtered = ToLine(Filtered());
  EXPECT_EQ(JsonAt(filtered, "/attempts"), "5") << filtered;
  EXPECT_EQ(JsonAt(filtered, "/download_attempts"), "2") << filtered;
  EXPECT_EQ(JsonAt(filtered, "/filter_attempts"), "3") << filtered;
  ManifestRecord plain = Filtered();
  plain.filtered = false;
  const std::string unfiltered = ToLine(plain);
  EXPECT_EQ(JsonAt(unfiltered, "/attempts"), "2") << unfiltered;
  EXPECT_EQ(JsonAt(unfiltered, "/download_attempts"), "2") << unfiltered;
  EXPECT_EQ(JsonAt(unfiltered, "/status"), "ok") << unfiltered;
  EXPECT_FALSE(JsonHas(unfiltered, "/filter_attempts")) << unfiltered;
  EXPECT_EQ(TotalAttempts(Filtered()), 5u);
}

// One record type writes a line and reads it back: every field survives, and the line read
// back is written again byte for byte.
TEST(ManifestTest, ALineReadBackIsTheRecordThatWroteIt) {
  ManifestRecord ok = Filtered();
  ok.bytes = 948;
  ok.width = 640;
  ok.height = 480;
  ok.download_ms = 12.5;
  ok.cpu_micros = 1234;
  ok.worker = "w-1";
  const std::string failed = FailedLine(-8, Status::Error(Code::kDns, "no \"host\""), 4);
  for (const std::string& line : {ToLine(ok), failed}) {
    const simdjson::padded_string padded(line);
    ManifestRecord read;
    ASSERT_TRUE(ReadRecord(padded, padded.size() + simdjson::SIMDJSON_PADDING, read)) << line;
    EXPECT_EQ(ToLine(read), line);
  }
  ManifestRecord read;
  const simdjson::padded_string padded(ToLine(ok));
  ASSERT_TRUE(ReadRecord(padded, padded.size() + simdjson::SIMDJSON_PADDING, read));
  EXPECT_TRUE(read.ok());
  EXPECT_EQ(read.output, "images/7.jpg");
  EXPECT_EQ(read.attempts, 5u);
  EXPECT_EQ(read.cpu_micros, 1234u);
  EXPECT_EQ(read.worker, "w-1");
}

class ManifestRunTest : public testing::CoordinatorRun {};

// A run of an older version wrote "format":"jpg": --resume keeps its users.
TEST_F(ManifestRunTest, ResumeReadsManifestsWithTheOldFormatNames) {
  Users(3);
  ASSERT_EQ(ExitCode(Start({})->Wait(60)), 0) << Stderr();
  const std::filesystem::path manifest = dir_ / "out" / "manifest.jsonl";
  std::string text = ReadFile(manifest);
  for (size_t at = text.find(R"("format":"jpeg")"); at != std::string::npos;
       at = text.find(R"("format":"jpeg")")) {
    text.replace(at, 15, R"("format":"jpg")");
  }
  ASSERT_EQ(JsonLinesWith(text, "/format", "jpg"), 3u) << text;
  dir_.Write("out/manifest.jsonl", text);
  ASSERT_EQ(ExitCode(Start({"--resume"})->Wait(60)), 0) << Stderr();
  EXPECT_NE(Stderr().find("nothing to resume: every user already has its line (3 ok, 0 failed)"),
            std::string::npos)
      << Stderr();
}

}  // namespace
}  // namespace pixelmill
