// What the downloader may fetch: URL checks before a request, and the address check curl calls
// for every connection it opens (redirects included), so a hostile URL cannot reach the
// coordinator's own network (SSRF). Pure functions; any thread.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace pixelmill {

// Ok for an absolute http:// or https:// URL with a host and no control byte (a NUL would cut
// it short); else code kBadUrl and why. Sets `host_key` (if given) to the URL's
// "scheme://host:port", the unit of per-host limits and health.
Status CheckUrl(std::string_view url, std::string* host_key = nullptr);

// The one spelling of what `url` names, for telling which users share an image: the scheme and
// host lower-cased (the host as curl parses it), the scheme's default port dropped, every
// percent-escape's hex upper-cased and an escaped unreserved byte (letter, digit, - . _ ~)
// decoded, the fragment dropped (it is never sent). The path's and the query's case and any
// other byte are kept: "/A.jpg" and "/a.jpg" are different images. "" when `url` does not pass
// CheckUrl.
std::string CanonicalUrl(std::string_view url);

// `url` as pixelmill may write it (manifest, report, logs): the password of user:password@,
// every query value and the fragment replaced by ***, control bytes %-escaped, and cut to
// `max_bytes` with a note of the full length. Works on malformed URLs too.
std::string RedactUrl(std::string_view url, size_t max_bytes = 256);

// `text` (a raw, possibly malformed record) with every URL-shaped substring in it redacted as
// RedactUrl does: "scheme://" (or a JSON-escaped "scheme:\/\/") up to an unescaped '"', a blank
// or a control byte. Everything else is kept byte for byte.
std::string RedactUrlsInText(std::string_view text);

// The host name of an http(s) URL (punycode for an internationalised one), or "" if none.
std::string UrlHost(std::string_view url);

// Why connecting to `address` is refused ("loopback", "private", "link-local", ...), or nullopt
// when it is a public unicast address. IPv6 forms that carry an IPv4 address are judged by it:
// mapped (::ffff:0:0/96), SIIT (::ffff:0:0:0/96), IPv4-compatible (::/96), NAT64 (64:ff9b::/96,
// and local-use 64:ff9b:1::/48 at each RFC 6052 length), 6to4 (2002::/16) and Teredo
// (2001::/32: its server and its client address).
std::optional<std::string_view> BlockedRange(const sockaddr& address);

// An address range in CIDR form: 10.1.0.0/16, 127.0.0.1/32, fd00::/8.
struct AddressRange {
  int family = 0;                   // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // the network address (IPv4 in the first 4)
  int prefix = 0;                   // leading bits that must match
};

// "A/N,B/M,..." (an address without /N is one host; blanks around items are allowed) as
// ranges; code kUsage naming the item that is not one.
Result<std::vector<AddressRange>> ParseAddressRanges(std::string_view list);

// Whether `address` lies in one of `ranges`; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
// judged as its IPv4 address.
bool InRanges(const std::vector<AddressRange>& ranges, const sockaddr& address);

// "10.1.2.3" / "fe80::1" for messages.
std::string AddressToString(const sockaddr& address);

}  // namespace pixelmill
