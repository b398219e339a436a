// The coordinator and worker binaries as a user runs them: flags, exit codes, messages.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/cli/nearest_flag.h"
#include "tests/support/programs.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;

struct Ran {
  int code = -1;
  std::string out, err;
};

class CliTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    return dir_.Write(name, text);
  }
  static std::string Read(const fs::path& path) { return testing::ReadFile(path); }
  // Runs a shell command line with stdout and stderr captured.
  Ran Sh(const std::string& command) {
    const fs::path out = dir_ / "stdout", err = dir_ / "stderr";
    const std::string line = "timeout 60 " + command + " >" + out.string() + " 2>" + err.string();
    const int status = std::system(line.c_str());
    Ran r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = Read(out);
    r.err = Read(err);
    return r;
  }

  testing::TempDir dir_;
};

using testing::kCoordinatorBinary;
const std::string kOneUser = R"({"name": "Alice", "id": 1, "image_url": "http://a.example/1.jpg"})"
                             "\n"
                             R"({"name": "Bob", "id": 2, "image_url": "http://a.example/2.jpg"})"
                             "\n";

TEST_F(CliTest, VersionAndHelp) {
  Ran v = Sh(kCoordinatorBinary + " --version");
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.out.find("0.1.0"), std::string::npos);
  Ran h = Sh(kCoordinatorBinary + " --help");
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.out.find("--max-bad-records"), std::string::npos);
  Ran w = Sh(std::string(PIXELMILL_WORKER) + " --help");
  EXPECT_EQ(w.code, 0);
  EXPECT_NE(w.out.find("--connect"), std::string::npos);
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Sh(kCoordinatorBinary).code, 2);
  EXPECT_EQ(Sh(kCoordinatorBinary + " --input x --bogus").code, 2);
  EXPECT_EQ(Sh(kCoordinatorBinary + " --input x --max-bad-records -3 --dry-run").code, 2);
  Ran no_output = Sh(kCoordinatorBinary + " --input " + Write("u.jsonl", kOneUser));
  EXPECT_EQ(no_output.code, 2);
  EXPECT_NE(no_output.err.find("--output is required"), std::string::npos);
}

// A value outside a flag's range, a negative count included (--worker-memory-mb -1 used to
// wrap around to a huge cap), is refused at start-up in the option table's words; --workers 0
// without --bind is refused when workers would run, and fine when none does.
TEST_F(CliTest, OutOfRangeValuesAndNegativeCountsAreUsageErrors) {
  const std::string run =
      kCoordinatorBinary + " --input " + Write("u.jsonl", kOneUser) + " --dry-run";
  for (const auto& [flags, says] : std::vector<std::pair<std::string, std::string>>{
           {"--heartbeat-ms 10", "coordinator: error: --heartbeat-ms: 10 is not 50..60000\n"},
           {"--worker-memory-mb -1",
            "coordinator: error: --worker-memory-mb: -1 is not 0 or >= 256"},
           {"--retries -2", "coordinator: error: --retries: -2 is not 0..100"},
       }) {
    Ran r = Sh(run + " " + flags);
    EXPECT_EQ(r.code, 2) << flags;
    EXPECT_EQ(r.err.rfind(says, 0), 0u) << flags << ": " << r.err;
  }
  const std::string users = Write("v.jsonl", kOneUser);
  Ran remote = Sh(kCoordinatorBinary + " --input " + users + " --output " + (dir_ / "o").string() +
                  " --filter blur:1 --workers 0");
  EXPECT_EQ(remote.code, 2);
  EXPECT_NE(remote.err.find("--workers 0 needs --bind"), std::string::npos) << remote.err;
  EXPECT_EQ(Sh(kCoordinatorBinary + " --input " + users + " --workers 0 --dry-run").code, 0);
}

// A bad filter spec is a usage error at start-up naming the bad part, never a per-user failure;
// --help lists every filter with its range.
TEST_F(CliTest, BadFilterSpecsExitTwoNamingTheBadPart) {
  const std::string users = Write("u.jsonl", kOneUser);
  const std::string run =
      kCoordinatorBinary + " --input " + users + " --output " + (dir_ / "o").string();
  struct Case {
    const char* spec;
    const char* says;
  };
  for (const Case& c :
       {Case{"blur:5,nope", "unknown filter 'nope'"}, Case{"blur", "needs its SIGMA"},
        Case{"blur:500", "outside 0.1..100"}, Case{"thumbnail:256,,sharpen:1", "empty step"},
        Case{"blur:5,sleep:10", "cannot be part of a chain"}}) {
    Ran r = Sh(run + " --filter " + c.spec);
    EXPECT_EQ(r.code, 2) << c.spec;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.spec << ": " << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "o" / "manifest.jsonl")) << "a user was processed";
  }
  EXPECT_EQ(Sh(run + " --filter blur --intensity 500").code, 2);
  // NaN passed the range check: every image was downloaded, then every user failed.
  for (const char* intensity : {"nan", "inf"}) {
    Ran r = Sh(run + " --filter blur --intensity " + intensity);
    EXPECT_EQ(r.code, 2) << intensity;
    EXPECT_NE(r.err.find("--intensity"), std::string::npos) << r.err;
  }
  std::string chain = "invert";
  for (int i = 1; i < 33; ++i) chain += ",invert";
  Ran too_long = Sh(run + " --filter " + chain);
  EXPECT_EQ(too_long.code, 2);
  EXPECT_NE(too_long.err.find("over the limit of 32 steps"), std::string::npos) << too_long.err;
  EXPECT_FALSE(fs::exists(dir_ / "o" / "manifest.jsonl")) << "a user was processed";
  EXPECT_EQ(Sh(run + " --filter blur:2 --format gif").code, 2);
  Ran help = Sh(kCoordinatorBinary + " --help");
  for (const char* line : {"blur:SIGMA", "0.1..100", "pixelate:BLOCK", "thumbnail:SIZE", "sepia",
                           "at most 32 steps"}) {
    EXPECT_NE(help.out.find(line), std::string::npos) << line;
  }
}

TEST_F(CliTest, MaxMemoryTakesBytesOrBinarySuffixesAndRefusesTheRest) {
  const std::string run =
      kCoordinatorBinary + " --input " + Write("u.jsonl", kOneUser) + " --dry-run";
  for (const char* good : {"1048576", "512M", "2G", "64k", "1.5G", "0.25M"}) {
    Ran r = Sh(run + " --max-memory " + good);
    EXPECT_EQ(r.code, 0) << good << ": " << r.err;
  }
  for (const char* bad :
       {"0", "0.0G", "lots", "12MB", "-1", "-1.5G", "1.G", "99999999999G", "''"}) {
    Ran r = Sh(run + " --max-memory " + bad);
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.err.find("--max-memory"), std::string::npos) << bad << ": " << r.err;
  }
}

// An unknown flag was "not expected: 2 --wokers" with no hint: now the nearest flag is named.
TEST_F(CliTest, AnUnknownFlagNamesTheNearestOne) {
  const std::string run =
      kCoordinatorBinary + " --input " + Write("u.jsonl", kOneUser) + " --dry-run";
  Ran r = Sh(run + " --wokers 2");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("coordinator: error: unknown flag --wokers (did you mean --workers?)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("unexpected argument '2'"), std::string::npos) << r.err;
  Ran eq = Sh(run + " --max-memroy=1G");
  EXPECT_EQ(eq.code, 2);
  EXPECT_NE(eq.err.find("did you mean --max-memory?"), std::string::npos) << eq.err;
  Ran far = Sh(run + " --zzzzzzzz");
  EXPECT_EQ(far.code, 2);
  EXPECT_NE(far.err.find("unknown flag --zzzzzzzz"), std::string::npos) << far.err;
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << far.err;
}

TEST(NearestFlagTest, EditDistanceAndTheCutOff) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("same", "same"), 0u);
  const std::vector<std::string> known = {"--workers", "--format", "--filter", "--quiet"};
  EXPECT_EQ(NearestFlag("--wokers", known), "--workers");
  EXPECT_EQ(NearestFlag("--fromat=png", known), "--format");
  EXPECT_EQ(NearestFlag("--filtre", known), "--filter");
  EXPECT_EQ(NearestFlag("--verbose", known), "");
}

// Every message of the coordinator starts "coordinator: ", errors "coordinator: error: ".
TEST_F(CliTest, MessagesShareOnePrefixScheme) {
  Ran usage = Sh(kCoordinatorBinary + " --input " + Write("u.jsonl", kOneUser));
  EXPECT_EQ(usage.err.rfind("coordinator: error: ", 0), 0u) << usage.err;
  Ran missing = Sh(kCoordinatorBinary + " --input " + (dir_ / "missing").string() + " --dry-run");
  EXPECT_EQ(missing.err.rfind("coordinator: error: ", 0), 0u) << missing.err;
  Ran parse = Sh(kCoordinatorBinary + " --input x --workers lots");
  EXPECT_EQ(parse.code, 2);
  EXPECT_EQ(parse.err.rfind("coordinator: error: ", 0), 0u) << parse.err;
  const std::string path = Write("bad.jsonl", kOneUser + "{\"id\": 3}\n");
  Ran skipped = Sh(kCoordinatorBinary + " --input " + path + " --dry-run --max-bad-records 1");
  EXPECT_NE(skipped.err.find("coordinator: warning: skipping"), std::string::npos) << skipped.err;
}

// --bind with --filter none was ignored: no worker runs, so a remote one would never help.
TEST_F(CliTest, BindWithoutAFilterIsAUsageError) {
  const std::string run = kCoordinatorBinary + " --input " + Write("u.jsonl", kOneUser) +
                          " --output " + (dir_ / "o").string() + " --bind tcp://127.0.0.1:0";
  for (const char* flags : {"", " --filter none", " --filter blur:2 --sequential"}) {
    Ran r = Sh(run + flags);
    EXPECT_EQ(r.code, 2) << flags << ": " << r.err;
    EXPECT_NE(r.err.find("runs no worker: drop --bind"), std::string::npos) << flags << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "o" / "manifest.jsonl"));
  }
}

// scripts/gen_users.py --help crashed with a traceback (int("--help")).
TEST_F(CliTest, GenUsersHasHelpAndRefusesBadCounts) {
  const std::string script = PIXELMILL_SOURCE_DIR "/scripts/gen_users.py";
  Ran help = Sh("python3 " + script + " --help");
  EXPECT_EQ(help.code, 0) << help.err;
  EXPECT_NE(help.out.find("usage: gen_users.py"), std::string::npos) << help.out;
  EXPECT_EQ(help.err.find("Traceback"), std::string::npos) << help.err;
  Ran bad = Sh("python3 " + script + " lots");
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(bad.err.find("Traceback"), std::string::npos) << bad.err;
  Ran two = Sh("python3 " + script + " 2 http://h/img");
  EXPECT_EQ(two.code, 0) << two.err;
  EXPECT_EQ(two.out, R"({"name": "user0", "id": 0, "image_url": "http://h/img/0.jpg"})"
                     "\n"
                     R"({"name": "user1", "id": 1, "image_url": "http://h/img/1.jpg"})"
                     "\n");
}

TEST_F(CliTest, DryRunPrintsTheSummary) {
  Ran r = Sh(kCoordinatorBinary + " --input " + Write("u.jsonl", kOneUser) + " --dry-run");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("users loaded:      2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bad records:       0"), std::string::npos);
  EXPECT_NE(r.out.find("store bytes/user:"), std::string::npos);
  EXPECT_NE(r.out.find("MB/s"), std::string::npos);
}

TEST_F(CliTest, DryRunReadsStdin) {
  Write("u.jsonl", kOneUser);
  Ran r = Sh("cat " + (dir_ / "u.jsonl").string() + " | " + kCoordinatorBinary +
             " --input - --dry-run");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("users loaded:      2"), std::string::npos) << r.out;
}

TEST_F(CliTest, BadRecordAbortsWithExitOneAndTheLocation) {
  const std::string path =
      Write("bad.jsonl", kOneUser + R"({"id": 2.5, "name": "c", "image_url": "u"})"
                                    "\n");
  Ran r = Sh(kCoordinatorBinary + " --input " + path + " --dry-run");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(path + ":3: field \"id\": expected an integer or a string, got 2.5"),
            std::string::npos)
      << r.err;
}

TEST_F(CliTest, ToleratedBadRecordsGoToRejects) {
  const std::string path = Write("bad.jsonl", kOneUser + "{\"id\": 3}\n");
  const fs::path out = dir_ / "out";
  Ran r = Sh(kCoordinatorBinary + " --input " + path + " --dry-run --max-bad-records 1 --output " +
             out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("bad records:       1"), std::string::npos);
  EXPECT_NE(r.err.find("skipping"), std::string::npos);
  const std::string rejects = Read(out / "rejects.jsonl");
  EXPECT_EQ(rejects, R"({"line":3,"field":"name","error":"missing field","record":"{\"id\": 3}"})"
                     "\n");
}

TEST_F(CliTest, UnusableInputsExitOne) {
  EXPECT_EQ(Sh(kCoordinatorBinary + " --input " + dir_.path().string() + " --dry-run").code, 1);
  EXPECT_EQ(Sh(kCoordinatorBinary + " --input " + (dir_ / "missing").string() + " --dry-run").code,
            1);
  EXPECT_EQ(Sh(kCoordinatorBinary + " --input " + Write("e.jsonl", "") + " --dry-run").code, 1);
  Ran r = Sh(kCoordinatorBinary + " --input /dev/null --dry-run");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("empty file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pixelmill
