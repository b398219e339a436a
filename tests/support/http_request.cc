#include "tests/support/http_request.h"

#include <algorithm>
#include <charconv>

namespace pixelmill::fixture {
namespace {

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), IsTokenChar);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Field values may hold visible bytes, obs-text (>= 0x80), spaces and tabs; no other controls.
bool IsValidFieldValue(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

bool IsValidTarget(std::string_view target) {
  return !target.empty() && target.front() == '/' &&
         std::all_of(target.begin(), target.end(), [](char c) {
           auto u = static_cast<unsigned char>(c);
           return u > 0x20 && u < 0x7f;
         });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Returns the length of the head (through its empty line) in `buffer`, or npos. Lines before
// `from` were already checked and are not empty.
size_t FindHeadEnd(std::string_view buffer, size_t& from) {
  while (true) {
    size_t newline = buffer.find('\n', from);
    if (newline == std::string_view::npos) return std::string_view::npos;
    std::string_view line = buffer.substr(from, newline - from);
    if (line.empty() || line == "\r") return newline + 1;
    from = newline + 1;
  }
}

}  // namespace

void RequestParser::Feed(std::string_view data) {
  if (buffer_.empty() && body_to_skip_ > 0) {
    size_t skip = static_cast<size_t>(std::min<uint64_t>(body_to_skip_, data.size()));
    body_to_skip_ -= skip;
    data.remove_prefix(skip);
  }
  buffer_.append(data);
}

ParseStatus RequestParser::Next(Request& request) {
  if (body_to_skip_ > 0) {
    size_t skip = static_cast<size_t>(std::min<uint64_t>(body_to_skip_, buffer_.size()));
    buffer_.erase(0, skip);
    body_to_skip_ -= skip;
    if (body_to_skip_ > 0) return ParseStatus::kNeedMore;
  }
  // RFC 9112 section 2.2: ignore empty lines before a request line.
  size_t start = buffer_.find_first_not_of("\r\n");
  if (start == std::string::npos) start = buffer_.size();
  if (start > 0) {
    buffer_.erase(0, start);
    scanned_ = 0;
  }
  size_t end = FindHeadEnd(buffer_, scanned_);
  if (end == std::string_view::npos) {
    return buffer_.size() > kMaxHead ? ParseStatus::kHeadTooLarge : ParseStatus::kNeedMore;
  }
  if (end > kMaxHead) return ParseStatus::kHeadTooLarge;
  ParseStatus status = ParseHead(std::string_view(buffer_).substr(0, end), request);
  buffer_.erase(0, end);
  scanned_ = 0;
  return status;
}

void RequestParser::Clear() {
  buffer_.clear();
  buffer_.shrink_to_fit();
  scanned_ = 0;
  body_to_skip_ = 0;
}

ParseStatus RequestParser::ParseHead(std::string_view head, Request& request) {
  request = Request();
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    size_t newline = head.find('\n');
    std::string_view line = head.substr(0, newline);
    head.remove_prefix(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    lines.push_back(line);
  }
  if (lines.empty()) return ParseStatus::kBadRequest;

  // request-line = method SP request-target SP HTTP-version
  std::string_view request_line = lines[0];
  size_t space1 = request_line.find(' ');
  if (space1 == std::string_view::npos) return ParseStatus::kBadRequest;
  size_t space2 = request_line.find(' ', space1 + 1);
  if (space2 == std::string_view::npos) return ParseStatus::kBadRequest;
  std::string_view method = request_line.substr(0, space1);
  std::string_view target = request_line.substr(space1 + 1, space2 - space1 - 1);
  std::string_view version = request_line.substr(space2 + 1);
  // The absolute form ("GET http://host:port/path HTTP/1.1") is what a client sends to a proxy:
  // the fixture then acts as a forward proxy that serves every target itself (tests of
  // --proxy), never connecting anywhere.
  if (target.rfind("http://", 0) == 0) {
    const size_t slash = target.find('/', 7);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    request.proxied = true;
  }
  if (!IsToken(method) || !IsValidTarget(target)) return ParseStatus::kBadRequest;
  if (version == "HTTP/1.1") {
    request.version_minor = 1;
  } else if (version == "HTTP/1.0") {
    request.version_minor = 0;
  } else {
    return ParseStatus::kBadRequest;
  }
  request.method = method;
  request.target = target;
  size_t question = target.find('?');
  request.path = target.substr(0, question);
  if (question != std::string_view::npos) request.query = target.substr(question + 1);

  bool saw_close = false;
  bool saw_keep_alive = false;
  bool saw_host = false;
  request.headers.clear();
  std::optional<uint64_t> content_length;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return ParseStatus::kBadRequest;
    std::string_view name = line.substr(0, colon);  // obs-fold lines fail here: not a token
    std::string_view value = Trim(line.substr(colon + 1));
    if (!IsToken(name) || !IsValidFieldValue(value)) return ParseStatus::kBadRequest;
    if (EqualsIgnoreCase(name, "host")) {
      if (saw_host) return ParseStatus::kBadRequest;
      saw_host = true;
      request.host = value;
    } else if (EqualsIgnoreCase(name, "connection")) {
      while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view option = Trim(value.substr(0, comma));
        value.remove_prefix(comma == std::string_view::npos ? value.size() : comma + 1);
        if (EqualsIgnoreCase(option, "close")) saw_close = true;
        if (EqualsIgnoreCase(option, "keep-alive")) saw_keep_alive = true;
      }
    } else if (EqualsIgnoreCase(name, "content-length")) {
      uint64_t length = 0;
      auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (value.empty() || error != std::errc() || end != value.data() + value.size()) {
        return ParseStatus::kBadRequest;
      }
      if (content_length && *content_length != length) return ParseStatus::kBadRequest;
      content_length = length;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      return ParseStatus::kBadRequest;  // GETs have no body; chunked uploads are not supported
    } else if (request.headers.size() < 64) {
      request.headers.emplace_back(name, value);
    }
  }
  request.keep_alive = request.version_minor == 1 ? !saw_close : saw_keep_alive && !saw_close;
  body_to_skip_ = content_length.value_or(0);
  return ParseStatus::kRequest;
}

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    int high = HexValue(text[i + 1]);
    int low = HexValue(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

std::optional<std::vector<QueryParam>> ParseQuery(std::string_view query) {
  std::vector<QueryParam> params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (piece.empty()) continue;
    size_t equals = piece.find('=');
    auto key = PercentDecode(piece.substr(0, equals));
    auto value = PercentDecode(equals == std::string_view::npos ? std::string_view()
                                                                : piece.substr(equals + 1));
    if (!key || !value) return std::nullopt;
    params.push_back(QueryParam{std::move(*key), std::move(*value), piece});
  }
  return params;
}

}  // namespace pixelmill::fixture
