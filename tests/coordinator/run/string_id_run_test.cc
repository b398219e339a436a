// String ids end to end: the real coordinator, its workers and the image-api fixture, with users
// whose ids are UUIDs, unicode and path-like strings. Each gets one manifest line with its id as
// the input wrote it, and an image named by its escaped stem inside images/, never a path the id
// spells; a resume finds every user done by its string id.
#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ExitCode;
using testing::JsonAt;
using testing::ReadFile;

// Each id as JSON (the input's spelling), its text and the file stem it must get.
struct IdCase {
  std::string json;
  std::string text;
  std::string stem;
  bool is_string() const { return json[0] == '"'; }
};

const std::vector<IdCase> kIds = {
    {R"("3f2b8c1e-9d4a-4e7b-8a21-5c6d7e8f9a0b")", "3f2b8c1e-9d4a-4e7b-8a21-5c6d7e8f9a0b",
     "3f2b8c1e-9d4a-4e7b-8a21-5c6d7e8f9a0b"},
    {R"("../../escaped")", "../../escaped", "%2E.%2F..%2Fescaped"},
    {R"("a/b c")", "a/b c", "a%2Fb%20c"},
    {R"("us\u00e9r")", "us\xc3\xa9r", "us%C3%A9r"},
    {R"("100%")", "100%", "100%25"},
    {"7", "7", "7"},
    {R"("042")", "042", "042"},
};

class StringIdRunTest : public testing::CoordinatorRun {
 protected:
  void WriteUsers() {
    std::string text;
    for (size_t i = 0; i < kIds.size(); ++i) {
      text += R"({"id": )" + kIds[i].json + R"(, "name": "u", "image_url": ")" +
              api_.Url("/img/" + std::to_string(i) + ".jpg") + "\"}\n";
    }
    dir_.Write("users.jsonl", text);
  }
  // Manifest lines by their id's text.
  std::map<std::string, std::string> LinesById() const {
    std::map<std::string, std::string> lines;
    std::istringstream in(ReadFile(dir_ / "out" / "manifest.jsonl"));
    for (std::string line; std::getline(in, line);) {
      const std::string id = JsonAt(line, "/id");
      EXPECT_TRUE(lines.emplace(id, line).second) << "a second line for " << id;
    }
    return lines;
  }
};

TEST_F(StringIdRunTest, EveryIdGetsItsLineAndASafelyNamedImage) {
  WriteUsers();
  ASSERT_EQ(ExitCode(Start({"--filter", "grayscale", "--workers", "1"})->Wait(120)), 0) << Stderr();
  const std::map<std::string, std::string> lines = LinesById();
  ASSERT_EQ(lines.size(), kIds.size());
  for (const IdCase& id : kIds) {
    ASSERT_EQ(lines.count(id.text), 1u) << id.json;
    const std::string& line = lines.at(id.text);
    EXPECT_EQ(JsonAt(line, "/status"), "ok") << line;
    // A string id stays a string, an integer an integer.
    EXPECT_EQ(line.rfind(id.is_string() ? "{\"id\":\"" : "{\"id\":" + id.text + ",", 0), 0u)
        << line;
    const std::string output = JsonAt(line, "/output");
    EXPECT_EQ(output.substr(0, output.rfind('.')), "images/" + id.stem) << line;
    EXPECT_TRUE(fs::is_regular_file(dir_ / "out" / output)) << output;
  }
  // Nothing but the images' own files under images/, nothing the ids spell outside it.
  size_t images = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "out" / "images")) {
    EXPECT_TRUE(entry.is_regular_file()) << entry.path();
    ++images;
  }
  EXPECT_EQ(images, kIds.size());
  EXPECT_FALSE(fs::exists(dir_ / "escaped"));
  EXPECT_FALSE(fs::exists(dir_.path().parent_path() / "escaped"));

  // A resume finds each user done by its string id: nothing is redone.
  EXPECT_EQ(ExitCode(Start({"--filter", "grayscale", "--workers", "1", "--resume"})->Wait(120)), 0)
      << Stderr();
  EXPECT_NE(Stderr().find("nothing to resume: every user already has its line"), std::string::npos)
      << Stderr();
  EXPECT_EQ(LinesById().size(), kIds.size());
}

// The string "7" and the integer 7 are one user: the second is a duplicate, named in the
// rejects, and the run goes on with the first.
TEST_F(StringIdRunTest, AStringThatSpellsAnIntegerIsThatInteger) {
  dir_.Write("users.jsonl", R"({"id": 7, "name": "u", "image_url": ")" + api_.Url("/img/1.jpg") +
                                "\"}\n" + R"({"id": "7", "name": "u", "image_url": ")" +
                                api_.Url("/img/2.jpg") + "\"}\n");
  ASSERT_EQ(ExitCode(Start({"--filter", "none", "--max-bad-records", "1"})->Wait(120)), 0)
      << Stderr();
  EXPECT_EQ(LinesById().size(), 1u);
  EXPECT_NE(ReadFile(dir_ / "out" / "rejects.jsonl").find("duplicate id 7 (first seen at line 1)"),
            std::string::npos);
}

}  // namespace
}  // namespace pixelmill
