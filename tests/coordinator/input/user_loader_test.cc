#include "coordinator/input/user_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;

struct Loaded {
  Result<LoadStats> stats = Status::Error(Code::kInternal, "");
  UserStore store;
  std::vector<std::string> bad;  // every BadRecord, described
  std::vector<std::string> raw;  // every BadRecord's raw text
};

class UserLoaderTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text, const std::string& name = "users.jsonl") {
    return dir_.Write(name, text);
  }

  Loaded LoadPath(const std::string& path, size_t max_bad = 0) {
    Loaded out;
    Result<InputFile> input = InputFile::Open(path);
    if (!input.ok()) {
      out.stats = input.status();
      return out;
    }
    LoadOptions options;
    options.max_bad_records = max_bad;
    options.fields = fields_;
    out.stats = LoadUsers(input.value(), options, out.store, [&](const BadRecord& bad) {
      out.bad.push_back(bad.Describe("f"));
      out.raw.emplace_back(bad.raw);
    });
    return out;
  }

  // JSONL records with these ids (as JSON) and name "n", image_url "u".
  static std::string WithIds(const std::vector<std::string>& ids) {
    std::string text;
    for (const std::string& id : ids) {
      text += R"({"id": )" + id + R"(, "name": "n", "image_url": "u"})" + "\n";
    }
    return text;
  }

  Loaded Load(const std::string& text, size_t max_bad = 0) {
    return LoadPath(Write(text), max_bad);
  }

  // Loads a single-record JSONL text that must fail; returns the one description.
  std::string OnlyError(const std::string& text) {
    Loaded l = Load(text);
    EXPECT_FALSE(l.stats.ok());
    EXPECT_EQ(l.bad.size(), 1u) << text << "\n" << ::testing::PrintToString(l.bad);
    return l.bad.empty() ? "" : l.bad[0];
  }

  testing::TempDir dir_;
  RecordFields fields_;  // the next loads' --id-field, --name-field, --url-field
};

const char kGood[] =
    R"({"name": "Alice", "id": 1, "image_url": "http://a.example/1.jpg"})"
    "\n"
    R"({"id": 2, "name": "Bob", "image_url": "http://a.example/2.png", "extra": [1, {"x": null}]})"
    "\n"
    R"({"image_url": "https://a.example/3", "id": 3, "name": ""})"
    "\n";

TEST_F(UserLoaderTest, LoadsJsonl) {
  Loaded l = Load(kGood);
  ASSERT_TRUE(l.stats.ok()) << l.stats.status().ToString();
  EXPECT_EQ(l.stats->format, InputFormat::kJsonl);
  EXPECT_EQ(l.stats->users, 3u);
  EXPECT_EQ(l.stats->bad_records, 0u);
  ASSERT_EQ(l.store.size(), 3u);
  EXPECT_EQ(l.store.Get(0).name, "Alice");
  EXPECT_EQ(l.store.Get(1).id, 2);
  EXPECT_EQ(l.store.Get(1).image_url, "http://a.example/2.png");
  EXPECT_EQ(l.store.Get(2).name, "");
}

// The build carries no -march flag (a binary must run on any x86-64); the JSON structural
// indexer is still the best kernel this CPU runs, chosen at run time by libsimdjson.
TEST_F(UserLoaderTest, StructuralIndexingUsesTheBestKernelThisCpuRuns) {
#if defined(__x86_64__)
  ASSERT_TRUE(Load(kGood).stats.ok());  // the kernel is picked at the first parse
  const std::string active = simdjson::get_active_implementation()->name();
  if (__builtin_cpu_supports("avx2")) {
    EXPECT_TRUE(active == "haswell" || active == "icelake") << active;
  } else if (__builtin_cpu_supports("sse4.2")) {
    EXPECT_NE(active, "fallback");
  }
#else
  GTEST_SKIP() << "x86-64 only";
#endif
}

TEST_F(UserLoaderTest, JsonArrayAndJsonlGiveTheSameStore) {
  const std::string array =
      "[\n"
      R"({"name": "Alice", "id": 1, "image_url": "http://a.example/1.jpg"},)"
      R"({"id": 2, "name": "Bob", "image_url": "http://a.example/2.png", "extra": [1, {"x": null}]},)"
      "\n"
      R"({"image_url": "https://a.example/3", "id": 3, "name": ""}])";
  Loaded a = LoadPath(Write(array, "users.json"));
  Loaded b = Load(kGood);
  ASSERT_TRUE(a.stats.ok()) << a.stats.status().ToString();
  ASSERT_TRUE(b.stats.ok());
  EXPECT_EQ(a.stats->format, InputFormat::kJsonArray);
  ASSERT_EQ(a.store.size(), b.store.size());
  for (size_t i = 0; i < a.store.size(); ++i) {
    EXPECT_EQ(a.store.Get(i).id, b.store.Get(i).id);
    EXPECT_EQ(a.store.Get(i).name, b.store.Get(i).name);
    EXPECT_EQ(a.store.Get(i).image_url, b.store.Get(i).image_url);
  }
}

TEST_F(UserLoaderTest, UnicodeNamesPreservedByteForByte) {
  Loaded l = Load(
      "\xEF\xBB\xBF"  // a BOM is allowed
      R"({"id": 1, "name": "Zoë 日本 🎉", "image_url": "http://x/1"})"
      "\n"
      R"({"id": 2, "name": "caf\u00e9 \ud83c\udf89 \"q\"", "image_url": "http://x/2"})"
      "\r\n");
  ASSERT_TRUE(l.stats.ok()) << l.stats.status().ToString();
  EXPECT_EQ(l.store.Get(0).name, "Zoë 日本 🎉");
  EXPECT_EQ(l.store.Get(1).name, "café 🎉 \"q\"");
}

TEST_F(UserLoaderTest, BlankLinesCountInLineNumbers) {
  Loaded l = Load(std::string("\n") +
                  R"({"id": 1, "name": "a", "image_url": "u"})"
                  "\n\n   \n" +
                  R"({"id": 1, "name": "b", "image_url": "u"})"
                  "\n");
  EXPECT_FALSE(l.stats.ok());
  ASSERT_EQ(l.bad.size(), 1u);
  EXPECT_EQ(l.bad[0], "f:5: field \"id\": duplicate id 1 (first seen at line 2)");
}

// Increasing ids skip the hash index; the first id out of order builds it from all before.
TEST_F(UserLoaderTest, DuplicatesFoundInAnyOrder) {
  Loaded l = Load(WithIds({"10", "20", "30", "5", "20", "40", "5", "41"}), 5);
  ASSERT_TRUE(l.stats.ok()) << l.stats.status().ToString();
  ASSERT_EQ(l.bad.size(), 2u);
  EXPECT_EQ(l.bad[0], "f:5: field \"id\": duplicate id 20 (first seen at line 2)");
  EXPECT_EQ(l.bad[1], "f:7: field \"id\": duplicate id 5 (first seen at line 4)");
  EXPECT_EQ(l.raw[1], R"({"id":5,"name":"n","image_url":"u"})");
  ASSERT_EQ(l.store.size(), 6u);
  const int64_t kept[] = {10, 20, 30, 5, 40, 41};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(l.store.Get(i).id, kept[i]);
    EXPECT_EQ(l.store.Get(i).image_url, "u");
  }
}

// String ids load beside integers, keep their bytes, and repeat by text: "20" is 20, "020" not.
TEST_F(UserLoaderTest, StringIdsLoadAndRepeatByText) {
  Loaded l = Load(WithIds({R"("b7e4c2a0-1f3d-4c5e-9a8b-7c6d5e4f3a2b")", "20", R"("us\u00e9r")",
                           R"("020")", R"("20")", R"("b7e4c2a0-1f3d-4c5e-9a8b-7c6d5e4f3a2b")"}),
                  5);
  ASSERT_TRUE(l.stats.ok()) << l.stats.status().ToString();
  ASSERT_EQ(l.bad.size(), 2u);
  EXPECT_EQ(l.bad[0], "f:5: field \"id\": duplicate id 20 (first seen at line 2)");
  EXPECT_EQ(l.bad[1],
            "f:6: field \"id\": duplicate id b7e4c2a0-1f3d-4c5e-9a8b-7c6d5e4f3a2b (first seen at "
            "line 1)");
  EXPECT_EQ(l.raw[0], R"({"id":"20","name":"n","image_url":"u"})");
  ASSERT_EQ(l.store.size(), 4u);
  EXPECT_EQ(l.store.id(0).text, "b7e4c2a0-1f3d-4c5e-9a8b-7c6d5e4f3a2b");
  EXPECT_FALSE(l.store.id(1).is_string());
  EXPECT_EQ(l.store.id(1).number, 20);
  EXPECT_EQ(l.store.id(2).text, "us\xc3\xa9r");
  EXPECT_EQ(l.store.id(3).text, "020");
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(l.store.Get(i).name, "n");
    EXPECT_EQ(l.store.Get(i).image_url, "u");
  }
}

// Fields found where --id-field, --name-field and --url-field say, nested or not; the paths
// name themselves in every problem.
TEST_F(UserLoaderTest, MappedFieldsAreFoundAtTheirPaths) {
  fields_ = RecordFields{"account.uuid", "", "account.profile.avatar.url"};
  Loaded l = Load(
      R"({"plan": {"tier": [1, 2]}, "account": {"uuid": "u-1", "profile": {"avatar": {"url": "h1"}}}})"
      "\n"
      R"({"account": {"profile": {"avatar": {"url": "h2"}, "bio": "x"}, "uuid": 2}})"
      "\n"
      R"({"account": {"uuid": "u-3", "profile": {"avatar": "h3"}}})"
      "\n"
      R"({"account": {"uuid": "u-4"}})"
      "\n"
      R"({"account": {"uuid": "u-5", "uuid": "u-6", "profile": {"avatar": {"url": "h5"}}}})"
      "\n"
      R"({"id": 6, "name": "n", "image_url": "h6"})"
      "\n"
      R"({"account": {"uuid": true, "profile": {"avatar": {"url": "h7"}}}})"
      "\n"
      R"({"account": {"uuid": "u-8", "profile": {"avatar": {"url": ""}}}})"
      "\n",
      9);
  ASSERT_TRUE(l.stats.ok()) << l.stats.status().ToString();
  ASSERT_EQ(l.store.size(), 2u);
  EXPECT_EQ(l.store.id(0).text, "u-1");
  EXPECT_EQ(l.store.Get(0).image_url, "h1");
  EXPECT_EQ(l.store.Get(0).name, "");
  EXPECT_EQ(l.store.id(1), UserId(2));
  EXPECT_EQ(l.store.Get(1).image_url, "h2");
  ASSERT_EQ(l.bad.size(), 6u);
  EXPECT_EQ(l.bad[4],
            "f:7: field \"account.uuid\": expected an integer or a string, got a boolean");
  EXPECT_EQ(l.bad[5],
            "f:8: field \"account.profile.avatar.url\": empty string: every user needs an image "
            "URL");
  EXPECT_EQ(l.bad[0], "f:3: field \"account.profile.avatar\": expected an object, got a string");
  EXPECT_EQ(l.bad[1], "f:4: field \"account.profile.avatar.url\": missing field");
  EXPECT_EQ(l.bad[2], "f:5: field \"account.uuid\": field appears twice in the record");
  EXPECT_EQ(l.bad[3], "f:6: field \"account.uuid\": missing field");
}

TEST(RecordFieldsTest, PathsThatCannotWorkAreRefused) {
  EXPECT_EQ(RecordFieldsProblem(RecordFields{}), "");
  EXPECT_EQ(RecordFieldsProblem(RecordFields{"a.b", "", "a.c"}), "");
  EXPECT_NE(RecordFieldsProblem(RecordFields{"", "name", "url"}), "");
  EXPECT_NE(RecordFieldsProblem(RecordFields{"a..b", "name", "url"}), "");
  EXPECT_NE(RecordFieldsProblem(RecordFields{".a", "name", "url"}), "");
  EXPECT_NE(RecordFieldsProblem(RecordFields{"id", "name", "url."}), "");
  EXPECT_NE(RecordFieldsProblem(RecordFields{"id", "x\"y", "url"}), "");
  EXPECT_NE(RecordFieldsProblem(RecordFields{"id", "name", "id"}), "");
  EXPECT_EQ(RecordFieldsProblem(RecordFields{"a", "name", "a.url"}),
            "--id-field \"a\" and --url-field \"a.url\" overlap: one field's value would hold "
            "the other");
}

// CSV: a header row names the columns; ids that spell integers are integers, others strings.
TEST_F(UserLoaderTest, CsvWithAHeaderRow) {
  fields_ = RecordFields{"user_id", "display", "avatar"};
  Loaded l = Load(
      "\xEF\xBB\xBFplan,user_id,display,avatar\r\n"
      "free,1,Ada,http://a/1\r\n"
      "pro,3f2b8c1e-9d4a,\"Chen, \"\"C\"\"\",\"http://a/2\"\r\n"
      "free,042,x,http://a/3\r\n"
      "free,1,dup,http://a/4\r\n"
      "free,4,short\r\n"
      "free,,noid,http://a/5\r\n"
      "free,\"a\x01"
      "b\",ctl,http://a/6\r\n"
      "free,7,\xff,http://a/7\r\n",
      9);
  ASSERT_TRUE(l.stats.ok()) << l.stats.status().ToString();
  EXPECT_EQ(l.stats->format, InputFormat::kCsv);
  ASSERT_EQ(l.store.size(), 3u) << ::testing::PrintToString(l.bad);
  EXPECT_EQ(l.store.id(0), UserId(1));
  EXPECT_FALSE(l.store.id(0).is_string());
  EXPECT_EQ(l.store.id(1).text, "3f2b8c1e-9d4a");
  EXPECT_EQ(l.store.Get(1).name, "Chen, \"C\"");
  EXPECT_EQ(l.store.Get(1).image_url, "http://a/2");
  EXPECT_EQ(l.store.id(2).text, "042");
  ASSERT_EQ(l.bad.size(), 5u) << ::testing::PrintToString(l.bad);
  EXPECT_EQ(l.bad[0], "f:6: expected 4 fields, as the header has, got 3");
  EXPECT_EQ(l.bad[1], "f:7: field \"user_id\": empty string: an id needs at least one character");
  EXPECT_EQ(l.bad[2], "f:8: field \"user_id\": string id holds a control character (byte 1)");
  EXPECT_EQ(l.bad[3], "f:9: field \"display\": invalid UTF-8");
  EXPECT_EQ(l.bad[4], "f:5: field \"user_id\": duplicate id 1 (first seen at line 2)");
}

TEST_F(UserLoaderTest, ACsvHeaderWithoutTheFieldsIsRefusedNamingItsColumns) {
  Loaded l = Load("uid,url\n1,http://a/1\n");
  ASSERT_FALSE(l.stats.ok());
  EXPECT_EQ(l.stats.status().message(), dir_.path().string() +
                                            "/users.jsonl:1: CSV header has no column \"id\" (its "
                                            "columns: uid, url); name it with --id-field");
  EXPECT_FALSE(Load("not json nor csv\n").stats.ok());
}

TEST_F(UserLoaderTest, EachBadRecordNamesLineFieldAndReason) {
  EXPECT_EQ(OnlyError(R"({"id": 1, "image_url": "u"})"
                      "\n"),
            "f:1: field \"name\": missing field");
  EXPECT_EQ(OnlyError(R"({"id": true, "name": "a", "image_url": "u"})"
                      "\n"),
            "f:1: field \"id\": expected an integer or a string, got a boolean");
  EXPECT_EQ(OnlyError(R"({"id": 1.5, "name": "a", "image_url": "u"})"
                      "\n"),
            "f:1: field \"id\": expected an integer or a string, got 1.5");
  EXPECT_EQ(OnlyError(R"({"id": 9223372036854775808, "name": "a", "image_url": "u"})"
                      "\n"),
            "f:1: field \"id\": integer 9223372036854775808 out of range (must fit in a signed "
            "64-bit integer; write a longer one as a string)");
  EXPECT_EQ(OnlyError(R"({"id": "", "name": "a", "image_url": "u"})"
                      "\n"),
            "f:1: field \"id\": empty string: an id needs at least one character");
  EXPECT_EQ(OnlyError(R"({"id": "a\u0007b", "name": "a", "image_url": "u"})"
                      "\n"),
            "f:1: field \"id\": string id holds a control character (byte 7)");
  EXPECT_EQ(OnlyError("{\"id\": \"" + std::string(65, 'x') +
                      "\", \"name\": \"a\", \"image_url\": \"u\"}\n"),
            "f:1: field \"id\": string id of 65 bytes is over the limit of 64");
  EXPECT_EQ(OnlyError(R"({"id": 1, "name": null, "image_url": "u"})"
                      "\n"),
            "f:1: field \"name\": expected a string, got null");
  EXPECT_EQ(OnlyError(R"({"id": 1, "name": "a", "image_url": ""})"
                      "\n"),
            "f:1: field \"image_url\": empty string: every user needs an image URL");
  EXPECT_EQ(OnlyError(R"({"id": 1, "id": 2, "name": "a", "image_url": "u"})"
                      "\n"),
            "f:1: field \"id\": field appears twice in the record");
  EXPECT_EQ(OnlyError(R"({"id": 2, "name": "a", "image_url": "u"})"
                      "\n[1, 2]\n"),
            "f:2: expected a JSON object, got an array");
  EXPECT_EQ(OnlyError(R"({"id": 2, "name": "a", "image_url": "u"})"
                      "\nnonsense\n"),
            "f:2: malformed JSON: invalid literal (expected true, false or null)");
  EXPECT_EQ(OnlyError("{\"id\": 1, \"name\": \"a\xff\", \"image_url\": \"u\"}\n"),
            "f:1: invalid UTF-8");
  EXPECT_EQ(OnlyError(R"({"id": 1, "name": "a", "image_url": "u"} xyz)"
                      "\n"),
            "f:1: malformed JSON: trailing content after the record");
  EXPECT_EQ(
      OnlyError(
          R"({"id": 1, "name": "a", "image_url": "u"}{"id": 2, "name": "b", "image_url": "u"})"
          "\n"),
      "f:1: malformed JSON: trailing content after the record");
  EXPECT_EQ(
      OnlyError(std::string("{\"id\": 1, \"name\": \"a") + '\0' + "b\", \"image_url\": \"u\"}\n"),
      "f:1: malformed JSON: raw control character (e.g. a NUL byte) inside a string");
  EXPECT_EQ(OnlyError(R"({"id": 1, "name": "a", "image_url": "u", "x": tru})"
                      "\n")
                .rfind("f:1: field \"x\": malformed JSON: ", 0),
            0u);
}

TEST_F(UserLoaderTest, TruncatedLastLine) {
  Loaded l = Load(std::string(kGood) + R"({"id": 4, "name": "tr)");
  EXPECT_FALSE(l.stats.ok());
  ASSERT_EQ(l.bad.size(), 1u);
  EXPECT_EQ(l.bad[0].rfind("f:4: truncated last line", 0), 0u) << l.bad[0];
  EXPECT_EQ(l.store.size(), 3u);
}

TEST_F(UserLoaderTest, LastLineWithoutNewlineIsFine) {
  Loaded l = Load(R"({"id": 4, "name": "x", "image_url": "u"})");
  ASSERT_TRUE(l.stats.ok()) << l.stats.status().ToString();
  EXPECT_EQ(l.store.size(), 1u);
}

TEST_F(UserLoaderTest, RecordSpanningLinesIsRefusedInJsonl) {
  Loaded l = Load(std::string(kGood) + "{\"id\": 9,\n \"name\": \"x\", \"image_url\": \"u\"}\n" +
                      R"({"id": 10, "name": "x", "image_url": "u"})"
                      "\n",
                  5);
  ASSERT_TRUE(l.stats.ok()) << l.stats.status().ToString();
  ASSERT_EQ(l.bad.size(), 2u);
  EXPECT_EQ(l.bad[0], "f:4: malformed JSON: unclosed object or array");
  EXPECT_EQ(l.bad[1].rfind("f:5: ", 0), 0u) << l.bad[1];
  EXPECT_EQ(l.store.size(), 4u);
  EXPECT_EQ(l.store.Get(3).id, 10);
}

TEST_F(UserLoaderTest, WholeFileErrors) {
  Loaded empty = Load("");
  ASSERT_FALSE(empty.stats.ok());
  EXPECT_NE(empty.stats.status().message().find("empty file"), std::string::npos);
  Loaded blank = Load("  \n\n");
  ASSERT_FALSE(blank.stats.ok());
  EXPECT_NE(blank.stats.status().message().find("only whitespace"), std::string::npos);
  Loaded text = Load("\nname id image_url\n");
  ASSERT_FALSE(text.stats.ok());
  EXPECT_NE(text.stats.status().message().find(":2: not JSON"), std::string::npos)
      << text.stats.status().message();
  Loaded binary = Load(std::string("\0\0\0", 3));
  ASSERT_FALSE(binary.stats.ok());
  EXPECT_NE(binary.stats.status().message().find("found 0x00"), std::string::npos);
  Loaded dir = LoadPath(dir_.path().string());
  ASSERT_FALSE(dir.stats.ok());
  EXPECT_NE(dir.stats.status().message().find("is a directory"), std::string::npos);
  Loaded missing = LoadPath((dir_ / "nope.jsonl").string());
  ASSERT_FALSE(missing.stats.ok());
  EXPECT_NE(missing.stats.status().message().find("No such file"), std::string::npos);
}

TEST_F(UserLoaderTest, UnreadableFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can read any file";
  const std::string path = Write(kGood);
  ::chmod(path.c_str(), 0);
  Loaded l = LoadPath(path);
  ASSERT_FALSE(l.stats.ok());
  EXPECT_NE(l.stats.status().message().find("Permission denied"), std::string::npos);
}

TEST_F(UserLoaderTest, DeeplyNestedInput) {
  Loaded array = LoadPath(Write(std::string(100000, '[') + std::string(100000, ']'), "deep.json"));
  ASSERT_FALSE(array.stats.ok());
  EXPECT_NE(array.stats.status().message().find("[0]: expected a JSON object, got an array"),
            std::string::npos)
      << array.stats.status().message();
  Loaded unclosed = LoadPath(Write(std::string(100000, '['), "open.json"));
  ASSERT_FALSE(unclosed.stats.ok());
  EXPECT_NE(unclosed.stats.status().message().find("unclosed"), std::string::npos);
  // A deep line in JSONL is one bad record; the lines around it load.
  Loaded line = Load(R"({"id": 1, "name": "a", "image_url": "u"})"
                     "\n" +
                         std::string(5000, '[') + std::string(5000, ']') + "\n" +
                         R"({"id": 2, "name": "a", "image_url": "u"})"
                         "\n",
                     1);
  ASSERT_EQ(line.bad.size(), 1u);
  EXPECT_EQ(line.bad[0].rfind("f:2: ", 0), 0u) << line.bad[0];
  EXPECT_EQ(line.store.size(), 2u);
}

TEST_F(UserLoaderTest, OverlongLineIsRefusedWithoutBufferingIt) {
  const std::string huge =
      R"({"id": 2, "name": ")" + std::string(9 << 20, 'x') + R"(", "image_url": "u"})";
  Loaded l = Load(std::string(kGood) + huge + "\n" +
                      R"({"id": 5, "name": "z", "image_url": "u"})"
                      "\n",
                  1);
  ASSERT_TRUE(l.stats.ok()) << l.stats.status().ToString();
  ASSERT_EQ(l.bad.size(), 1u);
  EXPECT_EQ(l.bad[0].rfind("f:4: record is longer than", 0), 0u) << l.bad[0];
  EXPECT_LE(l.raw[0].size(), 4096u);
  ASSERT_EQ(l.store.size(), 4u);
  EXPECT_EQ(l.store.Get(3).id, 5);
  // Between the record limit (1 MiB) and the read chunk: refused by size.
  Loaded mid = Load(R"({"id": 2, "name": ")" + std::string(2 << 20, 'y') +
                        R"(", "image_url": "u"})"
                        "\n",
                    1);
  ASSERT_EQ(mid.bad.size(), 1u);
  EXPECT_EQ(mid.bad[0].rfind("f:1: record is ", 0), 0u) << mid.bad[0];
}

TEST_F(UserLoaderTest, JsonArrayErrorsUseTheIndex) {
  Loaded l = LoadPath(
      Write(
          R"([{"id": 1, "name": "a", "image_url": "u"}, 5, {"id": 1, "name": "b", "image_url": "u"}, {"id": 3}])",
          "a.json"),
      3);
  ASSERT_TRUE(l.stats.ok()) << l.stats.status().ToString();
  ASSERT_EQ(l.bad.size(), 3u);
  EXPECT_EQ(l.bad[0], "f[1]: expected a JSON object, got a number");
  EXPECT_EQ(l.bad[1], "f[3]: field \"name\": missing field");
  EXPECT_EQ(l.bad[2],
            "f[2]: field \"id\": duplicate id 1 (first seen at index 0)");  // after the scan
  EXPECT_EQ(l.store.size(), 1u);
  Loaded broken = LoadPath(Write(
      R"([{"id": 1, "name": "a", "image_url": "u"}, {"id": 2, "name": "b" "image_url": "u"}])",
      "b.json"));
  ASSERT_FALSE(broken.stats.ok());
  EXPECT_NE(broken.stats.status().message().find("[1]: malformed JSON"), std::string::npos)
      << broken.stats.status().message();
  Loaded trailing = LoadPath(Write(R"([{"id": 1, "name": "a", "image_url": "u"}] [])", "c.json"));
  ASSERT_FALSE(trailing.stats.ok());
  EXPECT_NE(trailing.stats.status().message().find("trailing content"), std::string::npos);
}

TEST_F(UserLoaderTest, MaxBadRecordsSkipsUpToTheLimit) {
  const std::string text = std::string(kGood) + "{\"id\": 5}\n" + "nonsense\n" +
                           R"({"id": 6, "name": "f", "image_url": "u"})"
                           "\n";
  Loaded two = Load(text, 2);
  ASSERT_TRUE(two.stats.ok()) << two.stats.status().ToString();
  EXPECT_EQ(two.stats->bad_records, 2u);
  EXPECT_EQ(two.store.size(), 4u);
  EXPECT_EQ(two.bad[1], "f:5: malformed JSON: invalid literal (expected true, false or null)");
  Loaded one = Load(text, 1);
  ASSERT_FALSE(one.stats.ok());
  EXPECT_EQ(one.stats.status().code(), Code::kBadInput);
  EXPECT_NE(one.stats.status().message().find("more than the 1 allowed"), std::string::npos);
  EXPECT_NE(one.stats.status().message().find(":4: field \"name\": missing field"),
            std::string::npos);
}

TEST_F(UserLoaderTest, FailureListsAtMostTenErrors) {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "{\"id\": " + std::to_string(i) + "}\n";
  Loaded l = Load(text);
  ASSERT_FALSE(l.stats.ok());
  EXPECT_EQ(l.bad.size(), 10u);  // stopped reading after ten
  const std::string& message = l.stats.status().message();
  EXPECT_NE(message.find(":10: field \"name\""), std::string::npos);
  EXPECT_EQ(message.find(":11: field"), std::string::npos);
}

// After a line that needed a careful look, streaming resumes at a blank line: the next bad
// record must still be named by its own line, and only once.
TEST_F(UserLoaderTest, RecordAfterABlankLineKeepsItsLineNumber) {
  Loaded l = Load(R"({"name":"b","id":2,"image_url":"u"})"
                  "\n"
                  R"({"name":"a","id":1,"image_url":"u"} {"x":1})"
                  "\n"
                  "\n"
                  "[1,2]\n",
                  2);
  ASSERT_TRUE(l.stats.ok()) << l.stats.status().ToString();
  ASSERT_EQ(l.bad.size(), 2u) << ::testing::PrintToString(l.bad);
  EXPECT_EQ(l.bad[0], "f:2: malformed JSON: trailing content after the record");
  EXPECT_EQ(l.bad[1], "f:4: expected a JSON object, got an array");
  EXPECT_EQ(l.raw[1], "[1,2]");
}

// Errors scattered over many read chunks keep exact line numbers, and every good line loads.
TEST_F(UserLoaderTest, LineNumbersStayExactAcrossChunks) {
  std::string text;
  std::vector<int> bad_lines;
  const int kLines = 150000;  // ~10 MB, several 4 MiB chunks
  for (int line = 1; line <= kLines; ++line) {
    if (line % 9973 == 0) {
      bad_lines.push_back(line);
      text += R"({"id": )" + std::to_string(line) +
              R"(, "name": "broken)"
              "\n";
    } else {
      text += R"({"name": "user)" + std::to_string(line) + R"(", "id": )" + std::to_string(line) +
              R"(, "image_url": "http://api.example.com/img/)" + std::to_string(line) + ".jpg\"}\n";
    }
  }
  Loaded l = Load(text, 1000);
  ASSERT_TRUE(l.stats.ok()) << l.stats.status().ToString();
  ASSERT_EQ(l.bad.size(), bad_lines.size());
  for (size_t i = 0; i < bad_lines.size(); ++i) {
    EXPECT_EQ(l.bad[i].rfind("f:" + std::to_string(bad_lines[i]) + ": ", 0), 0u) << l.bad[i];
  }
  ASSERT_EQ(l.store.size(), kLines - bad_lines.size());
  for (size_t i = 0; i < l.store.size(); ++i) {
    UserView u = l.store.Get(i);
    ASSERT_EQ(u.name, "user" + IdText(u.id));
    ASSERT_EQ(u.image_url, "http://api.example.com/img/" + IdText(u.id) + ".jpg");
  }
  EXPECT_EQ(l.stats->bytes, text.size());
}

// Ignored fields must still be valid JSON, nested values included: each such record is a bad
// record naming its line and the field, and the records around it load.
TEST_F(UserLoaderTest, InvalidJsonInsideIgnoredFieldsIsABadRecord) {
  const std::string good = R"({"id": 1, "name": "a", "image_url": "u", "x": [1, {"y": [true]}]})";
  struct Case {
    std::string field_value, field;
  };
  for (const Case& c :
       {Case{"[1,,2]", "note"}, Case{R"({"a" 1})", "meta"}, Case{"[tru]", "flags"},
        Case{"[1, nul]", "n"}, Case{R"({"a": {"b": [1 2]}})", "deep"}, Case{R"([{"k": -}])", "neg"},
        Case{R"({"a": 1,})", "tail"}, Case{"[1,]", "tail2"}}) {
    const std::string bad =
        R"({"id": 2, "name": "b", "image_url": "u", ")" + c.field + R"(": )" + c.field_value + "}";
    Loaded l =
        Load(good + "\n" + bad + "\n" + R"({"id": 3, "name": "c", "image_url": "u"})" + "\n", 1);
    ASSERT_TRUE(l.stats.ok()) << c.field_value << ": " << l.stats.status().ToString();
    ASSERT_EQ(l.bad.size(), 1u) << c.field_value;
    EXPECT_EQ(l.bad[0].rfind("f:2: field \"" + c.field + "\": malformed JSON", 0), 0u)
        << c.field_value << ": " << l.bad[0];
    EXPECT_EQ(l.store.size(), 2u) << c.field_value;
  }
  // In a JSON array the broken element ends the load, naming its index and field.
  Loaded array = LoadPath(Write(
      R"([{"id": 1, "name": "a", "image_url": "u"}, {"id": 2, "name": "b", "image_url": "u", "x": [1,,2]}])",
      "nested.json"));
  ASSERT_FALSE(array.stats.ok());
  EXPECT_NE(array.stats.status().message().find("[1]: field \"x\": malformed JSON"),
            std::string::npos)
      << array.stats.status().message();
}

// Whitespace before the first record is skipped whatever its length (here past the 4 MiB read
// chunk), and line numbers count its newlines.
TEST_F(UserLoaderTest, AnyAmountOfLeadingWhitespaceIsSkipped) {
  const std::string blanks = std::string(5 << 20, ' ') + std::string(3, '\n') +
                             std::string(4 << 20, '\t') + "\n";  // line 5 is the first record
  Loaded l = Load(blanks + R"({"id": 1, "name": "a", "image_url": "u"})" + "\n" +
                      R"({"id": 2, "image_url": "u"})" + "\n",
                  1);
  ASSERT_TRUE(l.stats.ok()) << l.stats.status().ToString();
  EXPECT_EQ(l.store.size(), 1u);
  ASSERT_EQ(l.bad.size(), 1u);
  EXPECT_EQ(l.bad[0], "f:6: field \"name\": missing field");
  Loaded array =
      LoadPath(Write(blanks + R"([{"id": 1, "name": "a", "image_url": "u"}])", "a.json"));
  ASSERT_TRUE(array.stats.ok()) << array.stats.status().ToString();
  EXPECT_EQ(array.store.size(), 1u);
  EXPECT_EQ(array.stats->format, InputFormat::kJsonArray);
  Loaded only = Load(std::string(9 << 20, '\n'));
  ASSERT_FALSE(only.stats.ok());
  EXPECT_NE(only.stats.status().message().find("only whitespace"), std::string::npos);
  Loaded text = Load(blanks + "name id\n");
  ASSERT_FALSE(text.stats.ok());
  EXPECT_NE(text.stats.status().message().find(":5: not JSON"), std::string::npos)
      << text.stats.status().message();
  Loaded csv = Load(blanks + "name,id,image_url\na,1,u\n");
  ASSERT_TRUE(csv.stats.ok()) << csv.stats.status().ToString();
  EXPECT_EQ(csv.store.size(), 1u);
  Loaded csv_bad = Load(blanks + "name,id\n");
  EXPECT_NE(csv_bad.stats.status().message().find(":5: CSV header has no column \"image_url\""),
            std::string::npos)
      << text.stats.status().message();
}

// A stop request ends a load that waits on a pipe sending nothing more, promptly and with code
// "interrupted"; the writer is still there (a watchdog closes it after 30 s, which only a load
// that ignores the request would wait for).
TEST_F(UserLoaderTest, AStopRequestEndsALoadWaitingOnAPipe) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ASSERT_EQ(::write(fds[1], kGood, sizeof(kGood) - 1), static_cast<ssize_t>(sizeof(kGood) - 1));
  std::mutex mutex;
  std::condition_variable loaded;
  bool finished = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mutex);
    loaded.wait_for(lock, std::chrono::seconds(30), [&] { return finished; });
    ::close(fds[1]);
  });
  const std::string path = "/dev/fd/" + std::to_string(fds[0]);
  Result<InputFile> input = InputFile::Open(path);
  ASSERT_TRUE(input.ok()) << input.status().ToString();
  std::atomic<int> asked{0};
  LoadOptions options;
  options.stop_requested = [&] { return ++asked > 3; };
  UserStore store;
  Result<LoadStats> stats = LoadUsers(input.value(), options, store);
  {
    std::lock_guard<std::mutex> lock(mutex);
    finished = true;
  }
  loaded.notify_all();
  watchdog.join();
  ::close(fds[0]);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), Code::kInterrupted) << stats.status().ToString();
  EXPECT_NE(stats.status().message().find("loading " + path + " was interrupted"),
            std::string::npos)
      << stats.status().message();
}

// Past LoadOptions::max_memory_bytes a load fails naming the limit and how it was derived:
// JSONL when the store would outgrow it, a JSON array when its parse would.
TEST_F(UserLoaderTest, ALoadOverTheMemoryLimitFailsNamingIt) {
  std::string lines, array = "[";
  for (int i = 0; i < 200000; ++i) {
    const std::string record = R"({"id": )" + std::to_string(i) +
                               R"(, "name": "user", "image_url": "http://a.example/)" +
                               std::to_string(i) + ".jpg\"}";
    lines += record + "\n";
    array += (i ? "," : "") + record;
  }
  array += "]";
  LoadOptions options;
  options.max_memory_bytes = 8 << 20;
  options.memory_limit_why = "as the test says";
  for (const std::string& path : {Write(lines), Write(array, "users.json")}) {
    Result<InputFile> input = InputFile::Open(path);
    ASSERT_TRUE(input.ok());
    UserStore store;
    Result<LoadStats> stats = LoadUsers(input.value(), options, store);
    ASSERT_FALSE(stats.ok()) << path;
    EXPECT_EQ(stats.status().code(), Code::kBadInput);
    EXPECT_NE(stats.status().message().find("more than loading may use (8 MiB, as the test says)"),
              std::string::npos)
        << stats.status().message();
  }
  options.max_memory_bytes = 1ull << 30;  // the same inputs fit in 1 GiB
  for (const std::string& path : {Write(lines, "b.jsonl"), Write(array, "b.json")}) {
    Result<InputFile> input = InputFile::Open(path);
    ASSERT_TRUE(input.ok());
    UserStore store;
    Result<LoadStats> stats = LoadUsers(input.value(), options, store);
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(store.size(), 200000u);
  }
}

}  // namespace
}  // namespace pixelmill
