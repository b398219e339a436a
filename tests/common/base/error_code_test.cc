// The code table: names round-trip, the manifest codes are the ones README.md documents (one
// row each, with the table's text), and Status keeps code and retryable bit as it is annotated.
#include "common/base/error_code.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace pixelmill {
namespace {

TEST(ErrorCodeTest, EveryCodeHasOneNameThatReadsBack) {
  std::set<std::string_view> names;
  for (int i = 0; i < kCodeCount; ++i) {
    const Code code = static_cast<Code>(i);
    const std::string_view name = CodeName(code);
    EXPECT_FALSE(name.empty()) << i;
    EXPECT_TRUE(names.insert(name).second) << "two codes are named " << name;
    EXPECT_EQ(CodeFromName(name), code) << name;
  }
  EXPECT_EQ(CodeName(Code::kOk), "ok");
  EXPECT_EQ(CodeName(Code::kHttpStatus), "http_status");
  EXPECT_FALSE(CodeFromName("").has_value());
  EXPECT_FALSE(CodeFromName("no_such_code").has_value());
  EXPECT_FALSE(CodeFromName("HTTP_STATUS").has_value());
}

TEST(ErrorCodeTest, ManifestCodesAreTheTableAndNoInternalOne) {
  std::set<Code> in_table;
  for (const ManifestCodeInfo& info : ManifestCodes()) {
    EXPECT_TRUE(in_table.insert(info.code).second) << info.name;
    EXPECT_EQ(CodeName(info.code), info.name);
    EXPECT_FALSE(info.meaning.empty()) << info.name;
    EXPECT_FALSE(info.action.empty()) << info.name;
  }
  for (int i = 0; i < kCodeCount; ++i) {
    const Code code = static_cast<Code>(i);
    EXPECT_EQ(IsManifestCode(code), in_table.count(code) == 1) << code;
  }
  EXPECT_FALSE(IsManifestCode(Code::kOk));
  EXPECT_FALSE(IsManifestCode(Code::kFull));  // stops the run, never a user's line
  EXPECT_FALSE(IsManifestCode(Code::kIo));
  EXPECT_TRUE(IsManifestCode(Code::kFilter));
}

// The rows of README.md's table under "A user failed: its error code": cells of each row.
std::vector<std::vector<std::string>> ReadmeCodeRows() {
  std::ifstream in(PIXELMILL_README);
  EXPECT_TRUE(in) << PIXELMILL_README;
  std::vector<std::vector<std::string>> rows;
  std::string line;
  bool in_section = false, in_table = false;
  while (std::getline(in, line)) {
    if (line.rfind("### ", 0) == 0 || line.rfind("## ", 0) == 0) {
      in_section = line == "### A user failed: its error code";
      continue;
    }
    if (!in_section) continue;
    if (line == "| code | what happened | what to do |") {
      in_table = true;
      continue;
    }
    if (!in_table || line == "| --- | --- | --- |") continue;
    if (line.rfind("| ", 0) != 0) break;  // the table ended
    EXPECT_EQ(line.substr(line.size() - 2), " |") << line;
    std::vector<std::string> cells;
    const std::string inner = line.substr(2, line.size() - 4);
    size_t start = 0;
    for (size_t bar; (bar = inner.find(" | ", start)) != std::string::npos; start = bar + 3) {
      cells.push_back(inner.substr(start, bar - start));
    }
    cells.push_back(inner.substr(start));
    rows.push_back(std::move(cells));
  }
  return rows;
}

TEST(ErrorCodeTest, ReadmeTroubleshootingTableIsTheManifestCodeTable) {
  const std::vector<std::vector<std::string>> rows = ReadmeCodeRows();
  ASSERT_FALSE(rows.empty()) << "no code table in " << PIXELMILL_README;
  std::map<std::string, std::vector<std::string>> by_name;
  for (const std::vector<std::string>& row : rows) {
    ASSERT_EQ(row.size(), 3u) << "a row is not code | what happened | what to do: " << row[0];
    const std::string& first = row[0];
    // One code a row, in backticks: `name`.
    ASSERT_TRUE(first.size() > 2 && first.front() == '`' && first.back() == '`' &&
                first.find('`', 1) == first.size() - 1)
        << "not one code: " << first;
    const std::string name = first.substr(1, first.size() - 2);
    const std::optional<Code> code = CodeFromName(name);
    EXPECT_TRUE(code && IsManifestCode(*code))
        << "README lists " << name << ", which is not a manifest code";
    EXPECT_TRUE(by_name.emplace(name, row).second) << "README lists " << name << " twice";
  }
  for (const ManifestCodeInfo& info : ManifestCodes()) {
    auto it = by_name.find(std::string(info.name));
    if (it == by_name.end()) {
      ADD_FAILURE() << "README has no row for the manifest code " << info.name;
      continue;
    }
    EXPECT_EQ(it->second[1], info.meaning) << info.name;
    EXPECT_EQ(it->second[2], info.action) << info.name;
  }
  EXPECT_EQ(by_name.size(), ManifestCodes().size());
}

TEST(StatusTest, CarriesCodeMessageAndRetryableBit) {
  EXPECT_TRUE(Status().ok());
  EXPECT_EQ(Status::Ok().code(), Code::kOk);
  EXPECT_EQ(Status().ToString(), "ok");
  const Status final_failure = Status::Error(Code::kHttpStatus, "HTTP 404");
  EXPECT_FALSE(final_failure.ok());
  EXPECT_FALSE(final_failure.retryable());
  EXPECT_EQ(final_failure.ToString(), "http_status: HTTP 404");
  const Status transient = Status::Retryable(Code::kConnect, "could not connect");
  EXPECT_TRUE(transient.retryable());
  EXPECT_EQ(transient.code(), Code::kConnect);
}

TEST(StatusTest, AnnotatingKeepsCodeAndRetryableBit) {
  const Status s = Status::Retryable(Code::kTimeout, "timed out");
  const Status more = s.WithPrefix("download: ").WithSuffix(" after 3 attempts");
  EXPECT_EQ(more.code(), Code::kTimeout);
  EXPECT_TRUE(more.retryable());
  EXPECT_EQ(more.message(), "download: timed out after 3 attempts");
  EXPECT_EQ(s.message(), "timed out");  // the original is unchanged
}

}  // namespace
}  // namespace pixelmill
