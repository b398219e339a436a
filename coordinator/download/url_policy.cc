#include "coordinator/download/url_policy.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

namespace pixelmill {
namespace {

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlStringDeleter {
  void operator()(char* s) const { curl_free(s); }
};
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

std::optional<std::string_view> BlockedV4(uint32_t a) {  // host byte order
  const auto in = [a](uint32_t net, int bits) {
    return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits));
  };
  if (in(0x7f000000, 8)) return "loopback";
  if (in(0x0a000000, 8) || in(0xac100000, 12) || in(0xc0a80000, 16)) return "private";
  if (in(0xa9fe0000, 16)) return "link-local (cloud metadata lives here)";
  if (in(0x00000000, 8)) return "unspecified";
  if (in(0x64400000, 10)) return "shared address space (carrier-grade NAT)";
  if (in(0xc0000000, 24) || in(0xc6120000, 15)) return "reserved";
  if (in(0xe0000000, 4)) return "multicast";
  if (in(0xf0000000, 4)) return "reserved";
  return std::nullopt;
}

uint32_t V4At(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

bool AllZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t byte) { return byte == 0; });
}

// The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) may be used at any RFC 6052 length from
// /48 to /96, with the IPv4 address at a different place in each (skipping byte 8, the
// "u" octet, which is always zero). Every length whose other bits are zero is a reading the
// translator may make, so each is judged; an address with no such reading is not a
// translation at all, and the prefix is not globally reachable anyway.
std::optional<std::string_view> BlockedLocalNat64(const uint8_t* b) {
  static constexpr int kPlaces[][4] = {
      {6, 7, 9, 10}, {7, 9, 10, 11}, {9, 10, 11, 12}, {12, 13, 14, 15}};  // /48 /56 /64 /96
  bool any = false;
  for (const auto& place : kPlaces) {
    uint8_t rest[16];
    std::memcpy(rest, b, 16);
    uint8_t v4[4];
    for (int i = 0; i < 4; ++i) v4[i] = std::exchange(rest[place[i]], 0);
    if (!AllZero(rest + 6, 10)) continue;  // bits outside this reading are set
    any = true;
    if (auto range = BlockedV4(V4At(v4))) return range;
  }
  if (!any) return "reserved (local-use NAT64 without an IPv4 address)";
  return std::nullopt;
}

std::optional<std::string_view> BlockedV6(const uint8_t* b) {
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const uint8_t kSiit[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};  // ::ffff:0:0:0/96
  static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  static const uint8_t kLocalNat64[6] = {0, 0x64, 0xff, 0x9b, 0, 0x01};
  static const uint8_t kTeredo[4] = {0x20, 0x01, 0, 0};
  if (AllZero(b, 15) && b[15] <= 1) return b[15] ? "loopback" : "unspecified";
  if (std::memcmp(b, kMapped, 12) == 0 || std::memcmp(b, kSiit, 12) == 0 ||
      std::memcmp(b, kNat64, 12) == 0 || AllZero(b, 12)) {  // mapped, SIIT, NAT64, compatible
    return BlockedV4(V4At(b + 12));
  }
  if (std::memcmp(b, kLocalNat64, 6) == 0) return BlockedLocalNat64(b);
  if (b[0] == 0x20 && b[1] == 0x02) return BlockedV4(V4At(b + 2));  // 6to4
  if (std::memcmp(b, kTeredo, 4) == 0) {
    // Teredo 2001::/32: the server's IPv4 address in bits 32-63, the client's (obfuscated by
    // XOR with all ones) in the last 32; either may be the target of a tunnelled packet.
    if (auto range = BlockedV4(V4At(b + 4))) return range;
    return BlockedV4(~V4At(b + 12));
  }
  if ((b[0] & 0xfe) == 0xfc) return "private (unique local)";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "site-local";
  if (b[0] == 0xff) return "multicast";
  return std::nullopt;
}

CurlString UrlPart(CURLU* handle, CURLUPart part, unsigned flags = 0) {
  char* raw = nullptr;
  curl_url_get(handle, part, &raw, flags);
  return CurlString(raw);
}

bool Unreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `part` with its percent-escapes in one spelling (see CanonicalUrl).
void AppendEscapesNormalised(std::string_view part, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < part.size(); ++i) {
    const int hi = i + 2 < part.size() && part[i] == '%' ? HexValue(part[i + 1]) : -1;
    const int lo = hi >= 0 ? HexValue(part[i + 2]) : -1;
    if (lo < 0) {
      out += part[i];
      continue;
    }
    const auto byte = static_cast<unsigned char>(hi * 16 + lo);
    if (Unreserved(byte)) {
      out += static_cast<char>(byte);
    } else {
      out += '%';
      out += kHex[hi];
      out += kHex[lo];
    }
    i += 2;
  }
}

std::string Lower(const char* text) {
  std::string out = text != nullptr ? text : "";
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string CanonicalUrl(std::string_view url) {
  if (!CheckUrl(url).ok()) return {};
  std::unique_ptr<CURLU, CurlUrlDeleter> handle(curl_url());
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, std::string(url).c_str(), 0)) return {};
  CURLU* h = handle.get();
  std::string out = Lower(UrlPart(h, CURLUPART_SCHEME).get()) + "://";
  CurlString user = UrlPart(h, CURLUPART_USER);
  CurlString password = UrlPart(h, CURLUPART_PASSWORD);
  if (user || password) {
    AppendEscapesNormalised(user ? user.get() : "", out);
    if (password) {
      out += ':';
      AppendEscapesNormalised(password.get(), out);
    }
    out += '@';
  }
  out += Lower(UrlPart(h, CURLUPART_HOST).get());
  if (CurlString port = UrlPart(h, CURLUPART_PORT, CURLU_NO_DEFAULT_PORT)) {
    out += ':';
    out += port.get();
  }
  CurlString path = UrlPart(h, CURLUPART_PATH);
  AppendEscapesNormalised(path && path.get()[0] != '\0' ? path.get() : "/", out);
  if (CurlString query = UrlPart(h, CURLUPART_QUERY)) {
    out += '?';
    AppendEscapesNormalised(query.get(), out);
  }
  return out;
}

Status CheckUrl(std::string_view url, std::string* host_key) {
  if (url.empty()) return Status::Error(Code::kBadUrl, "empty URL");
  for (size_t i = 0; i < url.size(); ++i) {
    const auto byte = static_cast<unsigned char>(url[i]);
    if (byte < 0x20 || byte == 0x7f) {
      char what[64];
      std::snprintf(what, sizeof(what), "URL contains control byte 0x%02x at offset %zu", byte, i);
      return Status::Error(Code::kBadUrl, what);
    }
  }
  const std::string text(url);
  std::unique_ptr<CURLU, CurlUrlDeleter> handle(curl_url());
  if (!handle) return Status::Error(Code::kBadUrl, "out of memory parsing URL");
  if (CURLUcode rc = curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), 0)) {
    return Status::Error(Code::kBadUrl, "malformed URL: " + std::string(curl_url_strerror(rc)));
  }
  CurlString scheme = UrlPart(handle.get(), CURLUPART_SCHEME);
  const std::string_view s = scheme ? scheme.get() : "";
  if (s != "http" && s != "https") {
    return Status::Error(Code::kBadUrl,
                         "scheme '" + std::string(s) + "' is not allowed (http and https only)");
  }
  CurlString host = UrlPart(handle.get(), CURLUPART_HOST);
  if (!host || host.get()[0] == '\0') return Status::Error(Code::kBadUrl, "URL has no host");
  if (host_key != nullptr) {
    CurlString port = UrlPart(handle.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
    *host_key = std::string(s) + "://" + host.get() + ":" + (port ? port.get() : "");
    for (char& c : *host_key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return Status::Ok();
}

std::string UrlHost(std::string_view url) {
  std::unique_ptr<CURLU, CurlUrlDeleter> handle(curl_url());
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, std::string(url).c_str(), 0)) return {};
  CurlString host = UrlPart(handle.get(), CURLUPART_HOST, CURLU_PUNYCODE);
  if (!host) host = UrlPart(handle.get(), CURLUPART_HOST);
  std::string out = host ? host.get() : "";
  if (out.size() >= 2 && out.front() == '[' && out.back() == ']')
    out = out.substr(1, out.size() - 2);
  return out;
}

std::string RedactUrl(std::string_view url, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(url.size(), max_bytes) + 16);
  // The authority starts after "scheme:" and any run of slashes (curl also accepts http:/host
  // and http:///host); without a scheme, at the start.
  size_t authority = 0;
  const size_t colon = url.find(':');
  if (colon != std::string_view::npos && colon > 0 &&
      std::isalpha(static_cast<unsigned char>(url[0])) &&
      std::all_of(url.begin(), url.begin() + static_cast<ptrdiff_t>(colon), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
      })) {
    authority = colon + 1;
    while (authority < url.size() && (url[authority] == '/' || url[authority] == '\\')) ++authority;
  }
  const size_t query = std::min(url.find_first_of("?#", authority), url.size());
  const size_t fragment = std::min(url.find('#', authority), url.size());
  // The user information ends at the last '@' before the query: in a URL curl refuses, a
  // password may hold a '/', so an '@' in a path is hidden too (better too much than a secret).
  const size_t at = url.substr(0, query).rfind('@');
  std::string plain(url.substr(0, authority));
  if (at != std::string_view::npos && at >= authority) {
    const std::string_view userinfo = url.substr(authority, at - authority);
    const size_t password = userinfo.find(':');
    // A user alone may itself be a token (https://TOKEN@host): it is hidden too.
    plain += password == std::string_view::npos
                 ? "***"
                 : std::string(userinfo.substr(0, password + 1)) + "***";
    plain += url.substr(at, query - at);
  } else {
    plain += url.substr(authority, query - authority);
  }
  if (query < fragment) {  // ?a=1&b=2 -> ?a=***&b=***; a bare value is hidden whole
    plain += '?';
    const std::string_view rest = url.substr(query + 1, fragment - query - 1);
    for (size_t start = 0;;) {
      const size_t amp = std::min(rest.find('&', start), rest.size());
      const std::string_view pair = rest.substr(start, amp - start);
      const size_t eq = pair.find('=');
      if (eq != std::string_view::npos) {
        plain += pair.substr(0, eq + 1);
        plain += "***";
      } else if (!pair.empty()) {
        plain += "***";
      }
      if (amp == rest.size()) break;
      plain += '&';
      start = amp + 1;
    }
  }
  if (fragment < url.size()) plain += "#***";
  size_t used = 0;
  for (; used < plain.size() && out.size() < max_bytes; ++used) {
    const auto byte = static_cast<unsigned char>(plain[used]);
    if (byte < 0x20 || byte == 0x7f) {
      char escaped[4];
      std::snprintf(escaped, sizeof(escaped), "%%%02X", byte);
      out += escaped;
    } else {
      out += plain[used];
    }
  }
  if (used < plain.size()) out += "...(" + std::to_string(url.size()) + " bytes)";
  return out;
}

std::string RedactUrlsInText(std::string_view text) {
  const auto is_scheme_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  };
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;
  for (size_t at = text.find(':'); at != std::string_view::npos; at = text.find(':', at + 1)) {
    const std::string_view after = text.substr(at + 1);
    if (after.substr(0, 2) != "//" && after.substr(0, 4) != "\\/\\/") continue;
    size_t start = at;
    while (start > copied && is_scheme_char(text[start - 1])) --start;
    while (start < at && !std::isalpha(static_cast<unsigned char>(text[start]))) ++start;
    if (start == at) continue;  // no scheme before "://"
    // The URL ends at a quote that is not escaped (an even run of backslashes before it), a
    // blank or a control byte.
    size_t end = at + 1;
    for (size_t backslashes = 0; end < text.size(); ++end) {
      const auto byte = static_cast<unsigned char>(text[end]);
      if (byte <= 0x20 || byte == 0x7f || (byte == '"' && backslashes % 2 == 0)) break;
      backslashes = byte == '\\' ? backslashes + 1 : 0;
    }
    out.append(text.substr(copied, start - copied));
    out += RedactUrl(text.substr(start, end - start), std::numeric_limits<size_t>::max());
    copied = end;
    at = end - 1;
  }
  out.append(text.substr(copied));
  return out;
}

std::optional<std::string_view> BlockedRange(const sockaddr& address) {
  if (address.sa_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    return BlockedV4(ntohl(v4.sin_addr.s_addr));
  }
  if (address.sa_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    return BlockedV6(v6.sin6_addr.s6_addr);
  }
  return "not an internet address";
}

std::string AddressToString(const sockaddr& address) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (address.sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, buf, sizeof(buf));
  } else if (address.sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, buf,
              sizeof(buf));
  }
  return buf;
}

namespace {

bool PrefixMatches(const uint8_t* address, const AddressRange& range) {
  const int whole = range.prefix / 8, bits = range.prefix % 8;
  if (std::memcmp(address, range.bytes.data(), static_cast<size_t>(whole)) != 0) return false;
  if (bits == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - bits));
  return (address[whole] & mask) == (range.bytes[static_cast<size_t>(whole)] & mask);
}

}  // namespace

Result<std::vector<AddressRange>> ParseAddressRanges(std::string_view list) {
  std::vector<AddressRange> ranges;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    std::string item(list.substr(start, comma - start));
    start = comma + 1;
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    const auto refuse = [&](const std::string& why) {
      return Status::Error(Code::kUsage, "--allow-private-networks: '" + item + "' is not " + why +
                                             " (CIDR, e.g. 10.1.0.0/16 or 127.0.0.1/32)");
    };
    if (item.empty()) return refuse("an address range");
    const size_t slash = item.find('/');
    const std::string host = item.substr(0, slash);
    AddressRange range;
    if (inet_pton(AF_INET, host.c_str(), range.bytes.data()) == 1) {
      range.family = AF_INET;
    } else if (inet_pton(AF_INET6, host.c_str(), range.bytes.data()) == 1) {
      range.family = AF_INET6;
    } else {
      return refuse("an IPv4 or IPv6 address range");
    }
    const int max_prefix = range.family == AF_INET ? 32 : 128;
    range.prefix = max_prefix;
    if (slash != std::string::npos) {
      const std::string bits = item.substr(slash + 1);
      if (bits.empty() || bits.size() > 3 ||
          bits.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(bits) > max_prefix) {
        return refuse("an address range: the prefix must be 0.." + std::to_string(max_prefix));
      }
      range.prefix = std::stoi(bits);
    }
    ranges.push_back(range);
  }
  return ranges;
}

bool InRanges(const std::vector<AddressRange>& ranges, const sockaddr& address) {
  const uint8_t* v4 = nullptr;
  const uint8_t* v6 = nullptr;
  if (address.sa_family == AF_INET) {
    v4 = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in&>(address).sin_addr.s_addr);
  } else if (address.sa_family == AF_INET6) {
    v6 = reinterpret_cast<const sockaddr_in6&>(address).sin6_addr.s6_addr;
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(v6, kMapped, sizeof(kMapped)) == 0) v4 = v6 + 12;
  }
  for (const AddressRange& range : ranges) {
    if (range.family == AF_INET && v4 != nullptr && PrefixMatches(v4, range)) return true;
    if (range.family == AF_INET6 && v6 != nullptr && PrefixMatches(v6, range)) return true;
  }
  return false;
}

}  // namespace pixelmill
