// Inputs as real exports come, end to end against the image-api fixture: a CSV file with a
// header row and a JSONL file whose id and URL sit in nested objects, mapped with --id-field,
// --name-field and --url-field; a resume with other fields is refused, naming them.
#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

using testing::ExitCode;
using testing::JsonAt;
using testing::ReadFile;

class MappedInputRunTest : public testing::CoordinatorRun {
 protected:
  // Runs on users.jsonl, whatever it holds (the format is found from the content).
  int Run(std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"--filter", "none"});
    return ExitCode(Start(flags)->Wait(120));
  }
  // "id status output" of each manifest line, in order.
  std::vector<std::string> Lines() const {
    std::vector<std::string> out;
    std::istringstream in(ReadFile(dir_ / "out" / "manifest.jsonl"));
    for (std::string line; std::getline(in, line);) {
      out.push_back(JsonAt(line, "/id") + " " + JsonAt(line, "/status") + " " +
                    JsonAt(line, "/output"));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_F(MappedInputRunTest, ACsvExportWithItsOwnColumnNames) {
  dir_.Write("users.jsonl",
             "user_id,display_name,avatar,plan\r\n"
             "1,Ada,\"" +
                 api_.Url("/img/1.jpg") +
                 "\",free\r\n"
                 "3f2b8c1e-9d4a,\"Chen, \"\"C\"\"\"," +
                 api_.Url("/img/2.png") +
                 ",pro\r\n"
                 "7,\"two\nlines\"," +
                 api_.Url("/img/3.jpg?status=404") + ",free\r\n");
  ASSERT_EQ(Run({"--id-field", "user_id", "--name-field", "display_name", "--url-field", "avatar",
                 "--retries", "0"}),
            3)  // one user failed (404)
      << Stderr();
  EXPECT_EQ(Lines(), (std::vector<std::string>{"1 ok images/1.jpg",
                                               "3f2b8c1e-9d4a ok images/3f2b8c1e-9d4a.png",
                                               "7 failed <no /output>"}));
  EXPECT_EQ(JsonAt(Report(), "/options/id_field"), "user_id");
}

TEST_F(MappedInputRunTest, NestedFieldsAndAResumeWithOtherFieldsIsRefused) {
  std::string text;
  for (int i = 0; i < 4; ++i) {
    text += R"({"account": {"uuid": "acct-)" + std::to_string(i) +
            R"(", "profile": {"avatar": {"url": ")" +
            api_.Url("/img/" + std::to_string(i) + ".jpg") +
            R"("}, "bio": "x"}}, "plan": {"tier": [1, 2]}})" + "\n";
  }
  dir_.Write("users.jsonl", text);
  const std::vector<std::string> fields = {"--id-field",   "account.uuid",
                                           "--name-field", "",
                                           "--url-field",  "account.profile.avatar.url"};
  ASSERT_EQ(Run(fields), 0) << Stderr();
  EXPECT_EQ(Lines(), (std::vector<std::string>{
                         "acct-0 ok images/acct-0.jpg", "acct-1 ok images/acct-1.jpg",
                         "acct-2 ok images/acct-2.jpg", "acct-3 ok images/acct-3.jpg"}));
  // The same file read with other fields names other users: --resume refuses it.
  EXPECT_EQ(Run({"--resume", "--id-field", "account.profile.avatar.url", "--name-field", "",
                 "--url-field", "account.uuid"}),
            1)
      << Stderr();
  EXPECT_NE(Stderr().find("--id-field changed: account.uuid -> account.profile.avatar.url"),
            std::string::npos)
      << Stderr();
}

}  // namespace
}  // namespace pixelmill
