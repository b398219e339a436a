#include "coordinator/input/csv_reader.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

struct Seen {
  uint64_t line;
  std::vector<std::string> fields;  // or {"!" + problem}
  bool operator==(const Seen&) const = default;
};

void PrintTo(const Seen& s, std::ostream* os) {
  *os << s.line << ":";
  for (const std::string& f : s.fields) *os << " [" << f << "]";
}

// Every record of `text`, handed over in spans of `step` bytes as a loader's chunks would be
// (a span ends where the last one stopped; the rest comes back with more bytes after it).
Seen SeenOf(const CsvRecord& r) {
  Seen s{r.line, {}};
  if (!r.problem.empty()) s.fields.push_back("!" + r.problem);
  for (std::string_view f : r.fields) s.fields.emplace_back(f);
  return s;
}

std::vector<Seen> ReadAll(const std::string& text, size_t step) {
  std::vector<Seen> seen;
  CsvReader reader;
  const auto on_record = [&](const CsvRecord& r) { seen.push_back(SeenOf(r)); };
  size_t start = 0;
  for (size_t have = std::min(step, text.size());; have = std::min(have + step, text.size())) {
    const bool final = have == text.size();
    start += reader.Read(text.data() + start, have - start, final, on_record);
    if (final) break;
  }
  return seen;
}

TEST(CsvReaderTest, QuotesCommasLineBreaksAndBlankLinesInAnySpans) {
  const std::string text =
      "id,name,url\r\n"
      "1,Ada,http://a/1\n"
      "\n"
      "\"2\",\"Chen, \"\"C\"\"\",\"http://a/2\"\r\n"
      "3,\"two\nlines\",u3\n"
      "4,,\n"
      "5,last,u5";  // no line break at the end
  const std::vector<Seen> want = {
      {1, {"id", "name", "url"}},
      {2, {"1", "Ada", "http://a/1"}},
      {4, {"2", "Chen, \"C\"", "http://a/2"}},
      {5, {"3", "two\nlines", "u3"}},
      {7, {"4", "", ""}},
      {8, {"5", "last", "u5"}},
  };
  for (size_t step : {1u, 2u, 3u, 7u, 64u, 4096u}) {
    EXPECT_EQ(ReadAll(text, step), want) << "spans of " << step;
  }
}

TEST(CsvReaderTest, MalformedRecordsAreNamedAndSkippedToTheirLineEnd) {
  const std::string text =
      "a,b\n"
      "1,x\"y\n"
      "2,\"q\"z,more\n"
      "3,ok\n"
      "4,\"never closed\nstill inside\n";
  for (size_t step : {1u, 5u, 4096u}) {
    const std::vector<Seen> seen = ReadAll(text, step);
    ASSERT_EQ(seen.size(), 5u) << "spans of " << step;
    EXPECT_EQ(seen[1].line, 2u);
    EXPECT_EQ(seen[1].fields[0], "!a quote inside an unquoted field (quote the whole field)");
    EXPECT_EQ(seen[2].line, 3u);
    EXPECT_EQ(seen[2].fields[0].substr(0, 25), "!text after a closing quo");
    EXPECT_EQ(seen[3], (Seen{4, {"3", "ok"}}));
    EXPECT_EQ(seen[4].line, 5u);
    EXPECT_EQ(seen[4].fields[0], "!a quote opened here is never closed (the input ends inside it)");
  }
}

// A record past the field limit is malformed, and reading it takes no more than the limit's
// worth of fields (a line of commas cannot grow the reader).
TEST(CsvReaderTest, MoreFieldsThanAllowedIsMalformed) {
  const std::string text = "a,b\n" + std::string(100000, ',') + "\n1,2\n1,2,3\n\"x\"\r,y\n";
  std::vector<Seen> seen;
  CsvReader reader;
  reader.set_max_fields(2);
  reader.Read(text.data(), text.size(), true,
              [&](const CsvRecord& r) { seen.push_back(SeenOf(r)); });
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0], (Seen{1, {"a", "b"}}));
  EXPECT_EQ(seen[1], (Seen{2, {"!more than 2 fields"}}));
  EXPECT_EQ(seen[2], (Seen{3, {"1", "2"}}));
  EXPECT_EQ(seen[3], (Seen{4, {"!more than 2 fields"}}));
  EXPECT_EQ(seen[4].fields[0].substr(0, 11), "!text after");  // a lone CR after a quote
}

}  // namespace
}  // namespace pixelmill
