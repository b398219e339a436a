// Tests for the image API fixture server: the request parser and fault planner as pure code,
// then the real image-api binary (PIXELMILL_IMAGE_API) over loopback sockets, including the
// hostile images it serves by ?fault=NAME, checked from their header bytes or decoded with
// libvips. Every wait is bounded; each server binds an ephemeral port and writes it to a file
// in a temp directory.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <vips/vips8>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "tests/support/fault_plan.h"
#include "tests/support/hostile_images.h"
#include "tests/support/http_request.h"
#include "tests/support/padded_jpeg.h"
#include "tests/support/photo_bank.h"

extern char** environ;

namespace pixelmill::fixture {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kWait = std::chrono::seconds(10);
// Start-up draws the pictures and, with --images photos, decodes the photos: seconds under a
// sanitizer on a busy machine.
constexpr auto kStartWait = std::chrono::seconds(30);

TEST(RequestParserTest, HeadInPiecesThenPipelined) {
  RequestParser parser;
  Request request;
  parser.Feed("GET /img/1.jpg HTTP/1.1\r\nHo");
  EXPECT_EQ(parser.Next(request), ParseStatus::kNeedMore);
  parser.Feed("st: a:1\r\n\r\nGET /b?x=%41 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /c HT");
  ASSERT_EQ(parser.Next(request), ParseStatus::kRequest);
  EXPECT_EQ(request.path, "/img/1.jpg");
  EXPECT_EQ(request.host, "a:1");
  EXPECT_TRUE(request.keep_alive);
  ASSERT_EQ(parser.Next(request), ParseStatus::kRequest);
  EXPECT_EQ(request.path, "/b");
  EXPECT_EQ(request.query, "x=%41");
  EXPECT_EQ(request.version_minor, 0);
  EXPECT_TRUE(request.keep_alive);
  EXPECT_EQ(parser.Next(request), ParseStatus::kNeedMore);
}

TEST(RequestParserTest, RejectsGarbageAndOversizedHeads) {
  RequestParser garbage;
  Request request;
  garbage.Feed(std::string("\x16\x03\x01\x00\xff junk\r\n\r\n", 14));
  EXPECT_EQ(garbage.Next(request), ParseStatus::kBadRequest);
  RequestParser huge;
  huge.Feed("GET / HTTP/1.1\r\nX: " + std::string(RequestParser::kMaxHead, 'a'));
  EXPECT_EQ(huge.Next(request), ParseStatus::kHeadTooLarge);
}

TEST(PlannerTest, FailTimesCountsPerExactTarget) {
  Planner planner(PlannerConfig{});
  Request request;
  request.method = "GET";
  request.path = "/img/3.png";
  request.query = "status=500&fail_times=1";
  request.target = request.path + "?" + request.query;
  EXPECT_EQ(planner.Plan(request).status, 500);
  ResponsePlan second = planner.Plan(request);
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.body, BodyKind::kImage);
  EXPECT_EQ(second.content_type, "image/png");
  request.target += "&other";
  EXPECT_EQ(planner.Plan(request).status, 500);
}

// pace=BPS paces any body (a huge one too), unlike rate, which only sets fault=drip's speed.
TEST(PlannerTest, PacePacesAnyBodyButNoFaultOfItsOwnDelivery) {
  Planner planner(PlannerConfig{});
  Request request;
  request.method = "GET";
  request.path = "/img/3.jpg";
  request.query = "fault=huge_chunked&bytes=300000&pace=2000000";
  ResponsePlan huge = planner.Plan(request);
  EXPECT_EQ(huge.body, BodyKind::kHuge);
  EXPECT_TRUE(huge.chunked);
  EXPECT_EQ(huge.delivery, Delivery::kDrip);
  EXPECT_EQ(huge.drip_rate, 2000000u);
  request.query = "fault=truncate&pace=1000";
  EXPECT_EQ(planner.Plan(request).delivery, Delivery::kTruncate);
  request.query = "pace=0";
  EXPECT_EQ(planner.Plan(request).status, 400);
}

TEST(PlannerTest, HostileFaultsPickTheirBodyAndContentType) {
  Planner planner(PlannerConfig{});
  Request request;
  request.method = "GET";
  request.path = "/anything";
  const std::map<std::string, std::string> expected = {
      {"bomb_jpeg", "image/jpeg"},
      {"bomb_gif", "image/gif"},
      {"bomb_png50k", "image/png"},
      {"svg", "image/svg+xml"},
      {"tiff", "image/tiff"},
      {"heic", "image/heic"},
      {"progressive_big", "image/jpeg"},
      {"animated_gif", "image/gif"},
      {"animated_webp", "image/webp"},
      {"cmyk_jpeg", "image/jpeg"},
      {"png16_alpha", "image/png"},
      {"tiny", "image/jpeg"},
      {"exif6", "image/jpeg"},
      {"gps", "image/jpeg"},
      {"zero", "image/jpeg"},
  };
  ASSERT_EQ(kHostileSpecs.size(), expected.size());
  for (const auto& [fault, content_type] : expected) {
    request.query = "fault=" + fault;
    request.target = request.path + "?" + request.query;
    ResponsePlan plan = planner.Plan(request);
    EXPECT_EQ(plan.status, 200) << fault;
    EXPECT_EQ(plan.body, BodyKind::kHostile) << fault;
    EXPECT_EQ(plan.content_type, content_type) << fault;
    const HostileSpec* spec = FindHostile(fault);
    ASSERT_NE(spec, nullptr) << fault;
    EXPECT_EQ(plan.hostile, spec->kind) << fault;
  }
  request.query = "fault=bomb_tiff";
  EXPECT_EQ(planner.Plan(request).status, 400);
  request.query = "fault=bomb";  // the original 30000x30000 PNG stays its own body
  EXPECT_EQ(planner.Plan(request).body, BodyKind::kBomb);
}

// --jitter-ms J adds 0..J ms, drawn per response, to --latency-ms; ?latency=MS stays exact,
// and the same seed draws the same delays.
TEST(PlannerTest, JitterSpreadsTheDefaultLatencyButNotAnExplicitOne) {
  PlannerConfig config;
  config.latency_ms = 50;
  config.jitter_ms = 100;
  Planner planner(config);
  Planner twin(config);
  Request request;
  request.method = "GET";
  request.path = "/img/1.jpg";
  request.target = request.path;
  uint64_t low = UINT64_MAX;
  uint64_t high = 0;
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    uint64_t ms = planner.Plan(request).latency_ms;
    EXPECT_EQ(twin.Plan(request).latency_ms, ms);
    low = std::min(low, ms);
    high = std::max(high, ms);
    seen.insert(ms);
  }
  EXPECT_GE(low, 50u);
  EXPECT_LE(high, 150u);
  EXPECT_LT(low, 60u);  // 1000 draws over 101 values reach both ends
  EXPECT_GT(high, 140u);
  EXPECT_GT(seen.size(), 80u);
  request.query = "latency=300";
  for (int i = 0; i < 10; ++i) EXPECT_EQ(planner.Plan(request).latency_ms, 300u);
  PlannerConfig steady_config;
  steady_config.latency_ms = 50;
  Planner steady(steady_config);
  request.query.clear();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(steady.Plan(request).latency_ms, 50u);
}

TEST(PlannerTest, RedirectLoopPointsAtItsOwnUrl) {
  PlannerConfig config;
  config.authority = "127.0.0.1:9";
  Planner planner(config);
  Request request;
  request.method = "GET";
  request.path = "/img/4.jpg";
  request.query = "x=1&fault=redirect_loop";
  request.target = request.path + "?" + request.query;
  ResponsePlan plan = planner.Plan(request);
  EXPECT_EQ(plan.status, 302);
  ASSERT_EQ(plan.headers.size(), 1u);
  EXPECT_EQ(plan.headers[0].first, "Location");
  EXPECT_EQ(plan.headers[0].second, "http://127.0.0.1:9/img/4.jpg?x=1&fault=redirect_loop");
  request.host = "api.test:8080";
  EXPECT_EQ(planner.Plan(request).headers[0].second,
            "http://api.test:8080/img/4.jpg?x=1&fault=redirect_loop");
}

// Walks the marker segments a JPEG decoder reads up to the first that is not a comment.
TEST(PaddedJpegTest, CommentSegmentsFillTheGapExactly) {
  const std::string jpeg = std::string("\xFF\xD8\xFF\xDB", 4) + std::string(100, 'x');
  for (uint64_t padding : {0ull, 1ull, 4ull, 65537ull, 65538ull, 65540ull, 200000ull}) {
    PaddedJpeg padded(jpeg, jpeg.size() + padding);
    EXPECT_GE(padded.size(), jpeg.size() + padding);
    EXPECT_LE(padded.size(), jpeg.size() + std::max<uint64_t>(padding, 4) + 3);
    std::string body;
    for (uint64_t at = 0; at < padded.size(); at += 1000) {  // pieces as the server sends them
      padded.Append(at, std::min<uint64_t>(1000, padded.size() - at), body);
    }
    ASSERT_EQ(body.size(), padded.size());
    size_t at = 2;
    while (body.compare(at, 2, "\xFF\xFE") == 0) {
      const size_t length = static_cast<unsigned char>(body[at + 2]) * 256u +
                            static_cast<unsigned char>(body[at + 3]);
      ASSERT_GE(length, 2u) << padding;
      at += 2 + length;
    }
    EXPECT_EQ(body.substr(0, 2), jpeg.substr(0, 2)) << padding;
    EXPECT_EQ(body.substr(at), jpeg.substr(2)) << padding;
  }
}

TEST(PlannerTest, ImagePaths) {
  int64_t id = 0;
  ImageFormat format = ImageFormat::kJpeg;
  ASSERT_TRUE(ParseImagePath("/img/-9.webp", id, format));
  EXPECT_EQ(id, -9);
  EXPECT_EQ(format, ImageFormat::kWebp);
  ASSERT_TRUE(ParseImagePath("/img/9.gif", id, format));
  EXPECT_EQ(format, ImageFormat::kGif);
  EXPECT_FALSE(ParseImagePath("/img/9.bmp", id, format));
  EXPECT_FALSE(ParseImagePath("/img/x.jpg", id, format));
  EXPECT_FALSE(ParseImagePath("/img/99999999999999999999.jpg", id, format));
  EXPECT_FALSE(ParseImagePath("/img/1.jpg.jpg", id, format));
}

struct Response {
  int status = 0;                              // 0: no response head arrived
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool eof = false;  // the server closed (or reset) the connection

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// A blocking loopback client with a 10 s receive timeout.
class Client {
 public:
  explicit Client(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    host_ = "127.0.0.1:" + std::to_string(port);
  }
  ~Client() { close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  bool Get(const std::string& target, const std::string& extra_headers = "") {
    return Send("GET " + target + " HTTP/1.1\r\nHost: " + host_ + "\r\n" + extra_headers + "\r\n");
  }

  // Every byte until the server closes, as sent.
  std::string ReadToEof() {
    while (Fill()) {
    }
    return std::move(buffer_);
  }

  // Reads one response: the head, then Content-Length bytes, chunks, or bytes until EOF.
  Response Read() {
    Response response;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) {
        response.eof = true;
        return response;
      }
    }
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.rfind("HTTP/1.1 ", 0) == 0)
      response.status = std::atoi(status_line.c_str() + 9);
    while (line_end != std::string::npos) {
      size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      std::string line = head.substr(start, line_end - start);
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      response.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    if (response.Header("transfer-encoding") == "chunked") {
      ReadChunked(response);
    } else if (std::string length = response.Header("content-length"); !length.empty()) {
      size_t want = std::stoull(length);
      while (buffer_.size() < want && Fill()) {
      }
      response.eof = buffer_.size() < want;
      response.body = buffer_.substr(0, std::min(want, buffer_.size()));
      buffer_.erase(0, response.body.size());
    } else {
      while (Fill()) {
      }
      response.eof = true;
      response.body.swap(buffer_);
    }
    return response;
  }

  // True once the server has closed the connection (within the receive timeout).
  bool SeesEof() {
    while (Fill()) {
    }
    return eof_;
  }

 private:
  bool Fill() {
    char chunk[65536];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      eof_ = n == 0 || errno == ECONNRESET;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  void ReadChunked(Response& response) {
    while (true) {
      size_t line_end;
      while ((line_end = buffer_.find("\r\n")) == std::string::npos) {
        if (!Fill()) return;
      }
      size_t size = std::stoull(buffer_.substr(0, line_end), nullptr, 16);
      while (buffer_.size() < line_end + 2 + size + 2) {
        if (!Fill()) return;
      }
      response.body.append(buffer_, line_end + 2, size);
      buffer_.erase(0, line_end + 2 + size + 2);
      if (size == 0) return;
    }
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string host_;
  std::string buffer_;
};

// The image-api binary, started in a temp directory and stopped with SIGTERM.
class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "image-api-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }

  void TearDown() override {
    if (pid_ > 0) {
      EXPECT_EQ(Stop(), 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Starts the server and waits (at most kStartWait) for its port file.
  void Start(std::vector<std::string> extra = {}) {
    std::string port_file = (dir_ / "port").string();
    std::vector<std::string> args = {PIXELMILL_IMAGE_API, "--port", "0", "--port-file", port_file};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    for (auto deadline = Clock::now() + kStartWait; Clock::now() < deadline; poll(nullptr, 0, 10)) {
      std::ifstream in(port_file);
      if (in >> port_) return;
      ASSERT_EQ(waitpid(pid_, nullptr, WNOHANG), 0) << "image-api exited before listening";
    }
    FAIL() << "no port file within " << kStartWait.count() << " s";
  }

  // Sends SIGTERM and returns the exit status (-1 if it did not exit normally within 10 s).
  int Stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    for (auto deadline = Clock::now() + kWait; Clock::now() < deadline; poll(nullptr, 0, 10)) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
    return -1;
  }

  Response Fetch(const std::string& target) {
    Client client(port_);
    EXPECT_TRUE(client.connected());
    EXPECT_TRUE(client.Get(target));
    return client.Read();
  }

  std::filesystem::path dir_;
  pid_t pid_ = 0;
  int port_ = 0;
};

TEST_F(ServerTest, ServesJpegPngAndWebp) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Response jpeg = Fetch("/img/7.jpg");
  EXPECT_EQ(jpeg.status, 200);
  EXPECT_EQ(jpeg.Header("content-type"), "image/jpeg");
  EXPECT_EQ(jpeg.Header("content-length"), std::to_string(jpeg.body.size()));
  EXPECT_EQ(jpeg.body.substr(0, 3), "\xff\xd8\xff");
  Response png = Fetch("/img/-1.png");
  EXPECT_EQ(png.Header("content-type"), "image/png");
  EXPECT_EQ(png.body.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  Response webp = Fetch("/img/3.webp");
  EXPECT_EQ(webp.body.substr(0, 4), "RIFF");
  EXPECT_EQ(Fetch("/img/15.jpg").body, jpeg.body);  // variant 15 mod 8 == 7
  EXPECT_EQ(Fetch("/health").body, "ok");
  EXPECT_EQ(Fetch("/img/x.jpg").status, 404);
  EXPECT_EQ(Fetch("/nope").status, 404);
}

TEST_F(ServerTest, KeepAliveAndPipelining) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Client client(port_);
  ASSERT_TRUE(client.Get("/img/1.jpg"));
  EXPECT_EQ(client.Read().status, 200);
  ASSERT_TRUE(client.Get("/img/2.png"));
  EXPECT_EQ(client.Read().Header("content-type"), "image/png");
  ASSERT_TRUE(client.Send("GET /health HTTP/1.1\r\n\r\nPOST /health HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(client.Read().body, "ok");
  EXPECT_EQ(client.Read().status, 405);
  ASSERT_TRUE(client.Get("/health", "Connection: close\r\n"));
  EXPECT_EQ(client.Read().status, 200);
  EXPECT_TRUE(client.SeesEof());
}

TEST_F(ServerTest, StatusRetryAfterAndFailTimes) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Response unavailable = Fetch("/img/1.jpg?status=503&retry_after=2");
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_EQ(unavailable.Header("retry-after"), "2");
  Client client(port_);
  ASSERT_TRUE(client.Get("/img/1.jpg?status=500&fail_times=1"));
  EXPECT_EQ(client.Read().status, 500);
  ASSERT_TRUE(client.Get("/img/1.jpg?status=500&fail_times=1"));
  Response second = client.Read();
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.Header("content-type"), "image/jpeg");
}

TEST_F(ServerTest, TruncateSendsHalfTheBodyThenCloses) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Response response = Fetch("/img/4.jpg?fault=truncate");
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.eof);
  EXPECT_LT(response.body.size(), std::stoull(response.Header("content-length")));
}

TEST_F(ServerTest, RedirectsCountDownThenServe) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Response first = Fetch("/img/5.jpg?x=1&redirect=2");
  EXPECT_EQ(first.status, 302);
  std::string location = first.Header("location");
  EXPECT_EQ(location, "http://127.0.0.1:" + std::to_string(port_) + "/img/5.jpg?x=1&redirect=1");
  Response last = Fetch("/img/5.jpg?x=1&redirect=0");
  EXPECT_EQ(last.status, 200);
  Response away = Fetch("/img/5.jpg?redirect_to=http%3A%2F%2F169.254.169.254%2Flatest");
  EXPECT_EQ(away.status, 302);
  EXPECT_EQ(away.Header("location"), "http://169.254.169.254/latest");
}

TEST_F(ServerTest, OtherFaults) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Response huge = Fetch("/img/1.jpg?fault=huge&bytes=300000");
  EXPECT_EQ(huge.Header("content-length"), "300000");
  EXPECT_EQ(huge.body.size(), 300000u);
  Response chunked = Fetch("/img/1.jpg?fault=huge_chunked&bytes=200001");
  EXPECT_EQ(chunked.Header("content-length"), "");
  EXPECT_EQ(chunked.body.size(), 200001u);
  Response bomb = Fetch("/img/1.png?fault=bomb");
  EXPECT_EQ(bomb.body.substr(12, 4), "IHDR");
  EXPECT_EQ(bomb.body.substr(16, 4), std::string("\0\0\x75\x30", 4));  // width 30000
  Response wrong = Fetch("/img/1.jpg?fault=wrongtype");
  EXPECT_EQ(wrong.Header("content-type"), "text/html");
  EXPECT_EQ(wrong.body.substr(0, 2), "\xff\xd8");
  EXPECT_EQ(Fetch("/img/1.jpg?fault=html").body, "<html>not an image</html>");
  Response reset = Fetch("/img/1.jpg?fault=reset");
  EXPECT_EQ(reset.status, 0);
  EXPECT_TRUE(reset.eof);
  Response reset_once = Fetch("/img/1.jpg?fault=reset&fail_times=1");
  EXPECT_EQ(reset_once.status, 0);
  EXPECT_EQ(Fetch("/img/1.jpg?fault=reset&fail_times=1").status, 200);
  auto start = Clock::now();
  Response drip = Fetch("/img/1.jpg?fault=html&rate=5000");  // rate without drip: ignored
  EXPECT_EQ(drip.status, 200);
  Response slow = Fetch("/health?fault=drip&rate=20");  // 2 bytes: about 0.1 s
  EXPECT_EQ(slow.body, "ok");
  EXPECT_LT(Clock::now() - start, kWait);
}

// Answers libcurl refuses: one 150 KB header line, 400 KB of header lines, and an HTTP/0.9
// answer (the body alone, ended by the close).
TEST_F(ServerTest, MalformedAnswerFaults) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Response one = Fetch("/img/1.jpg?fault=huge_header");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.Header("x-filler").size(), 150000u);
  EXPECT_EQ(one.body.substr(0, 2), "\xff\xd8");
  Response many = Fetch("/img/1.jpg?fault=huge_headers");
  EXPECT_EQ(many.status, 200);
  size_t header_bytes = 0;
  for (const auto& [name, value] : many.headers) header_bytes += name.size() + value.size();
  EXPECT_GT(header_bytes, 300u * 1024);
  EXPECT_LT(many.Header("x-filler-0").size(), 100u * 1024);
  Client client(port_);
  ASSERT_TRUE(client.Get("/img/1.jpg?fault=http09"));
  const std::string raw = client.ReadToEof();
  EXPECT_EQ(raw.substr(0, 2), "\xff\xd8") << raw.substr(0, 40);
}

TEST_F(ServerTest, GarbageGets400AndServerKeepsServing) {
  ASSERT_NO_FATAL_FAILURE(Start());
  {
    Client client(port_);
    ASSERT_TRUE(client.Send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\r\n\r\n", 13)));
    EXPECT_EQ(client.Read().status, 400);
    EXPECT_TRUE(client.SeesEof());
  }
  {
    Client client(port_);
    ASSERT_TRUE(client.Send(std::string(20000, 'A')));
    EXPECT_EQ(client.Read().status, 431);
  }
  EXPECT_EQ(Fetch("/health").body, "ok");
}

TEST_F(ServerTest, LatencyDelaysEveryResponse) {
  ASSERT_NO_FATAL_FAILURE(Start({"--latency-ms", "100"}));
  auto start = Clock::now();
  EXPECT_EQ(Fetch("/img/1.jpg").status, 200);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(90));
  start = Clock::now();
  EXPECT_EQ(Fetch("/img/1.jpg?latency=300").status, 200);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(290));
}

// Twenty requests in a row with --latency-ms 50 --jitter-ms 100: none is early and they do not
// all take the same time (a spread below 20 ms has odds of about 20 * 0.2^19).
TEST_F(ServerTest, JitterSpreadsLatencyOverTheWire) {
  ASSERT_NO_FATAL_FAILURE(Start({"--latency-ms", "50", "--jitter-ms", "100"}));
  Client client(port_);
  auto shortest = Clock::duration::max();
  auto longest = Clock::duration::zero();
  for (int i = 0; i < 20; ++i) {
    auto start = Clock::now();
    ASSERT_TRUE(client.Get("/img/1.jpg"));
    ASSERT_EQ(client.Read().status, 200);
    auto took = Clock::now() - start;
    shortest = std::min(shortest, took);
    longest = std::max(longest, took);
  }
  EXPECT_GE(shortest, std::chrono::milliseconds(40));
  EXPECT_GE(longest - shortest, std::chrono::milliseconds(20));
}

TEST_F(ServerTest, RedirectLoopSendsTheClientBackToTheSameUrl) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string target = "/img/6.jpg?fault=redirect_loop";
  Client client(port_);
  for (int hop = 0; hop < 3; ++hop) {
    ASSERT_TRUE(client.Get(target));
    Response response = client.Read();
    EXPECT_EQ(response.status, 302);
    EXPECT_EQ(response.Header("location"), "http://127.0.0.1:" + std::to_string(port_) + target);
  }
}

TEST(ImageApiHelpTest, ListsEveryHostileFaultWithItsContentType) {
  FILE* pipe = popen(PIXELMILL_IMAGE_API " --help", "r");
  ASSERT_NE(pipe, nullptr);
  std::string help;
  char chunk[4096];
  while (size_t n = std::fread(chunk, 1, sizeof(chunk), pipe)) help.append(chunk, n);
  EXPECT_EQ(pclose(pipe), 0);
  for (const HostileSpec& spec : kHostileSpecs) {
    size_t line = help.find("\n  " + std::string(spec.fault) + " ");
    ASSERT_NE(line, std::string::npos) << spec.fault;
    size_t end = help.find('\n', line + 1);
    std::string text = help.substr(line, end - line);
    EXPECT_NE(text.find("[" + std::string(spec.content_type) + "]"), std::string::npos) << text;
  }
}

// --- Hostile and unusual images (?fault=NAME, hostile_images.h) -----------------------------

bool VipsReady() {
  static const bool ready = [] {
    if (VIPS_INIT("image_api_test") != 0) return false;
    vips_concurrency_set(1);
    return true;
  }();
  return ready;
}

// Decodes the header (pixels on demand) of `body`, which must outlive the image; nullopt with
// the libvips message logged when it is not an image libvips understands.
std::optional<vips::VImage> Decode(const std::string& body, const char* options = "") {
  try {
    return vips::VImage::new_from_buffer(body.data(), body.size(), options);
  } catch (const vips::VError& e) {
    ADD_FAILURE() << "libvips cannot decode " << body.size() << " bytes: " << e.what();
    return std::nullopt;
  }
}

std::string Loader(const vips::VImage& image) {
  return image.get_typeof("vips-loader") != 0 ? image.get_string("vips-loader") : "";
}

uint32_t Be16(const std::string& bytes, size_t at) {
  return static_cast<unsigned char>(bytes[at]) * 256u + static_cast<unsigned char>(bytes[at + 1]);
}

uint32_t Be32(const std::string& bytes, size_t at) {
  return Be16(bytes, at) << 16 | Be16(bytes, at + 2);
}

uint32_t Le16(const std::string& bytes, size_t at) {
  return static_cast<unsigned char>(bytes[at]) + static_cast<unsigned char>(bytes[at + 1]) * 256u;
}

// The first start-of-frame segment of a JPEG, read from its bytes by walking the segments.
struct JpegFrame {
  int marker = 0;  // 0xc0 baseline, 0xc2 progressive; 0 when there is no SOF
  uint32_t height = 0;
  uint32_t width = 0;
  int components = 0;
};

JpegFrame ReadJpegFrame(const std::string& jpeg) {
  JpegFrame frame;
  if (jpeg.substr(0, 2) != "\xff\xd8") return frame;
  for (size_t at = 2; at + 4 <= jpeg.size() && jpeg[at] == '\xff';) {
    int marker = static_cast<unsigned char>(jpeg[at + 1]);
    bool is_sof =
        marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (is_sof && at + 10 <= jpeg.size()) {
      frame.marker = marker;
      frame.height = Be16(jpeg, at + 5);
      frame.width = Be16(jpeg, at + 7);
      frame.components = static_cast<unsigned char>(jpeg[at + 9]);
      return frame;
    }
    if (marker == 0xda) break;
    at += 2 + Be16(jpeg, at + 2);
  }
  return frame;
}

TEST_F(ServerTest, HostileBombsDeclareHugeSizesInTheirHeaders) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Response jpeg = Fetch("/img/1.jpg?fault=bomb_jpeg");
  EXPECT_EQ(jpeg.status, 200);
  EXPECT_EQ(jpeg.Header("content-type"), "image/jpeg");
  JpegFrame frame = ReadJpegFrame(jpeg.body);
  EXPECT_EQ(frame.marker, 0xc0);
  EXPECT_EQ(frame.width, 65000u);
  EXPECT_EQ(frame.height, 65000u);
  EXPECT_NE(jpeg.body.find("\xff\xda"), std::string::npos);       // a scan header...
  EXPECT_NE(jpeg.body.substr(jpeg.body.size() - 2), "\xff\xd9");  // ...but no end
  EXPECT_LT(jpeg.body.size(), 2000u);

  Response gif = Fetch("/x?fault=bomb_gif");
  EXPECT_EQ(gif.status, 200);
  EXPECT_EQ(gif.Header("content-type"), "image/gif");
  ASSERT_GE(gif.body.size(), 30u);
  EXPECT_EQ(gif.body.substr(0, 6), "GIF89a");
  EXPECT_EQ(Le16(gif.body, 6), 65535u);  // logical screen
  EXPECT_EQ(Le16(gif.body, 8), 65535u);
  const size_t descriptor = 13 + 3 * (2u << (gif.body[10] & 7));  // after the global table
  ASSERT_GE(gif.body.size(), descriptor + 10);
  EXPECT_EQ(gif.body[descriptor], '\x2c');
  EXPECT_EQ(Le16(gif.body, descriptor + 5), 65535u);  // image descriptor
  EXPECT_EQ(Le16(gif.body, descriptor + 7), 65535u);
  EXPECT_EQ(gif.body.back(), '\x3b');
  EXPECT_LT(gif.body.size(), 100u);

  Response png = Fetch("/img/1.png?fault=bomb_png50k");
  EXPECT_EQ(png.status, 200);
  EXPECT_EQ(png.Header("content-type"), "image/png");
  ASSERT_GE(png.body.size(), 33u);
  EXPECT_EQ(png.body.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.body.substr(12, 4), "IHDR");
  EXPECT_EQ(Be32(png.body, 16), 50000u);
  EXPECT_EQ(Be32(png.body, 20), 50000u);
  // Every chunk's CRC is right, so a decoder gets as far as the size check.
  size_t chunks = 0;
  for (size_t at = 8; at + 12 <= png.body.size(); ++chunks) {
    const size_t length = Be32(png.body, at);
    ASSERT_LE(at + 12 + length, png.body.size());
    EXPECT_EQ(Be32(png.body, at + 8 + length),
              Crc32(std::string_view(png.body).substr(at + 4, 4 + length)))
        << png.body.substr(at + 4, 4);
    at += 12 + length;
  }
  EXPECT_EQ(chunks, 3u);  // IHDR, IDAT, IEND
}

TEST_F(ServerTest, HostileSvgDeclaresAnExternalEntity) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Response svg = Fetch("/img/1.jpg?fault=svg");
  EXPECT_EQ(svg.status, 200);
  EXPECT_EQ(svg.Header("content-type"), "image/svg+xml");
  EXPECT_NE(svg.body.find("<!DOCTYPE svg [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"),
            std::string::npos);
  EXPECT_NE(svg.body.find("&x;"), std::string::npos);  // the entity is used
  EXPECT_NE(svg.body.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_EQ(svg.body.find("root:"), std::string::npos);  // served as written, never expanded
}

TEST_F(ServerTest, HostileTiffAndHeicAreWhatTheyClaim) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(VipsReady());
  Response tiff = Fetch("/img/1.jpg?fault=tiff");
  EXPECT_EQ(tiff.status, 200);
  EXPECT_EQ(tiff.Header("content-type"), "image/tiff");
  EXPECT_EQ(tiff.body.substr(0, 4), std::string("II*\0", 4));
  if (auto image = Decode(tiff.body)) {
    EXPECT_EQ(Loader(*image), "tiffload_buffer");
    EXPECT_EQ(image->width(), 64);
    EXPECT_EQ(image->height(), 64);
    EXPECT_EQ(image->bands(), 3);
    EXPECT_EQ(image->format(), VIPS_FORMAT_UCHAR);
    EXPECT_EQ(image->interpretation(), VIPS_INTERPRETATION_sRGB);
  }

  Response heic = Fetch("/img/1.jpg?fault=heic");
  EXPECT_EQ(heic.status, 200);
  EXPECT_EQ(heic.Header("content-type"), "image/heic");
  ASSERT_GE(heic.body.size(), 12u);
  EXPECT_EQ(heic.body.substr(4, 8), "ftypheic");
  // The server falls back to a fake only where libvips cannot save HEIF; this is the same
  // libvips, so here the HEIC must be real.
  if (vips_foreign_find_save_buffer(".heic") != nullptr) {
    if (auto image = Decode(heic.body)) {
      EXPECT_EQ(Loader(*image), "heifload_buffer");
      EXPECT_EQ(image->width(), 64);
      EXPECT_EQ(image->height(), 64);
      EXPECT_EQ(image->bands(), 3);
      EXPECT_EQ(image->format(), VIPS_FORMAT_UCHAR);
    }
  }
}

TEST_F(ServerTest, HostileProgressiveBigIsAProgressive3000SquareJpeg) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(VipsReady());
  Response jpeg = Fetch("/img/1.jpg?fault=progressive_big");
  EXPECT_EQ(jpeg.status, 200);
  EXPECT_EQ(jpeg.Header("content-type"), "image/jpeg");
  JpegFrame frame = ReadJpegFrame(jpeg.body);
  EXPECT_EQ(frame.marker, 0xc2);  // SOF2: progressive
  EXPECT_EQ(frame.width, 3000u);
  EXPECT_EQ(frame.height, 3000u);
  EXPECT_EQ(jpeg.body.substr(jpeg.body.size() - 2), "\xff\xd9");
  if (auto image = Decode(jpeg.body)) {
    EXPECT_EQ(Loader(*image), "jpegload_buffer");
    EXPECT_EQ(image->width(), 3000);
    EXPECT_EQ(image->height(), 3000);
    EXPECT_EQ(image->bands(), 3);
    EXPECT_EQ(image->interpretation(), VIPS_INTERPRETATION_sRGB);
    ASSERT_NE(image->get_typeof("interlaced"), 0u);
    EXPECT_EQ(image->get_int("interlaced"), 1);
  }
}

TEST_F(ServerTest, HostileAnimationsHave200FramesOf32Square) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(VipsReady());
  for (auto [fault, type, loader] :
       {std::tuple{"animated_gif", "image/gif", "gifload_buffer"},
        std::tuple{"animated_webp", "image/webp", "webpload_buffer"}}) {
    SCOPED_TRACE(fault);
    Response response = Fetch(std::string("/img/1.jpg?fault=") + fault);
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.Header("content-type"), type);
    auto first = Decode(response.body);
    auto all = Decode(response.body, "n=-1");
    if (!first || !all) continue;
    EXPECT_EQ(Loader(*first), loader);
    EXPECT_EQ(first->width(), 32);
    EXPECT_EQ(first->height(), 32);
    EXPECT_EQ(first->get_int("n-pages"), 200);
    EXPECT_EQ(all->width(), 32);
    EXPECT_EQ(all->height(), 32 * 200);
    EXPECT_EQ(all->get_int("page-height"), 32);
    // The frames differ: the square moves.
    vips::VImage frame0 = all->extract_area(0, 0, 32, 32);
    vips::VImage frame1 = all->extract_area(0, 32, 32, 32);
    EXPECT_GT((frame0 - frame1).abs().max(), 50.0);
  }
}

TEST_F(ServerTest, HostileCmykAnd16BitAlpha) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(VipsReady());
  Response cmyk = Fetch("/img/1.jpg?fault=cmyk_jpeg");
  EXPECT_EQ(cmyk.status, 200);
  EXPECT_EQ(cmyk.Header("content-type"), "image/jpeg");
  EXPECT_EQ(ReadJpegFrame(cmyk.body).components, 4);
  if (auto image = Decode(cmyk.body)) {
    EXPECT_EQ(Loader(*image), "jpegload_buffer");
    EXPECT_EQ(image->width(), 64);
    EXPECT_EQ(image->height(), 64);
    EXPECT_EQ(image->bands(), 4);
    EXPECT_EQ(image->format(), VIPS_FORMAT_UCHAR);
    EXPECT_EQ(image->interpretation(), VIPS_INTERPRETATION_CMYK);
  }

  Response png = Fetch("/img/1.jpg?fault=png16_alpha");
  EXPECT_EQ(png.status, 200);
  EXPECT_EQ(png.Header("content-type"), "image/png");
  ASSERT_GE(png.body.size(), 26u);
  EXPECT_EQ(png.body[24], 16);  // IHDR bit depth
  EXPECT_EQ(png.body[25], 6);   // IHDR colour type: RGBA
  if (auto image = Decode(png.body)) {
    EXPECT_EQ(Loader(*image), "pngload_buffer");
    EXPECT_EQ(image->width(), 64);
    EXPECT_EQ(image->height(), 64);
    EXPECT_EQ(image->bands(), 4);
    EXPECT_EQ(image->format(), VIPS_FORMAT_USHORT);
    EXPECT_EQ(image->interpretation(), VIPS_INTERPRETATION_RGB16);
    EXPECT_GT(image->extract_band(3).max(), 255.0);  // alpha really uses 16 bits
  }
}

TEST_F(ServerTest, HostileTinyExif6GpsAndZero) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(VipsReady());
  Response tiny = Fetch("/img/1.jpg?fault=tiny");
  EXPECT_EQ(tiny.Header("content-type"), "image/jpeg");
  if (auto image = Decode(tiny.body)) {
    EXPECT_EQ(Loader(*image), "jpegload_buffer");
    EXPECT_EQ(image->width(), 1);
    EXPECT_EQ(image->height(), 1);
    EXPECT_EQ(image->bands(), 3);
  }

  Response exif6 = Fetch("/img/1.jpg?fault=exif6");
  EXPECT_EQ(exif6.Header("content-type"), "image/jpeg");
  if (auto image = Decode(exif6.body)) {
    EXPECT_EQ(image->width(), 40);  // stored unrotated; orientation 6 shows it as 20x40
    EXPECT_EQ(image->height(), 20);
    ASSERT_NE(image->get_typeof("orientation"), 0u);
    EXPECT_EQ(image->get_int("orientation"), 6);
  }

  Response gps = Fetch("/img/1.jpg?fault=gps");
  EXPECT_EQ(gps.Header("content-type"), "image/jpeg");
  EXPECT_NE(gps.body.find(std::string("Exif\0\0", 6)), std::string::npos);
  if (auto image = Decode(gps.body)) {
    EXPECT_EQ(image->width(), 32);
    EXPECT_EQ(image->height(), 32);
    for (const char* field : {"exif-ifd3-GPSLatitude", "exif-ifd3-GPSLongitude",
                              "exif-ifd3-GPSLatitudeRef", "exif-ifd3-GPSLongitudeRef"}) {
      ASSERT_NE(image->get_typeof(field), 0u) << field;
    }
    // libvips renders a rational triple as "48/1 51/1 2400/100 (48, 51, 24, ...)".
    EXPECT_EQ(std::string(image->get_string("exif-ifd3-GPSLatitude")).rfind("48/1 51/1 ", 0), 0u)
        << image->get_string("exif-ifd3-GPSLatitude");
    EXPECT_EQ(std::string(image->get_string("exif-ifd3-GPSLatitudeRef")).substr(0, 1), "N");
  }

  Response zero = Fetch("/img/1.jpg?fault=zero");
  EXPECT_EQ(zero.status, 200);
  EXPECT_EQ(zero.Header("content-type"), "image/jpeg");
  EXPECT_EQ(zero.Header("content-length"), "0");
  EXPECT_TRUE(zero.body.empty());
  EXPECT_FALSE(zero.eof);
}

// fault=corrupt_png keeps the first 40% of the real PNG and garbles the rest: its chunk CRCs and
// zlib stream fail a decoder that stops on errors (a corrupt JPEG's scan only warns in libjpeg).
// ?pad=BYTES&chunked=1: a large JPEG of unknown length that is still the same picture.
TEST_F(ServerTest, APaddedJpegSentChunkedIsTheSamePicture) {
  ASSERT_TRUE(VipsReady());
  ASSERT_NO_FATAL_FAILURE(Start());
  const Response plain = Fetch("/img/2.jpg");
  const Response padded = Fetch("/img/2.jpg?pad=300000&chunked=1");
  EXPECT_EQ(padded.status, 200);
  EXPECT_EQ(padded.Header("content-length"), "");
  EXPECT_EQ(padded.Header("transfer-encoding"), "chunked");
  EXPECT_EQ(padded.body.size(), 300000u);
  EXPECT_EQ(padded.body.substr(padded.body.size() - (plain.body.size() - 2)), plain.body.substr(2));
  std::optional<vips::VImage> a = Decode(plain.body), b = Decode(padded.body);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(b->width(), a->width());
  EXPECT_EQ((*a - *b).abs().max(), 0.0);
  EXPECT_EQ(Fetch("/img/2.jpg?pad=300000").Header("content-length"), "300000");
  EXPECT_EQ(Fetch("/img/2.png?pad=300000").status, 400);
  EXPECT_EQ(Fetch("/img/2.jpg?chunked=2").status, 400);
}

TEST_F(ServerTest, CorruptPngFailsADecoderThatStopsOnErrors) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(VipsReady());
  Response real = Fetch("/img/3.png");
  Response corrupt = Fetch("/img/3.png?fault=corrupt_png");
  EXPECT_EQ(corrupt.status, 200);
  EXPECT_EQ(corrupt.Header("content-type"), "image/png");
  ASSERT_EQ(corrupt.body.size(), real.body.size());
  const size_t kept = real.body.size() * 2 / 5;
  EXPECT_EQ(corrupt.body.substr(0, kept), real.body.substr(0, kept));
  EXPECT_NE(corrupt.body.substr(kept), real.body.substr(kept));
  auto decodes = [](const std::string& body) {
    try {
      vips::VImage image = vips::VImage::new_from_buffer(
          body.data(), body.size(), "", vips::VImage::option()->set("fail_on", VIPS_FAIL_ON_ERROR));
      image.avg();
      return true;
    } catch (const vips::VError&) {
      return false;
    }
  };
  EXPECT_TRUE(decodes(real.body));
  EXPECT_FALSE(decodes(corrupt.body));
}

// --- Photos (--images photos, ?images=, ?size=; photo_bank.h) -------------------------------

TEST(PlannerTest, PhotosByFlagOrQueryWithTheirSize) {
  PlannerConfig config;
  config.photos_available = true;
  Planner planner(config);
  Request request;
  request.method = "GET";
  request.path = "/img/3.webp";
  auto plan = [&](const std::string& query) {
    request.query = query;
    request.target = request.path + "?" + query;
    return planner.Plan(request);
  };
  EXPECT_FALSE(plan("").photo);  // gradients by default
  ResponsePlan photo = plan("images=photos&size=640x480");
  EXPECT_EQ(photo.status, 200);
  EXPECT_TRUE(photo.photo);
  EXPECT_EQ(photo.body, BodyKind::kImage);
  EXPECT_EQ(photo.content_type, "image/webp");
  EXPECT_EQ(photo.photo_width, 640);
  EXPECT_EQ(photo.photo_height, 480);
  EXPECT_EQ(plan("images=photos").photo_width, 0);  // the server's size
  ResponsePlan poison = plan("images=photos&fault=poison");
  EXPECT_TRUE(poison.photo);
  EXPECT_EQ(poison.body, BodyKind::kPoison);
  EXPECT_FALSE(plan("images=photos&fault=bomb_jpeg").photo);  // hostile bodies stay as they are
  EXPECT_EQ(plan("images=photos&status=503").status, 503);
  // Hostile or malformed values are refused.
  for (const char* bad :
       {"images=Photos", "images=", "images=photos&size=0x10", "images=photos&size=2049x2048",
        "images=photos&size=10", "size=64x64", "images=photos&size=99999999999999999999x1"}) {
    EXPECT_EQ(plan(bad).status, 400) << bad;
  }
  EXPECT_EQ(plan("images=photos&size=2048x2048").status, 200);

  config.photos = true;
  Planner photos_first(config);
  request.query = "";
  EXPECT_TRUE(photos_first.Plan(request).photo);
  request.query = "images=gradients";
  EXPECT_FALSE(photos_first.Plan(request).photo);

  Planner without(PlannerConfig{});  // no photo bank
  request.query = "images=photos";
  ResponsePlan none = without.Plan(request);
  EXPECT_EQ(none.status, 404);
  EXPECT_NE(none.text.find("--photo-dir"), std::string::npos) << none.text;
}

// Runs image-api with `args` until it exits; its exit status and what it printed.
std::pair<int, std::string> RunImageApi(const std::string& args) {
  // `timeout`: a server that wrongly starts is stopped instead of hanging the test.
  FILE* pipe =
      popen(("timeout 20 " PIXELMILL_IMAGE_API " --port 0 " + args + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  std::string output;
  char chunk[4096];
  while (size_t n = std::fread(chunk, 1, sizeof(chunk), pipe)) output.append(chunk, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(ImageApiFlagsTest, PhotoFlagsAreCheckedAndMissingPhotosExit2) {
  std::string pattern = (std::filesystem::temp_directory_path() / "image-api-XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::filesystem::path empty = pattern;
  std::ofstream(empty / "notes.txt") << "not a photo";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--images pictures", "--images: expects gradients or photos"},
      {"--images photos --size 4096x2048", "--size: photos are at most 4194304 pixels"},
      {"--size 9000x10", "--size: expects WxH, each 1..8192"},
      {"--photo-dir=", "--photo-dir: expects a folder"},
      {"--images photos --photo-dir " + (empty / "absent").string(), "not a folder"},
      {"--images photos --photo-dir " + empty.string(), "no photos (.jpg, .jpeg, .png or .webp"},
      {"--photo-dir " + empty.string(), "no photos"},  // --photo-dir alone needs photos too
  };
  for (const auto& [args, message] : cases) {
    auto [status, output] = RunImageApi(args);
    EXPECT_EQ(status, 2) << args << ": " << output;
    EXPECT_NE(output.find(message), std::string::npos) << args << ": " << output;
  }
  std::filesystem::remove_all(empty);
}

// The mean absolute difference of two same-sized images.
double MeanDifference(const vips::VImage& a, const vips::VImage& b) { return (a - b).abs().avg(); }

// The real photos: decodable, of the asked size and format, a different photo per id (id mod
// the number of photos), far more detailed than the gradients, and the faults on them.
TEST_F(ServerTest, PhotosAreRealDecodableAndDifferById) {
  ASSERT_TRUE(VipsReady());
  if (PhotoBank::FindSkimageData().empty()) {
    FAIL() << "python3-skimage's sample photos are missing: run scripts/setup.sh";
  }
  ASSERT_NO_FATAL_FAILURE(Start({"--images", "photos", "--size", "320x240"}));
  const int photos = static_cast<int>(std::size(PhotoBank::kSkimagePhotos));
  std::vector<vips::VImage> images;
  std::vector<std::string> bodies;
  for (int id = 0; id < photos; ++id) {
    Response jpeg = Fetch("/img/" + std::to_string(id) + ".jpg");
    ASSERT_EQ(jpeg.status, 200) << jpeg.body;
    EXPECT_EQ(jpeg.Header("content-type"), "image/jpeg");
    EXPECT_EQ(jpeg.Header("x-photo"), PhotoBank::kSkimagePhotos[id]);
    bodies.push_back(jpeg.body);
    std::optional<vips::VImage> image = Decode(bodies.back());
    ASSERT_TRUE(image);
    EXPECT_EQ(image->width(), 320);
    EXPECT_EQ(image->height(), 240);
    EXPECT_EQ(image->bands(), 3);
    EXPECT_EQ(Loader(*image), "jpegload_buffer");
    images.push_back(image->copy_memory());
  }
  for (int a = 0; a < photos; ++a) {
    for (int b = a + 1; b < photos; ++b) {
      EXPECT_GT(MeanDifference(images[a], images[b]), 8.0) << a << " vs " << b;
    }
  }
  EXPECT_EQ(Fetch("/img/" + std::to_string(photos + 2) + ".jpg").body, bodies[2]);
  EXPECT_EQ(Fetch("/img/-1.jpg").body, bodies[photos - 1]);
  // A gradient of the same size is a few kB; a photo carries real detail.
  Response gradient = Fetch("/img/0.jpg?images=gradients");
  ASSERT_EQ(gradient.status, 200);
  for (const std::string& body : bodies) EXPECT_GT(body.size(), 2 * gradient.body.size());

  struct Asked {
    std::string target, loader;
    int width, height;
  };
  for (const Asked& asked : {Asked{"/img/1.png?size=256x256", "pngload_buffer", 256, 256},
                             Asked{"/img/2.webp?size=1200x800", "webpload_buffer", 1200, 800},
                             Asked{"/img/3.jpg?size=2048x2048", "jpegload_buffer", 2048, 2048},
                             Asked{"/img/3.png", "pngload_buffer", 320, 240}}) {
    Response response = Fetch(asked.target);
    ASSERT_EQ(response.status, 200) << asked.target << ": " << response.body;
    std::optional<vips::VImage> image = Decode(response.body);
    ASSERT_TRUE(image) << asked.target;
    EXPECT_EQ(Loader(*image), asked.loader) << asked.target;
    EXPECT_EQ(image->width(), asked.width) << asked.target;
    EXPECT_EQ(image->height(), asked.height) << asked.target;
    EXPECT_GT(image->deviate(), 20.0) << asked.target;  // not a flat or near-flat picture
  }
  EXPECT_EQ(Fetch("/img/1.png?size=4096x4096").status, 400);

  // The faults work on photos: the bytes they damage are the photo's.
  Response corrupt = Fetch("/img/4.jpg?fault=corrupt");
  ASSERT_EQ(corrupt.body.size(), bodies[4].size());
  const size_t kept = bodies[4].size() * 2 / 5;
  EXPECT_EQ(corrupt.body.substr(0, kept), bodies[4].substr(0, kept));
  EXPECT_NE(corrupt.body, bodies[4]);
  EXPECT_EQ(Fetch("/img/5.jpg?fault=poison").body,
            bodies[5] + std::string(ImageBank::kPoisonMarker));
  Response header_only = Fetch("/img/6.jpg?fault=header_only");
  EXPECT_EQ(header_only.body, bodies[6].substr(0, bodies[6].find("\xFF\xDA")));
  EXPECT_EQ(Fetch("/img/6.jpg?status=503&retry_after=1").status, 503);
  Response truncated = Fetch("/img/7.jpg?fault=truncate");
  EXPECT_EQ(truncated.body, bodies[7].substr(0, bodies[7].size() / 2));
  EXPECT_EQ(Fetch("/img/1.jpg?fault=bomb_png50k").Header("content-type"), "image/png");
}

// --photo-dir: every image file of the folder, by name, whatever its kind (grey, alpha); a
// text file beside them is skipped.
TEST_F(ServerTest, PhotoDirServesEveryImageInItByName) {
  ASSERT_TRUE(VipsReady());
  const std::filesystem::path photos = dir_ / "photos";
  std::filesystem::create_directory(photos);
  // Three distinct noisy pictures, dark, middle and light: grey PNG, RGBA PNG, RGB JPEG.
  vips::VImage noise = vips::VImage::gaussnoise(300, 200);
  (noise * 0.3 + 128).cast(VIPS_FORMAT_UCHAR).write_to_file((photos / "a.png").c_str());
  vips::VImage dark = (noise * 0.3 + 40).cast(VIPS_FORMAT_UCHAR);
  vips::VImage::bandjoin({dark, dark, dark, dark * 0 + 255})
      .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
      .write_to_file((photos / "b.png").c_str());
  vips::VImage light = (noise * 0.3 + 210).cast(VIPS_FORMAT_UCHAR);
  vips::VImage::bandjoin({light, light, light})
      .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
      .write_to_file((photos / "c.jpg").c_str());
  std::ofstream(photos / "readme.txt") << "not a photo";
  ASSERT_NO_FATAL_FAILURE(
      Start({"--images", "photos", "--photo-dir", photos.string(), "--size", "100x100"}));
  std::vector<vips::VImage> images;
  std::vector<std::string> bodies;
  for (int id = 0; id < 4; ++id) {
    bodies.push_back(Fetch("/img/" + std::to_string(id) + ".png").body);
    std::optional<vips::VImage> image = Decode(bodies.back());
    ASSERT_TRUE(image) << id;
    EXPECT_EQ(image->width(), 100);
    EXPECT_EQ(image->bands(), 3);  // grey and alpha made 8-bit sRGB
    images.push_back(image->copy_memory());
  }
  EXPECT_EQ(bodies[3], bodies[0]);  // 3 photos: id 3 is photo 0
  EXPECT_GT(MeanDifference(images[0], images[1]), 50.0);
  EXPECT_GT(MeanDifference(images[1], images[2]), 50.0);
}
}  // namespace
}  // namespace pixelmill::fixture
