// The request headers every download sends (--header, --headers-file, --user-agent): checked
// once at start, held as one curl list the easy handles share. A header's value may be a
// secret (a bearer token), so no message here ever quotes a value: only names, files and line
// numbers.
#pragma once

#include <curl/curl.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace pixelmill {

// `line` as a header to send: "Name: value" with the name a token (letters, digits and
// !#$%&'*+-.^_`|~), the value free of control bytes (no CR, LF or NUL: no header injection),
// blanks around it trimmed. Host, Content-Length, Transfer-Encoding and Connection are
// refused (curl sets them); so is an empty value. `where` names the source in the message
// ("--header 2", "tokens.txt:3").
Result<std::string> CheckHeader(std::string_view line, const std::string& where);

// The headers of FILE, one a line; blank lines and lines starting with '#' skipped; CRLF line
// ends accepted. A missing or unreadable file, or a bad line (by number), is an error.
Result<std::vector<std::string>> ReadHeadersFile(const std::string& path);

// A curl_slist of checked headers, freed with the object.
class HeaderList {
 public:
  HeaderList() = default;
  explicit HeaderList(const std::vector<std::string>& headers);
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList();

  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

}  // namespace pixelmill
