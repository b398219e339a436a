// StringPrintf: printf into a std::string of whatever length the text needs.
#pragma once

#include <cstdarg>
#include <string>

namespace pixelmill {

std::string StringPrintf(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string StringPrintfV(const char* format, va_list args);

}  // namespace pixelmill
