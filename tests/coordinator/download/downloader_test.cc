// The downloader against the real image-api fixture server on loopback: latency, faults,
// retries, address checks and byte caps, each ending with every handle closed.
#include "coordinator/download/downloader.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/download/url_policy.h"
#include "tests/support/closed_port.h"
#include "tests/support/image_api_process.h"
#include "tests/support/programs.h"

namespace pixelmill {
namespace {

using testing::ImageApiProcess;

using testing::kImageApiBinary;

struct Fetched {
  std::map<size_t, Download> results;  // by index into the URL list
  // The most downloads on the wire at once, seen as each one ended (itself included).
  size_t most_on_wire = 0;
  DownloadStats stats;
};

DownloadOptions TestOptions() {
  DownloadOptions o;
  o.allow_private_networks = true;  // the fixture is on loopback
  o.concurrency = 64;
  o.timeout_ms = 5000;
  o.retry.retries = 2;
  o.retry.base_delay_ms = 10;
  o.seed = 7;
  return o;
}

// Downloads every URL on a fresh loop, feeding the downloader as slots free up, then closes it
// and checks the loop closes with no handle left. With a budget, each body is kept as a copy
// outside it (as if saved at once) and the downloader told that its bytes came back.
Fetched FetchAll(const std::vector<std::string>& urls, const DownloadOptions& options,
                 ByteBudget* budget = nullptr) {
  Fetched out;
  uv_loop_t loop;
  uv_loop_init(&loop);
  size_t next = 0;
  bool closed = false;
  std::unique_ptr<Downloader> downloader;
  std::function<void()> pump;
  auto on_done = [&](Download&& d) {
    if (budget != nullptr) d.body = ImageBuffer::FromString(std::string(d.body.view()));
    out.most_on_wire = std::max(out.most_on_wire, downloader->in_flight() + 1);
    out.results[d.tag] = std::move(d);
    if (budget != nullptr) downloader->OnBudgetFreed();
    if (out.results.size() == urls.size()) {
      out.stats = downloader->stats();
      downloader->Close([&] { closed = true; });
      return;
    }
    pump();
  };
  downloader = std::make_unique<Downloader>(loop, options, on_done, budget);
  pump = [&] {
    while (next < urls.size() && downloader->accepting()) {
      const size_t i = next++;
      if (Status refused = downloader->Start(i, urls[i]); !refused.ok()) {
        Download d;
        d.tag = i;
        d.failure = refused;
        out.results[i] = std::move(d);
      }
    }
  };
  EXPECT_TRUE(downloader->Init().ok());
  pump();
  if (out.results.size() == urls.size()) downloader->Close([&] { closed = true; });
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_TRUE(closed);
  downloader.reset();
  EXPECT_EQ(uv_loop_close(&loop), 0) << "leaked libuv handles";
  return out;
}

Download FetchOne(const std::string& url, const DownloadOptions& options) {
  Fetched f = FetchAll({url}, options);
  return std::move(f.results[0]);
}

class DownloaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ImageApiProcess(kImageApiBinary); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(server_->ok()) << "image-api did not start"; }
  static ImageApiProcess* server_;
};
ImageApiProcess* DownloaderTest::server_ = nullptr;

// The seed's test case 2: 10 images at 100 ms latency download together, not one by one: when
// the first one ends, the other nine are still on the wire. (The speed: `scripts/bench.sh
// proof` and `downloads`.)
TEST(DownloaderLatencyTest, TenImagesAt100msAreOnTheWireTogether) {
  ImageApiProcess server(kImageApiBinary, {"--latency-ms", "100"});
  ASSERT_TRUE(server.ok());
  std::vector<std::string> urls;
  for (int i = 0; i < 10; ++i) urls.push_back(server.Url("/img/" + std::to_string(i) + ".jpg"));
  Fetched f = FetchAll(urls, TestOptions());
  ASSERT_EQ(f.results.size(), 10u);
  for (auto& [i, d] : f.results) {
    ASSERT_TRUE(d.failure.ok()) << d.failure.message();
    EXPECT_EQ(d.body.view().substr(0, 3), "\xFF\xD8\xFF");
    EXPECT_EQ(d.content_type, "image/jpeg");
    EXPECT_EQ(d.attempts, 1u);
  }
  EXPECT_EQ(f.most_on_wire, 10u);
}

TEST_F(DownloaderTest, FaultsEndWithTheirCodeAndAttempts) {
  DownloadOptions options = TestOptions();
  options.timeout_ms = 400;
  options.max_image_bytes = 1 << 20;
  struct Case {
    std::string query;
    Code code;
    uint32_t attempts;
  };
  const std::vector<Case> cases = {
      {"?status=404", Code::kHttpStatus, 1},
      {"?status=403", Code::kHttpStatus, 1},
      {"?status=500", Code::kHttpStatus, 3},
      {"?status=503", Code::kHttpStatus, 3},
      {"?fault=reset", Code::kConnect, 3},
      {"?fault=truncate", Code::kTruncated, 3},
      {"?fault=hang", Code::kTimeout, 3},
      {"?fault=drip&rate=20", Code::kTimeout, 3},
      {"?redirect=7", Code::kTooManyRedirects, 1},
      {"?fault=huge&bytes=5000000", Code::kTooLarge, 1},
      {"?fault=huge_chunked&bytes=5000000", Code::kTooLarge, 1},
      {"?fault=huge_header", Code::kBadResponse, 1},
      {"?fault=huge_headers", Code::kBadResponse, 1},
      {"?fault=http09", Code::kBadResponse, 1},
  };
  std::vector<std::string> urls;
  for (const Case& c : cases) urls.push_back(server_->Url("/img/1.jpg" + c.query));
  Fetched f = FetchAll(urls, options);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Download& d = f.results[i];
    ASSERT_FALSE(d.failure.ok()) << cases[i].query;
    EXPECT_EQ(d.failure.code(), cases[i].code) << cases[i].query << ": " << d.failure.message();
    EXPECT_EQ(d.attempts, cases[i].attempts) << cases[i].query;
    if (d.failure.code() == Code::kTimeout) {  // the elapsed time is the request's own, on the wire
      EXPECT_NE(d.failure.message().find("timed out after 0."), std::string::npos)
          << d.failure.message();
    }
    EXPECT_NE(d.failure.message().find(RedactUrl(urls[i])), std::string::npos)
        << d.failure.message();
  }
  EXPECT_EQ(f.stats.retries, 2u * 6);
}

TEST_F(DownloaderTest, TransientFaultsSucceedOnRetry) {
  std::vector<std::string> urls = {
      server_->Url("/img/2.png?status=503&fail_times=2"),
      server_->Url("/img/4.png?fault=truncate&fail_times=1"),
      server_->Url("/img/5.webp?status=500&fail_times=1"),
  };
  Fetched f = FetchAll(urls, TestOptions());
  const uint32_t attempts[] = {3, 2, 2};
  for (size_t i = 0; i < urls.size(); ++i) {
    const Download& d = f.results[i];
    ASSERT_TRUE(d.failure.ok()) << urls[i] << ": " << d.failure.message();
    EXPECT_EQ(d.attempts, attempts[i]) << urls[i];
  }
  EXPECT_EQ(f.results[0].body.view().substr(0, 4), "\x89PNG");
  EXPECT_EQ(f.results[2].body.view().substr(8, 4), "WEBP");
  EXPECT_EQ(f.stats.retries, 4u);
  EXPECT_EQ(f.stats.requests, 7u);
  // A reset is retried too, by us or (on a reused connection) by curl itself first.
  Download reset = FetchOne(server_->Url("/img/3.png?fault=reset&fail_times=1"), TestOptions());
  EXPECT_TRUE(reset.failure.ok()) << reset.failure.message();
}

TEST_F(DownloaderTest, RetryAfterIsHonoured) {
  DownloadOptions options = TestOptions();
  options.retry.retries = 1;
  Download d = FetchOne(server_->Url("/img/6.jpg?status=429&retry_after=1&fail_times=1"), options);
  ASSERT_TRUE(d.failure.ok()) << d.failure.message();
  EXPECT_EQ(d.attempts, 2u);
  // The retry waited the server's second, not the 10 ms backoff: a lower bound, which a busy
  // machine can only make longer.
  EXPECT_GE(d.elapsed, std::chrono::milliseconds(900));
}

TEST_F(DownloaderTest, BadUrlsFailAtOnceWithoutASlot) {
  Fetched f = FetchAll({"ftp://127.0.0.1/x", "no scheme", "", "http://"}, TestOptions());
  for (auto& [i, d] : f.results) {
    ASSERT_FALSE(d.failure.ok());
    EXPECT_EQ(d.failure.code(), Code::kBadUrl) << i;
  }
  EXPECT_EQ(f.stats.requests, 0u);
}

// The real address check for every address but the fixture's own (127.0.0.1 on its port).
// An address the check passes is refused too, as "public (...)", so that nothing ever leaves
// the machine, whatever the check says.
DownloadOptions OnlyTheFixtureAllowed(int port) {
  DownloadOptions options = TestOptions();
  options.allow_private_networks = false;
  options.address_check = [port](const sockaddr& a) -> std::optional<std::string> {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
    if (a.sa_family == AF_INET && ntohl(v4.sin_addr.s_addr) == INADDR_LOOPBACK &&
        ntohs(v4.sin_port) == port) {
      return std::nullopt;
    }
    auto range = BlockedRange(a);
    return range ? std::string(*range) : "public (this test connects to nothing else)";
  };
  return options;
}

// Without --allow-private-networks, loopback and private addresses are refused, also when
// reached through a redirect or a host name; with it they are fetched.
TEST_F(DownloaderTest, PrivateAddressesRefusedUnlessAllowed) {
  DownloadOptions strict = TestOptions();
  strict.allow_private_networks = false;
  const std::string direct = server_->Url("/img/1.jpg");
  const std::string by_name = "http://localhost:" + std::to_string(server_->port()) + "/img/1.jpg";
  for (const std::string& url : {direct, by_name}) {
    Download d = FetchOne(url, strict);
    ASSERT_FALSE(d.failure.ok()) << url;
    EXPECT_EQ(d.failure.code(), Code::kBlockedAddress) << d.failure.message();
    EXPECT_NE(d.failure.message().find("loopback"), std::string::npos) << d.failure.message();
    EXPECT_EQ(d.attempts, 1u);
  }
  // Redirects: only the fixture itself is let through, every other address gets the real
  // check. Nothing is ever sent to 10.255.255.1: the refusal happens before connecting.
  const DownloadOptions one_server = OnlyTheFixtureAllowed(server_->port());
  const int port = server_->port();
  Download private_hop = FetchOne(
      server_->Url("/img/1.jpg?redirect_to=http%3A%2F%2F10.255.255.1%2Fx.jpg"), one_server);
  ASSERT_FALSE(private_hop.failure.ok());
  EXPECT_EQ(private_hop.failure.code(), Code::kBlockedAddress) << private_hop.failure.message();
  EXPECT_NE(private_hop.failure.message().find("10.255.255.1 (private)"), std::string::npos)
      << private_hop.failure.message();
  Download metadata = FetchOne(
      server_->Url("/img/1.jpg?redirect_to=http%3A%2F%2F169.254.169.254%2Flatest"), one_server);
  ASSERT_FALSE(metadata.failure.ok());
  EXPECT_EQ(metadata.failure.code(), Code::kBlockedAddress) << metadata.failure.message();
  Download chain = FetchOne(server_->Url("/img/1.jpg?redirect=3"), one_server);
  EXPECT_TRUE(chain.failure.ok()) << chain.failure.message();

  // Allowed with the flag: the direct URL, the host name, a redirect to loopback.
  const std::string to_loopback = server_->Url("/img/1.jpg?redirect_to=http%3A%2F%2F127.0.0.1%3A" +
                                               std::to_string(port) + "%2Fimg%2F2.jpg");
  for (const std::string& url : {direct, by_name, to_loopback}) {
    Download d = FetchOne(url, TestOptions());
    EXPECT_TRUE(d.failure.ok()) << url << ": " << d.failure.message();
  }
}

// IPv6 forms that carry the metadata service's or loopback's IPv4 address (local-use NAT64,
// SIIT, Teredo, 6to4, IPv4-compatible) are refused before connecting, as a direct URL and as a
// redirect's target. Nothing is sent to them: the open-socket check refuses first.
TEST_F(DownloaderTest, Ipv6FormsOfInternalAddressesRefusedDirectAndByRedirect) {
  const DownloadOptions one_server = OnlyTheFixtureAllowed(server_->port());
  for (const std::string host : {"[64:ff9b:1::a9fe:a9fe]", "[::ffff:0:a9fe:a9fe]",
                                 "[::ffff:0:7f00:1]", "[2001:0:a9fe:a9fe::]", "[2002:7f00:1::]"}) {
    const std::string target = "http://" + host + ":" + std::to_string(server_->port()) + "/x.jpg";
    Download direct = FetchOne(target, one_server);
    ASSERT_FALSE(direct.failure.ok()) << target;
    EXPECT_EQ(direct.failure.code(), Code::kBlockedAddress) << direct.failure.message();
    std::string escaped;
    for (char c : target) {
      escaped += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-'
                     ? std::string(1, c)
                     : "%" + std::string(1, "0123456789ABCDEF"[(c >> 4) & 15]) +
                           "0123456789ABCDEF"[c & 15];
    }
    Download hop = FetchOne(server_->Url("/img/1.jpg?redirect_to=" + escaped), one_server);
    ASSERT_FALSE(hop.failure.ok()) << target;
    EXPECT_EQ(hop.failure.code(), Code::kBlockedAddress) << hop.failure.message();
    for (const Download* d : {&direct, &hop}) {
      EXPECT_EQ(d->failure.message().find("public"), std::string::npos) << d->failure.message();
    }
  }
}

TEST_F(DownloaderTest, ManyTransfersInFlightOnOneLoop) {
  ImageApiProcess slow(kImageApiBinary, {"--latency-ms", "50"});
  ASSERT_TRUE(slow.ok());
  DownloadOptions options = TestOptions();
  options.concurrency = 500;
  options.per_host = 500;
  std::vector<std::string> urls;
  for (int i = 0; i < 2000; ++i) urls.push_back(slow.Url("/img/" + std::to_string(i) + ".jpg"));
  Fetched f = FetchAll(urls, options);
  ASSERT_EQ(f.results.size(), urls.size());
  for (auto& [i, d] : f.results) ASSERT_TRUE(d.failure.ok()) << d.failure.message();
  EXPECT_EQ(f.stats.requests, 2000u);
  EXPECT_EQ(f.stats.ok, 2000u);
  // 500 at a time on one loop, and never more.
  EXPECT_EQ(f.most_on_wire, 500u);
}

TEST_F(DownloaderTest, OnlyA200IsACompleteImage) {
  Download partial = FetchOne(server_->Url("/img/1.jpg?status=206"), TestOptions());
  ASSERT_FALSE(partial.failure.ok());
  EXPECT_EQ(partial.failure.code(), Code::kHttpStatus);
  EXPECT_NE(partial.failure.message().find("HTTP 206"), std::string::npos);
  EXPECT_EQ(partial.attempts, 1u);
}

// A redirect chain that ends in a failure gives its host's connection back: the download
// waiting behind it starts (with one connection per host it would otherwise wait forever).
TEST_F(DownloaderTest, ARedirectChainThatFailsFreesItsConnection) {
  DownloadOptions options = TestOptions();
  options.per_host = 1;
  Fetched f =
      FetchAll({server_->Url("/img/1.jpg?redirect=7"), server_->Url("/img/2.jpg")}, options);
  ASSERT_EQ(f.results.size(), 2u);
  ASSERT_FALSE(f.results[0].failure.ok());
  EXPECT_EQ(f.results[0].failure.code(), Code::kTooManyRedirects);
  EXPECT_TRUE(f.results[1].failure.ok()) << f.results[1].failure.message();
}

// More downloads than --per-host connections: the wait for a connection happens in pixelmill's
// own queue, before the attempt's timeout starts (curl's queue would charge it to the attempt).
TEST(DownloaderQueueTest, WaitingForAConnectionDoesNotCountAgainstTheTimeout) {
  ImageApiProcess server(kImageApiBinary, {"--latency-ms", "300"});
  ASSERT_TRUE(server.ok());
  DownloadOptions options = TestOptions();
  options.per_host = 2;
  options.timeout_ms = 1000;  // the last of five waves of 300 ms ends after 1.5 s
  options.retry.retries = 0;
  std::vector<std::string> urls;
  for (int i = 0; i < 10; ++i) urls.push_back(server.Url("/img/" + std::to_string(i) + ".jpg"));
  Fetched f = FetchAll(urls, options);
  for (auto& [i, d] : f.results) {
    EXPECT_TRUE(d.failure.ok()) << d.failure.message();
  }
  EXPECT_EQ(f.stats.requests, 10u);
  EXPECT_EQ(f.most_on_wire, 2u) << "the limit did not hold: no download waited in the queue";
}

// Thousands of users on a host that refuses connections: the host is paused, probed and
// declared down, so its users fail quickly, mostly without a request of their own.
TEST(DownloaderDeadHostTest, ADeadHostFailsItsUsersFastWithoutARequestEach) {
  const int port = testing::ClosedLoopbackPort();
  DownloadOptions options = TestOptions();
  options.retry.retries = 3;
  options.retry.base_delay_ms = 100;
  options.health.first_pause_ms = 50;
  options.health.failed_probes = 2;
  std::vector<std::string> urls;
  for (int i = 0; i < 3000; ++i) {
    urls.push_back("http://127.0.0.1:" + std::to_string(port) + "/img/" + std::to_string(i) +
                   ".jpg");
  }
  Fetched f = FetchAll(urls, options);
  ASSERT_EQ(f.results.size(), urls.size());
  size_t host_down = 0;
  for (auto& [i, d] : f.results) {
    ASSERT_FALSE(d.failure.ok());
    EXPECT_EQ(d.failure.code(), Code::kConnect) << d.failure.message();
    if (d.failure.message().find("host down: ") != std::string::npos) ++host_down;
  }
  EXPECT_GT(host_down, 2500u);
  EXPECT_LT(f.stats.requests, 1000u);  // one each (4 with retries) would be 3000 to 12000
}

// A proxy set in the environment is not used: the private-network guard would check the proxy
// instead of the target. An explicit proxy is used, and each target (redirects included) is
// resolved and checked by pixelmill first. The proxy is the fixture itself on loopback; every
// target is loopback too.
TEST_F(DownloaderTest, ProxyEnvironmentIsIgnoredAndAnExplicitProxyChecksTheTarget) {
  const std::string proxy = server_->Url("");
  const std::string closed = "http://127.0.0.1:" + std::to_string(testing::ClosedLoopbackPort());
  ::setenv("http_proxy", proxy.c_str(), 1);
  ::setenv("HTTP_PROXY", proxy.c_str(), 1);
  ::setenv("ALL_PROXY", proxy.c_str(), 1);
  Download direct = FetchOne(closed + "/img/1.jpg", TestOptions());
  ::unsetenv("http_proxy");
  ::unsetenv("HTTP_PROXY");
  ::unsetenv("ALL_PROXY");
  ASSERT_FALSE(direct.failure.ok()) << "went through the environment's proxy";
  EXPECT_EQ(direct.failure.code(), Code::kConnect);

  DownloadOptions options = TestOptions();
  options.proxy = proxy;
  Download via_proxy = FetchOne(closed + "/img/1.jpg", options);
  ASSERT_TRUE(via_proxy.failure.ok()) << via_proxy.failure.message();
  EXPECT_EQ(via_proxy.body.view().substr(0, 3), "\xFF\xD8\xFF");

  // Only 127.0.0.1 is allowed: a target on 127.0.0.2 is refused before any request.
  options.address_check = [](const sockaddr& a) -> std::optional<std::string> {
    if (AddressToString(a) == "127.0.0.1") return std::nullopt;
    return std::string("not the test server");
  };
  const std::string other = "http://127.0.0.2:" + std::to_string(testing::ClosedLoopbackPort());
  Download refused = FetchOne(other + "/img/1.jpg", options);
  ASSERT_FALSE(refused.failure.ok());
  EXPECT_EQ(refused.failure.code(), Code::kBlockedAddress) << refused.failure.message();
  Download redirected =
      FetchOne(closed + "/img/1.jpg?redirect_to=http%3A%2F%2F127.0.0.2%3A1%2Fx.jpg", options);
  ASSERT_FALSE(redirected.failure.ok());
  EXPECT_EQ(redirected.failure.code(), Code::kBlockedAddress) << redirected.failure.message();
}

// Through a proxy, a target the proxy cannot reach (it answers 502) counts as a failed
// connection to that target: its host is paused and declared down like a direct dead host.
TEST_F(DownloaderTest, ThroughAProxyAnUnreachableTargetIsADeadHost) {
  DownloadOptions options = TestOptions();
  options.proxy = server_->Url("");
  options.health.first_pause_ms = 20;
  options.health.failed_probes = 2;
  const std::string target = "http://127.0.0.1:" + std::to_string(testing::ClosedLoopbackPort());
  std::vector<std::string> urls;
  for (int i = 0; i < 200; ++i)
    urls.push_back(target + "/img/" + std::to_string(i) + ".jpg?status=502");
  Fetched f = FetchAll(urls, options);
  size_t host_down = 0;
  for (auto& [i, d] : f.results) {
    ASSERT_FALSE(d.failure.ok());
    host_down += d.failure.message().find("host down: ") != std::string::npos;
  }
  EXPECT_GT(host_down, 100u);
  EXPECT_LT(f.stats.requests, 200u);
}

// --max-memory: 1 MiB for 24 bodies of ~300 KB on 64 connections, each body paced over ~0.2 s
// so they overlap, first with a Content-Length, then chunked without one. Bodies pause when
// the budget cannot hold them and resume as others are saved; every byte arrives, in order,
// and the budget is back to zero at the end.
TEST_F(DownloaderTest, ASmallBudgetPausesAndResumesWithoutLosingAByte) {
  constexpr uint64_t kImage = 300000;  // not a multiple of the fixture's 64 KiB filler
  const std::string reference = std::string(
      FetchOne(server_->Url("/img/1.jpg?fault=huge&bytes=300000"), TestOptions()).body.view());
  ASSERT_EQ(reference.size(), kImage);
  DownloadOptions options = TestOptions();
  options.timeout_ms = 30'000;  // a paused transfer's timeout runs: no retries wanted here
  for (const char* fault : {"huge", "huge_chunked"}) {
    ByteBudget budget(1 << 20);
    std::vector<std::string> urls;
    for (int i = 0; i < 24; ++i) {
      urls.push_back(server_->Url("/img/" + std::to_string(i) + ".jpg?fault=" + fault +
                                  "&bytes=" + std::to_string(kImage) + "&pace=1500000"));
    }
    Fetched f = FetchAll(urls, options, &budget);
    ASSERT_EQ(f.results.size(), urls.size());
    for (auto& [i, d] : f.results) {
      ASSERT_TRUE(d.failure.ok()) << fault << " " << i << ": " << d.failure.message();
      ASSERT_EQ(d.body.view(), reference) << fault << " " << i;
      // A transfer the budget stopped (only paused bodies held it) started again afresh.
      EXPECT_EQ(d.attempts, 1u) << fault << " " << i;
    }
    EXPECT_GT(f.stats.budget_pauses, 0u) << fault;
    EXPECT_EQ(f.stats.retries, 0u) << fault;
    EXPECT_GT(f.stats.budget_wait_seconds, 0.0) << fault;
    EXPECT_EQ(budget.used(), 0u) << fault;
    // Never past the limit by more than one body, with or without a Content-Length.
    EXPECT_LE(budget.peak(), budget.limit() + kImage) << fault;
    EXPECT_GT(budget.peak(), budget.limit() / 2) << fault;
  }
}

// One image larger than the whole budget still downloads (alone), among small ones; an attempt
// that fails (a truncated body, retried) gives its bytes back.
TEST_F(DownloaderTest, AnImageLargerThanTheBudgetStillCompletes) {
  ByteBudget budget(1 << 20);
  std::vector<std::string> urls = {server_->Url("/img/1.jpg?fault=huge&bytes=3000000"),
                                   server_->Url("/img/2.jpg?fault=huge_chunked&bytes=3000000"),
                                   server_->Url("/img/3.jpg?fault=truncate&fail_times=1")};
  for (int i = 0; i < 10; ++i) {
    urls.push_back(server_->Url("/img/" + std::to_string(i) + ".jpg?fault=huge&bytes=300000"));
  }
  Fetched f = FetchAll(urls, TestOptions(), &budget);
  ASSERT_EQ(f.results.size(), urls.size());
  for (auto& [i, d] : f.results) {
    ASSERT_TRUE(d.failure.ok()) << i << ": " << d.failure.message();
  }
  EXPECT_EQ(f.results[0].body.size(), 3000000u);
  EXPECT_EQ(f.results[1].body.size(), 3000000u);
  EXPECT_EQ(f.results[2].attempts, 2u);
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_GE(budget.peak(), 3000000u);
}

// A delivered body carries its lease: the budget gets the bytes back only when the body goes.
TEST_F(DownloaderTest, ADeliveredBodyHoldsItsBytesUntilItIsFreed) {
  ByteBudget budget(64 << 20);
  uv_loop_t loop;
  uv_loop_init(&loop);
  Download got;
  bool closed = false;
  std::unique_ptr<Downloader> downloader;
  downloader = std::make_unique<Downloader>(
      loop, TestOptions(),
      [&](Download&& d) {
        got = std::move(d);
        downloader->Close([&] { closed = true; });
      },
      &budget);
  ASSERT_TRUE(downloader->Init().ok());
  ASSERT_TRUE(downloader->Start(0, server_->Url("/img/4.jpg?fault=huge&bytes=300000")).ok());
  uv_run(&loop, UV_RUN_DEFAULT);
  ASSERT_TRUE(closed);
  downloader.reset();
  EXPECT_EQ(uv_loop_close(&loop), 0);
  ASSERT_TRUE(got.failure.ok()) << got.failure.message();
  EXPECT_EQ(got.body.lease().bytes(), 300000u);
  EXPECT_EQ(budget.used(), 300000u);
  got.body = ImageBuffer();
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace pixelmill
