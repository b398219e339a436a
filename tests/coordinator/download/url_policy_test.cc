#include "coordinator/download/url_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

sockaddr_storage Address(const std::string& text) {
  sockaddr_storage storage{};
  if (text.find(':') != std::string::npos) {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(storage);
    v6.sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, text.c_str(), &v6.sin6_addr), 1) << text;
  } else {
    auto& v4 = reinterpret_cast<sockaddr_in&>(storage);
    v4.sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, text.c_str(), &v4.sin_addr), 1) << text;
  }
  return storage;
}

std::optional<std::string_view> Blocked(const std::string& text) {
  const sockaddr_storage storage = Address(text);
  return BlockedRange(reinterpret_cast<const sockaddr&>(storage));
}

bool In(const std::vector<AddressRange>& ranges, const std::string& text) {
  const sockaddr_storage storage = Address(text);
  return InRanges(ranges, reinterpret_cast<const sockaddr&>(storage));
}

TEST(UrlPolicyTest, AddressRangesMatchByPrefix) {
  Result<std::vector<AddressRange>> ranges =
      ParseAddressRanges("127.0.0.1/32, 10.1.0.0/16,192.168.8.0/21,fd00::/8,169.254.1.1");
  ASSERT_TRUE(ranges.ok()) << ranges.status().message();
  for (const char* in : {"127.0.0.1", "10.1.255.7", "192.168.15.1", "fd12::1", "169.254.1.1",
                         "::ffff:127.0.0.1", "::ffff:10.1.0.1"}) {
    EXPECT_TRUE(In(ranges.value(), in)) << in;
  }
  for (const char* out : {"127.0.0.2", "10.2.0.1", "192.168.16.1", "fe80::1", "169.254.169.254",
                          "::1", "::ffff:127.0.0.2"}) {
    EXPECT_FALSE(In(ranges.value(), out)) << out;
  }
  Result<std::vector<AddressRange>> everything = ParseAddressRanges("0.0.0.0/0");
  ASSERT_TRUE(everything.ok());
  EXPECT_TRUE(In(everything.value(), "10.9.8.7"));
  EXPECT_FALSE(In(everything.value(), "fd00::1")) << "an IPv4 range holds no IPv6 address";
}

TEST(UrlPolicyTest, AMalformedRangeIsAUsageErrorNamingIt) {
  for (const char* bad : {"", "10.0.0.0/8,", "10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0/8",
                          "localhost", "10.0.0.0/8x", "10.0.0.0/-1", "10.0.0.0/0008"}) {
    Result<std::vector<AddressRange>> ranges = ParseAddressRanges(bad);
    ASSERT_FALSE(ranges.ok()) << bad;
    EXPECT_EQ(ranges.status().code(), Code::kUsage) << bad;
    EXPECT_NE(ranges.status().message().find("--allow-private-networks"), std::string::npos);
  }
}

TEST(UrlPolicyTest, AcceptsHttpAndHttpsOnly) {
  EXPECT_TRUE(CheckUrl("http://example.com/a.jpg").ok());
  EXPECT_TRUE(CheckUrl("https://example.com:8443/a.jpg?x=1").ok());
  for (const char* bad : {"", "ftp://example.com/a", "file:///etc/passwd", "gopher://x/",
                          "not a url", "http://", "javascript:alert(1)", "//example.com/a"}) {
    Status s = CheckUrl(bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.code(), Code::kBadUrl) << bad;
  }
}

TEST(UrlPolicyTest, RefusesInternalIpv4Ranges) {
  EXPECT_EQ(Blocked("127.0.0.1"), "loopback");
  EXPECT_EQ(Blocked("127.255.0.9"), "loopback");
  EXPECT_EQ(Blocked("10.1.2.3"), "private");
  EXPECT_EQ(Blocked("172.16.0.1"), "private");
  EXPECT_EQ(Blocked("172.31.255.255"), "private");
  EXPECT_EQ(Blocked("192.168.1.1"), "private");
  EXPECT_TRUE(Blocked("169.254.169.254").has_value());  // cloud metadata
  EXPECT_EQ(Blocked("0.0.0.0"), "unspecified");
  EXPECT_TRUE(Blocked("100.64.0.1").has_value());
  EXPECT_EQ(Blocked("224.0.0.1"), "multicast");
  EXPECT_FALSE(Blocked("8.8.8.8").has_value());
  EXPECT_FALSE(Blocked("172.32.0.1").has_value());
  EXPECT_FALSE(Blocked("192.169.0.1").has_value());
}

TEST(UrlPolicyTest, RefusesInternalIpv6RangesAndEmbeddedIpv4) {
  EXPECT_EQ(Blocked("::1"), "loopback");
  EXPECT_EQ(Blocked("::"), "unspecified");
  EXPECT_TRUE(Blocked("fc00::1").has_value());
  EXPECT_TRUE(Blocked("fd00:ec2::254").has_value());
  EXPECT_EQ(Blocked("fe80::1"), "link-local");
  EXPECT_EQ(Blocked("::ffff:127.0.0.1"), "loopback");
  EXPECT_EQ(Blocked("::ffff:10.0.0.1"), "private");
  EXPECT_TRUE(Blocked("::ffff:169.254.169.254").has_value());
  EXPECT_EQ(Blocked("64:ff9b::192.168.0.1"), "private");
  EXPECT_EQ(Blocked("2002:7f00:1::"), "loopback");  // 6to4 of 127.0.0.1
  EXPECT_FALSE(Blocked("2001:4860:4860::8888").has_value());
  EXPECT_FALSE(Blocked("::ffff:8.8.8.8").has_value());
}

// Every IPv6 form that carries an IPv4 address is judged by that address: the cloud metadata
// service and loopback hide in each of them.
TEST(UrlPolicyTest, RefusesEveryIpv6FormOfAnInternalIpv4Address) {
  for (const char* hostile : {
           "64:ff9b:1::a9fe:a9fe",        // local-use NAT64 (RFC 8215), /96 form
           "64:ff9b:1::169.254.169.254",  // the same, written with its IPv4 address
           "64:ff9b:1:a9fe:a9:fe00::",    // local-use NAT64 at /48 (bytes 6-7, 9-10)
           "64:ff9b:1:a9:fe:a9fe::",      // /56 (bytes 7, 9-11)
           "64:ff9b:1:0:a9:fea9:fe00::",  // /64 (bytes 9-12)
           "::ffff:0:a9fe:a9fe",          // SIIT (::ffff:0:0:0/96)
           "::ffff:0:7f00:1",             // SIIT of 127.0.0.1
           "2001:0:a9fe:a9fe::",          // Teredo whose server is 169.254.169.254
           "2001:0:808:808::80ff:fffe",   // Teredo whose client is 127.0.0.1 (XOR all ones)
           "2002:a9fe:a9fe::",            // 6to4
           "::a9fe:a9fe",                 // IPv4-compatible
           "::127.0.0.1",                 // IPv4-compatible loopback
       }) {
    EXPECT_TRUE(Blocked(hostile).has_value()) << hostile;
  }
  EXPECT_EQ(Blocked("::ffff:0:7f00:1"), "loopback");
  EXPECT_EQ(Blocked("::ffff:0:a00:1"), "private");
  EXPECT_EQ(Blocked("64:ff9b:1::7f00:1"), "loopback");
  EXPECT_EQ(Blocked("2001:0:7f00:1::"), "loopback");
  // A local-use NAT64 address that is no translation of any IPv4 address is refused too.
  EXPECT_TRUE(Blocked("64:ff9b:1:1:1:1:1:1").has_value());
  // Public addresses in the same forms stay allowed.
  for (const char* fine : {"64:ff9b:1::808:808", "64:ff9b::8.8.8.8", "::ffff:0:808:808",
                           "2001:0:808:808::f7f7:f7f7", "2002:808:808::1", "::8.8.8.8"}) {
    EXPECT_FALSE(Blocked(fine).has_value()) << fine << ": " << *Blocked(fine);
  }
}

TEST(UrlPolicyTest, ControlBytesAreBadUrlsNotCutShort) {
  const std::string with_nul("http://example.com/a.jpg\0http://10.0.0.1/", 42);
  Status s = CheckUrl(with_nul);
  EXPECT_EQ(s.code(), Code::kBadUrl);
  EXPECT_NE(s.message().find("0x00 at offset 24"), std::string::npos) << s.message();
  EXPECT_EQ(CheckUrl("http://example.com/a\r\nHost: evil").code(), Code::kBadUrl);
  EXPECT_EQ(CheckUrl("http://example.com/\x7f").code(), Code::kBadUrl);
}

TEST(UrlPolicyTest, HostKeyGroupsByHostAndPort) {
  std::string a, b, c;
  ASSERT_TRUE(CheckUrl("http://Example.COM/a.jpg", &a).ok());
  ASSERT_TRUE(CheckUrl("http://example.com:80/b.jpg?x", &b).ok());
  ASSERT_TRUE(CheckUrl("https://example.com/c.jpg", &c).ok());
  EXPECT_EQ(a, "http://example.com:80");
  EXPECT_EQ(a, b);
  EXPECT_EQ(c, "https://example.com:443");
}

TEST(UrlPolicyTest, RedactsPasswordsQueryValuesAndFragments) {
  EXPECT_EQ(RedactUrl("http://alice:s3cret@host/path?token=abc&sig=xyz"),
            "http://alice:***@host/path?token=***&sig=***");
  EXPECT_EQ(RedactUrl("https://host/p?just-a-token"), "https://host/p?***");
  EXPECT_EQ(RedactUrl("https://host/p#access_token=abc"), "https://host/p#***");
  EXPECT_EQ(RedactUrl("http://bob@host/x.jpg"), "http://***@host/x.jpg");
  // Forms curl accepts or refuses that must not slip past: one or three slashes, a '/' in the
  // password, a URL in the query.
  EXPECT_EQ(RedactUrl("http:/user:secret@host.com/x"), "http:/user:***@host.com/x");
  EXPECT_EQ(RedactUrl("https:///user:secret@host.com/x"), "https:///user:***@host.com/x");
  EXPECT_EQ(RedactUrl("http://user:se/cret@host/"), "http://user:***@host/");
  EXPECT_EQ(RedactUrl("http:/u:secret@h/?next=http://x"), "http:/u:***@h/?next=***");
  EXPECT_EQ(RedactUrl("http://host/x.jpg"), "http://host/x.jpg");
  EXPECT_EQ(RedactUrl("not a url ?a=1"), "not a url ?a=***");
  const std::string nul("http://h/a\0b", 12);
  EXPECT_EQ(RedactUrl(nul), "http://h/a%00b");
  for (const std::string& url : {std::string("http://u:p@h/?a=b"), std::string("?&&=&"),
                                 std::string("@@@:::"), std::string("http://")}) {
    EXPECT_EQ(RedactUrl(url).find("p@"), std::string::npos) << url;
  }
}

TEST(UrlPolicyTest, LongUrlsAreCut) {
  const std::string url = "http://host/" + std::string(100000, 'a') + "?secret=1";
  const std::string shown = RedactUrl(url);
  EXPECT_LT(shown.size(), 300u);
  EXPECT_NE(shown.find("(100021 bytes)"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("secret=1"), std::string::npos);
}

}  // namespace
TEST(UrlPolicyTest, CanonicalUrlMakesOneSpellingOfTheSameImage) {
  const std::string a = CanonicalUrl("http://example.com/img/a.jpg?size=2");
  ASSERT_EQ(a, "http://example.com/img/a.jpg?size=2");
  for (const char* same :
       {"HTTP://Example.COM/img/a.jpg?size=2", "http://example.com:80/img/a.jpg?size=2",
        "http://example.com/img/%61.jpg?size=2", "http://example.com/img/a.jpg?size=%32",
        "http://example.com/img/a.jpg?size=2#top"}) {
    EXPECT_EQ(CanonicalUrl(same), a) << same;
  }
  EXPECT_EQ(CanonicalUrl("https://example.com:443/x"), "https://example.com/x");
  EXPECT_EQ(CanonicalUrl("http://example.com/a%2fb"), CanonicalUrl("http://example.com/a%2Fb"));
  EXPECT_EQ(CanonicalUrl("http://example.com"), "http://example.com/");
}

TEST(UrlPolicyTest, CanonicalUrlKeepsWhatNamesAnotherImage) {
  const std::string a = CanonicalUrl("http://example.com/img/a.jpg");
  for (const char* other : {"http://example.com/img/A.jpg", "https://example.com/img/a.jpg",
                            "http://example.com:8080/img/a.jpg", "http://example.com/img/a.jpg?x=1",
                            "http://example.org/img/a.jpg", "http://u:p@example.com/img/a.jpg"}) {
    EXPECT_NE(CanonicalUrl(other), a) << other;
  }
  // An escaped reserved byte is not the byte itself: %2F is not a path separator.
  EXPECT_NE(CanonicalUrl("http://example.com/a%2Fb"), CanonicalUrl("http://example.com/a/b"));
  EXPECT_NE(CanonicalUrl("http://example.com/?q=a%26b"), CanonicalUrl("http://example.com/?q=a&b"));
  // Not an image URL: no form at all.
  EXPECT_EQ(CanonicalUrl("ftp://example.com/a"), "");
  EXPECT_EQ(CanonicalUrl("not a url"), "");
}

}  // namespace pixelmill
