// ManifestReader: lines with their offsets across chunk boundaries, an unterminated last line,
// overlong lines skipped whole, and which lines are entries.
#include "coordinator/output/manifest_reader.h"

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

// Every line of the reader, with its text; `ids` gets each entry's id (-1 for a non-entry),
// parsed while the line is the current one.
std::vector<ManifestLine> ReadAll(ManifestReader& reader, std::vector<std::string>& texts,
                                  std::vector<int64_t>& ids) {
  std::vector<ManifestLine> lines;
  ManifestLine line;
  for (;;) {
    Result<bool> more = reader.Next(line);
    EXPECT_TRUE(more.ok());
    if (!more.ok() || !more.value()) break;
    ManifestRecord entry;
    ids.push_back(reader.Parse(line, entry) ? entry.id.number : -1);
    lines.push_back(line);
    texts.push_back(std::string(line.text));
  }
  return lines;
}

TEST(ManifestReaderTest, AMissingFileIsMissing) {
  TempDir dir;
  Result<ManifestReader> reader = ManifestReader::Open((dir / "m.jsonl").string(), false);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), Code::kMissing);
}

TEST(ManifestReaderTest, ASymlinkIsRefused) {
  TempDir dir;
  const std::string victim = dir.Write("victim", "{\"id\":1}\n");
  fs::create_symlink(victim, dir / "m.jsonl");
  Result<ManifestReader> reader = ManifestReader::Open((dir / "m.jsonl").string(), true);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), Code::kIo);
}

// 200,000 lines are several of the reader's 4 MiB chunks: offsets must stay exact across them.
TEST(ManifestReaderTest, LinesAndOffsetsAcrossChunks) {
  TempDir dir;
  std::string text;
  std::vector<uint64_t> offsets;
  for (int i = 0; i < 200000; ++i) {
    offsets.push_back(text.size());
    text += "{\"id\":" + std::to_string(i) + ",\"pad\":\"" + std::string(i % 50, 'p') + "\"}\n";
  }
  text += "{\"id\":7,\"sta";  // torn
  const std::string path = dir.Write("m.jsonl", text);
  Result<ManifestReader> reader = ManifestReader::Open(path, false);
  ASSERT_TRUE(reader.ok());
  std::vector<std::string> texts;
  std::vector<int64_t> ids;
  std::vector<ManifestLine> lines = ReadAll(reader.value(), texts, ids);
  ASSERT_EQ(lines.size(), 200001u);
  for (size_t i = 0; i < offsets.size(); ++i) {
    ASSERT_EQ(lines[i].offset, offsets[i]) << i;
    ASSERT_TRUE(lines[i].terminated);
    ASSERT_EQ(texts[i], text.substr(offsets[i], lines[i].size)) << i;
    ASSERT_EQ(ids[i], static_cast<int64_t>(i)) << texts[i];
  }
  EXPECT_EQ(ids.back(), -1) << "a torn line is not an entry";
  EXPECT_FALSE(lines.back().terminated);
  EXPECT_EQ(texts.back(), "{\"id\":7,\"sta");
  EXPECT_EQ(lines.back().offset + lines.back().size, text.size());
}

TEST(ManifestReaderTest, AnOverlongLineIsSkippedWhole) {
  TempDir dir;
  const std::string long_line = "{\"id\":1,\"x\":\"" + std::string(3 << 20, 'x') + "\"}";
  const std::string text = "{\"id\":0}\n" + long_line + "\n{\"id\":2}\n";
  Result<ManifestReader> reader = ManifestReader::Open(dir.Write("m.jsonl", text), false);
  ASSERT_TRUE(reader.ok());
  std::vector<std::string> texts;
  std::vector<int64_t> ids;
  std::vector<ManifestLine> lines = ReadAll(reader.value(), texts, ids);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(ids, (std::vector<int64_t>{0, -1, 2}));
  EXPECT_TRUE(lines[1].too_long);
  EXPECT_EQ(lines[1].size, long_line.size());
  EXPECT_EQ(texts[2], "{\"id\":2}");
  EXPECT_EQ(lines[2].offset, 9 + long_line.size() + 1);
}

TEST(ManifestReaderTest, ParsesALineIntoItsRecord) {
  TempDir dir;
  const std::string text =
      R"({"id":7,"status":"ok","output":"images/7.jpg","bytes":948,"format":"jpeg","x":[1,{}]})"
      "\n"
      R"({"id":-8,"status":"failed","error":{"code":"dns","message":"no \"host\""}})"
      "\n";
  Result<ManifestReader> reader = ManifestReader::Open(dir.Write("m.jsonl", text), false);
  ASSERT_TRUE(reader.ok());
  ManifestLine line;
  ManifestRecord entry;
  ASSERT_TRUE(reader->Next(line).value());
  ASSERT_TRUE(reader->Parse(line, entry));
  EXPECT_EQ(entry.id, 7);
  EXPECT_EQ(entry.status, "ok");
  EXPECT_EQ(entry.output, "images/7.jpg");
  EXPECT_TRUE(entry.has_bytes);
  EXPECT_EQ(entry.bytes, 948u);
  EXPECT_EQ(entry.format, OutputFormat::kJpeg);
  ASSERT_TRUE(reader->Next(line).value());
  ASSERT_TRUE(reader->Parse(line, entry));
  EXPECT_EQ(entry.id, -8);
  EXPECT_EQ(entry.status, "failed");
  EXPECT_TRUE(entry.output.empty());
  EXPECT_FALSE(entry.has_bytes);
  EXPECT_EQ(entry.error_code, "dns");
  EXPECT_EQ(entry.error_message, "no \"host\"");
  EXPECT_FALSE(reader->Next(line).value());
}

TEST(ManifestReaderTest, LinesThatAreNotEntries) {
  TempDir dir;
  const std::vector<std::string> bad = {
      "",
      "   ",
      "[1,2]",
      "{\"status\":\"ok\"}",
      "{\"id\":7.5}",
      "{\"id\":7,\"status\":\"ok\"",
      "{\"id\":7,\"status\":\"o",
      "{\"id\":7} {\"id\":8}",
      "{\"id\":\"\"}",
      "{\"id\":true}",
      "{\"id\":7}garbage",
      std::string("\0\0\0\0", 4),
  };
  std::string text;
  for (const std::string& line : bad) text += line + "\n";
  Result<ManifestReader> reader = ManifestReader::Open(dir.Write("m.jsonl", text), false);
  ASSERT_TRUE(reader.ok());
  ManifestLine line;
  for (const std::string& expected : bad) {
    ASSERT_TRUE(reader->Next(line).value());
    ASSERT_EQ(line.text, expected);
    ManifestRecord entry;
    EXPECT_FALSE(reader->Parse(line, entry)) << "taken as an entry: " << expected;
  }
}

TEST(ManifestReaderTest, TruncateCutsTheFile) {
  TempDir dir;
  const std::string path = dir.Write("m.jsonl", "{\"id\":1}\n{\"id\":2");
  Result<ManifestReader> reader = ManifestReader::Open(path, true);
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(reader->Truncate(9).ok());
  EXPECT_EQ(ReadFile(path), "{\"id\":1}\n");
}

}  // namespace
}  // namespace pixelmill
