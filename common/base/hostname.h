// Hostname: this machine's name as gethostname() gives it, for worker ids and messages.
#pragma once

#include <string>

namespace pixelmill {

// This machine's host name, or "localhost" when it cannot be read. Never empty.
std::string Hostname();

}  // namespace pixelmill
