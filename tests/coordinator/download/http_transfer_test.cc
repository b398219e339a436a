// The per-attempt policy both download paths share: the address check, redirect hops, retry
// decisions and failure messages. No network.
#include "coordinator/download/http_transfer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

sockaddr_in V4(const char* text) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, text, &a.sin_addr);
  return a;
}

TEST(HttpTransferTest, AddressCheckFollowsTheOptions) {
  DownloadOptions o;
  const sockaddr_in loopback = V4("127.0.0.1"), metadata = V4("169.254.169.254"),
                    public_address = V4("93.184.216.34");
  const auto& lo = reinterpret_cast<const sockaddr&>(loopback);
  ASSERT_TRUE(RefusedAddress(o, lo));
  EXPECT_EQ(*RefusedAddress(o, lo),
            "127.0.0.1 (loopback address; pass --allow-private-networks to allow)");
  EXPECT_TRUE(RefusedAddress(o, reinterpret_cast<const sockaddr&>(metadata)));
  EXPECT_FALSE(RefusedAddress(o, reinterpret_cast<const sockaddr&>(public_address)));
  o.allow_private_networks = true;
  EXPECT_FALSE(RefusedAddress(o, lo));
  o.address_check = [](const sockaddr&) { return std::optional<std::string>("test says no"); };
  EXPECT_EQ(*RefusedAddress(o, lo), "127.0.0.1 (test says no)");
}

TEST(HttpTransferTest, OpenCheckedSocketRefusesAndSaysWhy) {
  DownloadOptions o;
  curl_sockaddr address{};
  address.family = AF_INET;
  address.socktype = SOCK_STREAM;
  address.addrlen = sizeof(sockaddr_in);
  const sockaddr_in loopback = V4("127.0.0.1");
  std::memcpy(&address.addr, &loopback, sizeof loopback);
  std::string blocked;
  EXPECT_EQ(OpenCheckedSocket(o, CURLSOCKTYPE_IPCXN, &address, blocked), CURL_SOCKET_BAD);
  EXPECT_NE(blocked.find("loopback"), std::string::npos);
  // Through a proxy the connection goes to the proxy, which the operator chose.
  o.proxy = "http://127.0.0.1:3128";
  blocked.clear();
  const curl_socket_t fd = OpenCheckedSocket(o, CURLSOCKTYPE_IPCXN, &address, blocked);
  EXPECT_NE(fd, CURL_SOCKET_BAD);
  EXPECT_TRUE(blocked.empty());
  if (fd != CURL_SOCKET_BAD) ::close(fd);
  EXPECT_EQ(OpenCheckedSocket(o, CURLSOCKTYPE_ACCEPT, &address, blocked), CURL_SOCKET_BAD);
}

TEST(HttpTransferTest, RedirectHopsAreCountedAndChecked) {
  std::string url = "http://a.example/1", host = "http://a.example:80";
  uint32_t redirects = 0;
  EXPECT_TRUE(FollowRedirect("https://B.example/2", redirects, url, host).ok());
  EXPECT_EQ(url, "https://B.example/2");
  EXPECT_EQ(host, "https://b.example:443");
  Status refused = FollowRedirect("file:///etc/passwd?x=secret", redirects, url, host);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), Code::kBadUrl);
  EXPECT_NE(refused.message().find("redirect to file:///etc/passwd?x=*** refused"),
            std::string::npos)
      << refused.message();
  EXPECT_EQ(url, "https://B.example/2");  // unchanged
  redirects = kMaxRedirects;
  Status too_many = FollowRedirect("http://c.example/", redirects, url, host);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.code(), Code::kTooManyRedirects);
}

TEST(HttpTransferTest, RetryDecisionAndMessage) {
  DownloadOptions o;
  o.retry.retries = 2;
  const Status transient = Status::Retryable(Code::kConnect, "could not connect");
  const Status final_failure = Status::Error(Code::kHttpStatus, "HTTP 404");
  EXPECT_TRUE(ShouldRetry(o, transient, 1));
  EXPECT_TRUE(ShouldRetry(o, transient, 2));
  EXPECT_FALSE(ShouldRetry(o, transient, 3));
  EXPECT_FALSE(ShouldRetry(o, final_failure, 1));
  const Status finished = FinishFailureMessage(final_failure, "http://h/x", 1);
  EXPECT_EQ(finished.code(), Code::kHttpStatus);
  EXPECT_EQ(finished.message(), "HTTP 404 from http://h/x after 1 attempt");
  const Status retried = FinishFailureMessage(transient, "http://h/y", 3);
  EXPECT_EQ(retried.message(), "could not connect from http://h/y after 3 attempts");
}

TEST(HttpTransferTest, WithinCap) {
  DownloadOptions o;
  o.max_image_bytes = 10;
  EXPECT_TRUE(WithinCap(o, 10));
  EXPECT_FALSE(WithinCap(o, 11));
}

}  // namespace
}  // namespace pixelmill
