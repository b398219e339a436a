#include "coordinator/download/request_headers.h"

#include <strings.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <new>

namespace pixelmill {
namespace {

bool TokenChar(unsigned char c) {
  return std::isalnum(c) != 0 || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::string> CheckHeader(std::string_view line, const std::string& where) {
  const auto bad = [&where](const std::string& why) {
    return Status::Error(Code::kUsage, where + ": " + why + " (the form is 'Name: value')");
  };
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return bad("no ':' after the header's name");
  const std::string_view name = line.substr(0, colon);
  if (name.empty()) return bad("the header has no name");
  for (unsigned char c : name) {
    if (!TokenChar(c)) return bad("the header's name has a character a name cannot have");
  }
  const std::string_view value = Trim(line.substr(colon + 1));
  const std::string shown(name);
  for (unsigned char c : value) {
    if (c < 0x20 ? c != '\t' : c == 0x7f) {
      return bad("the value of " + shown + " has a control byte (CR, LF, NUL...)");
    }
  }
  if (value.empty()) return bad("the value of " + shown + " is empty");
  static constexpr std::array<const char*, 4> kCurlOwns = {"Host", "Content-Length",
                                                           "Transfer-Encoding", "Connection"};
  for (const char* own : kCurlOwns) {
    if (name.size() == std::strlen(own) && strncasecmp(name.data(), own, name.size()) == 0) {
      return bad(shown + " is set by pixelmill itself");
    }
  }
  return shown + ": " + std::string(value);
}

Result<std::vector<std::string>> ReadHeadersFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::Error(Code::kUsage,
                         "--headers-file " + path + ": cannot open it: " + std::strerror(errno));
  }
  std::vector<std::string> headers;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string_view text = Trim(line);
    if (text.empty() || text.front() == '#') continue;
    Result<std::string> header = CheckHeader(text, path + ":" + std::to_string(number));
    if (!header.ok()) return header.status();
    headers.push_back(std::move(header).value());
  }
  if (in.bad()) {
    return Status::Error(Code::kUsage, "--headers-file " + path + ": cannot read it");
  }
  return headers;
}

HeaderList::HeaderList(const std::vector<std::string>& headers) {
  for (const std::string& h : headers) {
    curl_slist* next = curl_slist_append(list_, h.c_str());
    if (next == nullptr) throw std::bad_alloc();  // never a header silently left out
    list_ = next;
  }
}

HeaderList::~HeaderList() { curl_slist_free_all(list_); }

}  // namespace pixelmill
