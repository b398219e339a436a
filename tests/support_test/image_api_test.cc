// Tests for the image API fixture server: the request parser and fault planner as pure code,
// then the real image-api binary (PIXELMILL_IMAGE_API) over loopback sockets. Every wait is
// bounded; each server binds an ephemeral port and writes it to a file in a temp directory.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/support/fault_plan.h"
#include "tests/support/http_request.h"

extern char** environ;

namespace pixelmill::fixture {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kWait = std::chrono::seconds(10);

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

TEST(PlannerTest, ImagePaths) {
  int64_t id = 0;
  ImageFormat format = ImageFormat::kJpeg;
  ASSERT_TRUE(ParseImagePath("/img/-9.webp", id, format));
  EXPECT_EQ(id, -9);
  EXPECT_EQ(format, ImageFormat::kWebp);
  EXPECT_FALSE(ParseImagePath("/img/9.gif", id, format));
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

  // Starts the server and waits (at most 10 s) for its port file.
  void Start(std::vector<std::string> extra = {}) {
    std::string port_file = (dir_ / "port").string();
    std::vector<std::string> args = {PIXELMILL_IMAGE_API, "--port", "0", "--port-file", port_file};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    for (auto deadline = Clock::now() + kWait; Clock::now() < deadline; poll(nullptr, 0, 10)) {
      std::ifstream in(port_file);
      if (in >> port_) return;
      ASSERT_EQ(waitpid(pid_, nullptr, WNOHANG), 0) << "image-api exited before listening";
    }
    FAIL() << "no port file within 10 s";
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

}  // namespace
}  // namespace pixelmill::fixture
