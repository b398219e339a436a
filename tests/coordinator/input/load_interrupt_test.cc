// The coordinator binary while it loads users from a pipe it cannot finish reading: a stop
// signal ends the load promptly (exit 1, "interrupted by ..."), however slow or endless the
// input, and an endless input ends with a clear error naming the memory limit, not a crash.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/child_process.h"
#include "tests/support/programs.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;
using testing::ExitCode;
using testing::ReadFile;
using testing::TempDir;
using testing::WaitFor;

using testing::kCoordinatorBinary;
// Only detects a hang: a prompt stop takes well under a second.
constexpr double kHangSeconds = 30;

const std::string kRecord = R"({"id": 1, "name": "u", "image_url": "http://a.example/1.jpg"})";

// A pipe whose read end becomes the coordinator's stdin; the test keeps the write end open.
class Pipe {
 public:
  Pipe() { EXPECT_EQ(::pipe2(fds_, O_CLOEXEC), 0); }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe() {
    CloseReadEnd();
    if (fds_[1] >= 0) ::close(fds_[1]);
  }
  int read_end() const { return fds_[0]; }
  // Once the child has its copy: the reader is then the child alone.
  void CloseReadEnd() {
    if (fds_[0] >= 0) ::close(fds_[0]);
    fds_[0] = -1;
  }
  // False once the reader is gone (EPIPE; SIGPIPE must be ignored).
  bool Write(std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::write(fds_[1], text.data(), text.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      text.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

 private:
  int fds_[2] = {-1, -1};
};

// SIGPIPE ignored for the test's life: writing to a pipe whose reader exited fails instead.
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &saved_);
  }
  ~IgnoreSigpipe() { sigaction(SIGPIPE, &saved_, nullptr); }

 private:
  struct sigaction saved_ {};
};

class LoadInterruptTest : public ::testing::Test {
 protected:
  // A coordinator reading its users from `pipe` (stdin); with `address_space_kib`, under that
  // RLIMIT_AS (set by bash's ulimit before exec).
  std::unique_ptr<ChildProcess> Start(Pipe& pipe, uint64_t address_space_kib = 0) {
    std::vector<std::string> argv = {kCoordinatorBinary,      "--input",  "-",   "--output",
                                     (dir_ / "out").string(), "--filter", "none"};
    if (address_space_kib > 0) {
      argv.insert(argv.begin(),
                  {"/bin/bash", "-c",
                   "ulimit -v " + std::to_string(address_space_kib) + " && exec \"$@\"", "bash"});
    }
    auto child =
        std::make_unique<ChildProcess>(argv, dir_ / "stdout", dir_ / "stderr", pipe.read_end());
    pipe.CloseReadEnd();
    return child;
  }
  // Waits until the run has claimed its output folder: from then on it is loading.
  bool Loading() {
    return WaitFor([&] { return fs::exists(dir_ / "out" / ".lock"); }, kHangSeconds);
  }
  std::string Stderr() const { return ReadFile(dir_ / "stderr"); }

  TempDir dir_;
};

// SIGTERM, SIGHUP and SIGINT while stdin is open but sends nothing more: the load stops at
// once with exit 1 and says so (it used to wait for the writer forever).
TEST_F(LoadInterruptTest, ASignalStopsALoadWaitingOnASlowStdin) {
  for (auto [signum, name] :
       {std::pair{SIGTERM, "SIGTERM"}, std::pair{SIGHUP, "SIGHUP"}, std::pair{SIGINT, "SIGINT"}}) {
    fs::remove_all(dir_ / "out");
    Pipe pipe;
    ASSERT_TRUE(pipe.Write(kRecord + "\n"));
    auto run = Start(pipe);
    ASSERT_TRUE(Loading()) << Stderr();
    ASSERT_EQ(::kill(run->pid(), signum), 0);
    const int status = run->Wait(kHangSeconds);
    ASSERT_NE(status, -1) << name << ": still loading after " << kHangSeconds << " s";
    EXPECT_EQ(ExitCode(status), 1) << name << ": " << Stderr();
    EXPECT_NE(Stderr().find(std::string("interrupted by ") + name +
                            ": loading <stdin> was "
                            "interrupted"),
              std::string::npos)
        << Stderr();
  }
}

// Two SIGINTs in a row (an impatient Ctrl-C Ctrl-C) during a slow load end it at once.
TEST_F(LoadInterruptTest, ASecondSigintDuringASlowLoadStopsAtOnce) {
  Pipe pipe;
  ASSERT_TRUE(pipe.Write(kRecord + "\n"));
  auto run = Start(pipe);
  ASSERT_TRUE(Loading()) << Stderr();
  ASSERT_EQ(::kill(run->pid(), SIGINT), 0);
  ASSERT_EQ(::kill(run->pid(), SIGINT), 0);
  const int status = run->Wait(kHangSeconds);
  ASSERT_NE(status, -1) << "still loading after " << kHangSeconds << " s";
  EXPECT_EQ(ExitCode(status), 1) << Stderr();
  EXPECT_NE(Stderr().find("interrupted by SIGINT"), std::string::npos) << Stderr();
}

// An endless JSON array on stdin, under a 1 GiB address space: the load gives up before memory
// runs out, with exit 1 and a message naming the limit (it used to grow until allocation
// failed, or on a big machine for minutes and gigabytes).
TEST_F(LoadInterruptTest, AnEndlessArrayEndsWithTheMemoryLimitNamed) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer cannot start under an address-space limit (its shadow "
                  "memory alone is terabytes of address space)";
#endif
  IgnoreSigpipe ignore_sigpipe;
  Pipe pipe;
  ASSERT_TRUE(pipe.Write("["));
  auto run = Start(pipe, 1 << 20);
  std::string block;
  for (int i = 0; i < 10000; ++i) block += kRecord + ",\n";
  std::atomic<bool> done{false};
  std::thread writer([&] {
    constexpr uint64_t kMaxBytes = 8ull << 30;  // far past any limit the test expects
    for (uint64_t sent = 0; !done && sent < kMaxBytes && pipe.Write(block); sent += block.size()) {
    }
  });
  const int status = run->Wait(kHangSeconds);
  done = true;
  if (status == -1) run->Stop(1);  // ends the writer too (EPIPE)
  writer.join();
  ASSERT_NE(status, -1) << "still loading after " << kHangSeconds << " s";
  EXPECT_EQ(ExitCode(status), 1) << Stderr();
  EXPECT_NE(Stderr().find("more than loading may use"), std::string::npos) << Stderr();
  EXPECT_NE(Stderr().find("RLIMIT_AS"), std::string::npos) << Stderr();
}

}  // namespace
}  // namespace pixelmill
