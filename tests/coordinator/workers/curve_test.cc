// Remote workers over CurveZMQ: keys made by the real pixelmill-keygen, a coordinator with
// --curve-secret and --allow-workers, real workers over tcp on loopback. An admitted worker
// does the run's work and is named by its key; an unlisted key, a wrong server key and a
// plain-TCP peer are refused at the handshake, get no job, and are logged once each.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/wire/curve_keys.h"
#include "tests/support/child_process.h"
#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"
#include "tests/support/programs.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;
using testing::ExitCode;
using testing::JsonAt;
using testing::JsonInt;
using testing::ReadFile;

size_t Count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

class CurveTest : public testing::CoordinatorRun {
 protected:
  void SetUp() override {
    CoordinatorRun::SetUp();
    fs::create_directory(keys_);
    fs::create_directory(allowed_);
    for (const char* name : {"coordinator", "good", "unlisted"}) Keygen(keys_, name);
    fs::copy_file(keys_ / "good.key", allowed_ / "good.key");
  }

  void Keygen(const fs::path& dir, const std::string& name) {
    ChildProcess keygen({testing::kKeygenBinary, "--dir", dir.string(), name}, dir_ / "keygen.out",
                        dir_ / "keygen.err");
    ASSERT_EQ(ExitCode(keygen.Wait(20)), 0) << ReadFile(dir_ / "keygen.err");
  }

  std::vector<std::string> CurveFlags() const {
    return {"--curve-secret", (keys_ / "coordinator.key_secret").string(), "--allow-workers",
            allowed_.string()};
  }

  // A coordinator with `flags`, no local workers, and --bind on loopback with CurveZMQ.
  std::unique_ptr<ChildProcess> StartCurve(std::vector<std::string> flags) {
    flags.insert(flags.end(), {"--workers", "0", "--bind", "tcp://127.0.0.1:*"});
    for (const std::string& f : CurveFlags()) flags.push_back(f);
    return Start(flags);
  }

  // A worker with the keys of `name` (none: plain TCP) and the given server certificate.
  std::unique_ptr<ChildProcess> Worker(const std::string& endpoint, const std::string& name,
                                       const std::string& server = "coordinator") {
    std::vector<std::string> flags;
    if (!name.empty()) {
      flags = {"--curve-secret", (keys_ / (name + ".key_secret")).string(), "--server-key",
               (keys_ / (server + ".key")).string()};
    }
    return StartWorker(endpoint, name.empty() ? "plain" : name + "-" + server, flags);
  }

  std::string PublicKey(const std::string& name) const {
    Result<std::string> key = ReadPublicCertificate(keys_ / (name + ".key"));
    EXPECT_TRUE(key.ok());
    return key.ok() ? key.value() : "";
  }

  fs::path keys_ = dir_ / "keys";
  fs::path allowed_ = dir_ / "allowed";
};

TEST_F(CurveTest, AnAdmittedWorkerDoesTheRunAndIsNamedByItsKey) {
  Users(30);
  auto run = StartCurve({"--filter", "blur:1"});
  const std::string endpoint = RemoteEndpoint();
  ASSERT_FALSE(endpoint.empty()) << Stderr();
  EXPECT_NE(Stderr().find("CurveZMQ"), std::string::npos) << Stderr();
  auto worker = Worker(endpoint, "good");
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr() << ReadFile(dir_ / "good-coordinator.err");
  const std::string marker = "key:" + KeyFingerprint(PublicKey("good"));
  std::map<int64_t, std::string> lines = Manifest();
  ASSERT_EQ(lines.size(), 30u);
  for (auto& [id, line] : lines) {
    EXPECT_EQ(JsonAt(line, "/status"), "ok") << line;
    EXPECT_NE(JsonAt(line, "/worker").find(marker), std::string::npos) << line;
  }
  EXPECT_EQ(ExitCode(worker->Wait(10)), 0);
  EXPECT_EQ(JsonAt(Report(), "/options/worker_security"), "curve") << Report();
}

// None of the three may join: the run has no worker, waits --remote-wait, and every user fails
// with no_workers; each refusal is logged once however often the peer retries.
TEST_F(CurveTest, UnlistedKeysWrongServerKeysAndPlainPeersAreRefused) {
  Users(5);
  auto run = StartCurve({"--filter", "blur:1", "--remote-wait", "6"});
  const std::string endpoint = RemoteEndpoint();
  ASSERT_FALSE(endpoint.empty()) << Stderr();
  auto unlisted = Worker(endpoint, "unlisted");
  auto wrong_server = Worker(endpoint, "good", "unlisted");  // expects another coordinator
  auto plain = Worker(endpoint, "");
  ASSERT_EQ(ExitCode(run->Wait(60)), 3) << Stderr();
  std::map<int64_t, std::string> lines = Manifest();
  ASSERT_EQ(lines.size(), 5u);
  for (auto& [id, line] : lines) EXPECT_EQ(JsonAt(line, "/error/code"), "no_workers") << line;
  const std::string err = Stderr();
  EXPECT_EQ(Count(err, "refused a worker from 127.0.0.1 with key " +
                           KeyFingerprint(PublicKey("unlisted"))),
            1u)
      << err;
  // A plain peer fails at the greeting (mechanism mismatch) and a client with the wrong server
  // key at its HELLO, both before ZAP: seen on the socket's monitor and logged once for their
  // address though they retry; the coordinator never learns the wrong-server client's key.
  EXPECT_EQ(Count(err, "refused a worker from 127.0.0.1: failed the CurveZMQ handshake"), 1u)
      << err;
  EXPECT_EQ(Count(err, KeyFingerprint(PublicKey("good"))), 0u) << err;
  EXPECT_EQ(JsonInt(Report(), "/workers/most_connected"), 0) << Report();
  for (ChildProcess* w : {unlisted.get(), wrong_server.get(), plain.get()}) w->Stop(5);
  EXPECT_NE(ReadFile(dir_ / "unlisted-coordinator.err").find("--allow-workers"), std::string::npos)
      << "the worker should say why it may not be welcomed";
}

// A key removed from --allow-workers mid-run takes its worker out (its jobs requeued, its next
// handshake refused);
// a key added mid-run admits its worker. Every user still ends ok.
TEST_F(CurveTest, KeysAddedAndRemovedMidRunTakeEffect) {
  Keygen(keys_, "late");
  Users(150);
  auto run = StartCurve({"--filter", "sleep:20"});
  const std::string endpoint = RemoteEndpoint();
  ASSERT_FALSE(endpoint.empty()) << Stderr();
  auto good = Worker(endpoint, "good");
  auto late = Worker(endpoint, "late");  // not admitted yet: refused until its key arrives
  ASSERT_TRUE(testing::WaitFor([&] { return ManifestLines() >= 10; }, 30)) << Stderr();
  fs::copy_file(keys_ / "late.key", allowed_ / "late.key");
  fs::remove(allowed_ / "good.key");
  ASSERT_EQ(ExitCode(run->Wait(90)), 0) << Stderr();
  std::map<int64_t, std::string> lines = Manifest();
  ASSERT_EQ(lines.size(), 150u);
  const std::string late_marker = "key:" + KeyFingerprint(PublicKey("late"));
  size_t by_late = 0;
  for (auto& [id, line] : lines) {
    EXPECT_EQ(JsonAt(line, "/status"), "ok") << line;
    by_late += JsonAt(line, "/worker").find(late_marker) != std::string::npos;
  }
  EXPECT_GT(by_late, 0u) << "the worker admitted mid-run took no job";
  EXPECT_NE(Stderr().find("left --allow-workers"), std::string::npos) << Stderr();
  // The revoked worker hears nothing more, reconnects, and is refused at the handshake.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return ReadFile(dir_ / "good-coordinator.err").find("not in its --allow-workers") !=
               std::string::npos;
      },
      30))
      << ReadFile(dir_ / "good-coordinator.err");
}

// Plain TCP by choice is said at start and recorded in the report.
TEST_F(CurveTest, InsecureIsWarnedAtStartAndRecorded) {
  Users(3);
  auto run =
      Start({"--filter", "blur:1", "--workers", "1", "--bind", "tcp://127.0.0.1:*", "--insecure"});
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  EXPECT_NE(Stderr().find("plain TCP: unencrypted"), std::string::npos) << Stderr();
  EXPECT_EQ(JsonAt(Report(), "/options/worker_security"), "insecure") << Report();
}

TEST_F(CurveTest, KeyFlagsAreCheckedBeforeTheRun) {
  Users(2);
  const std::string secret = (keys_ / "coordinator.key_secret").string();
  const std::vector<std::string> base = {"--filter", "blur:1", "--workers",
                                         "0",        "--bind", "tcp://127.0.0.1:*"};
  struct Case {
    std::vector<std::string> flags;
    const char* expect;
  };
  ASSERT_EQ(::chmod((keys_ / "unlisted.key_secret").c_str(), 0644), 0);
  const fs::path public_as_secret = dir_ / "public_as_secret";
  fs::copy_file(keys_ / "good.key", public_as_secret);
  ASSERT_EQ(::chmod(public_as_secret.c_str(), 0600), 0);
  const Case cases[] = {
      {{"--curve-secret", secret}, "needs both"},
      {{"--curve-secret", (keys_ / "unlisted.key_secret").string(), "--allow-workers",
        allowed_.string()},
       "chmod 600"},
      {{"--curve-secret", public_as_secret.string(), "--allow-workers", allowed_.string()},
       "has no secret-key"},
      {{"--curve-secret", secret, "--allow-workers", (dir_ / "nowhere").string()}, "not a folder"},
      {{"--curve-secret", secret, "--allow-workers", allowed_.string(), "--insecure"},
       "contradict"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> flags = base;
    flags.insert(flags.end(), c.flags.begin(), c.flags.end());
    auto run = Start(flags);
    EXPECT_EQ(ExitCode(run->Wait(30)), 2) << c.expect << ": " << Stderr();
    EXPECT_NE(Stderr().find(c.expect), std::string::npos) << Stderr();
    EXPECT_FALSE(fs::exists(dir_ / "out" / "manifest.jsonl")) << c.expect;
  }
}

TEST_F(CurveTest, AWorkersKeyFlagsAreCheckedBeforeItConnects) {
  const std::string secret = (keys_ / "good.key_secret").string();
  const std::string server = (keys_ / "coordinator.key").string();
  ASSERT_EQ(::chmod((keys_ / "unlisted.key_secret").c_str(), 0640), 0);
  struct Case {
    std::vector<std::string> flags;
    const char* expect;
  };
  const Case cases[] = {
      {{"--connect", "tcp://127.0.0.1:9", "--curve-secret", secret}, "needs both"},
      {{"--connect", "ipc://@x", "--curve-secret", secret, "--server-key", server}, "tcp://"},
      {{"--connect", "tcp://127.0.0.1:9", "--curve-secret",
        (keys_ / "unlisted.key_secret").string(), "--server-key", server},
       "chmod 600"},
      {{"--connect", "tcp://127.0.0.1:9", "--curve-secret", secret, "--server-key",
        (dir_ / "users.jsonl").string()},
       "--server-key: key file"},
  };
  dir_.Write("users.jsonl", "not a certificate\n");
  for (const Case& c : cases) {
    std::vector<std::string> argv = {testing::kWorkerBinary};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    ChildProcess worker(argv, dir_ / "w.out", dir_ / "w.err");
    EXPECT_EQ(ExitCode(worker.Wait(20)), 2) << c.expect << ": " << ReadFile(dir_ / "w.err");
    EXPECT_NE(ReadFile(dir_ / "w.err").find(c.expect), std::string::npos)
        << ReadFile(dir_ / "w.err");
  }
}

}  // namespace
}  // namespace pixelmill
