#include "common/image/image_format.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace pixelmill {

OutputFormat SniffImageFormat(std::string_view b) {
  const auto starts = [&](std::string_view magic, size_t at = 0) {
    return b.size() >= at + magic.size() && b.substr(at, magic.size()) == magic;
  };
  if (starts("\xFF\xD8\xFF")) return OutputFormat::kJpeg;
  if (starts("\x89PNG\r\n\x1A\n")) return OutputFormat::kPng;
  if (starts("RIFF") && starts("WEBP", 8)) return OutputFormat::kWebp;
  if (starts("GIF87a") || starts("GIF89a")) return OutputFormat::kGif;
  if (starts("ftypavif", 4) || starts("ftypavis", 4)) return OutputFormat::kAvif;
  if (starts(std::string_view("II*\0", 4)) || starts(std::string_view("MM\0*", 4))) {
    return OutputFormat::kTiff;
  }
  return OutputFormat::kUnknown;
}

OutputFormat FormatFromContentType(std::string_view content_type) {
  std::string type(content_type.substr(0, content_type.find(';')));
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (type == "image/jpeg" || type == "image/jpg" || type == "image/pjpeg") {
    return OutputFormat::kJpeg;
  }
  if (type == "image/png") return OutputFormat::kPng;
  if (type == "image/webp") return OutputFormat::kWebp;
  if (type == "image/gif") return OutputFormat::kGif;
  if (type == "image/avif") return OutputFormat::kAvif;
  if (type == "image/tiff") return OutputFormat::kTiff;
  return OutputFormat::kUnknown;
}

namespace {

struct FormatNames {
  OutputFormat format;
  std::string_view name;  // as --format and the manifest's "format" say it
  std::string_view extension;
  std::string_view content_type;
};

constexpr FormatNames kNames[] = {
    {OutputFormat::kJpeg, "jpeg", "jpg", "image/jpeg"},
    {OutputFormat::kPng, "png", "png", "image/png"},
    {OutputFormat::kWebp, "webp", "webp", "image/webp"},
    {OutputFormat::kGif, "gif", "gif", "image/gif"},
    {OutputFormat::kAvif, "avif", "avif", "image/avif"},
    {OutputFormat::kTiff, "tiff", "tif", "image/tiff"},
};

const FormatNames* NamesOf(OutputFormat format) {
  for (const FormatNames& n : kNames) {
    if (n.format == format) return &n;
  }
  return nullptr;
}

}  // namespace

std::string_view ExtensionFor(OutputFormat format) {
  const FormatNames* names = NamesOf(format);
  return names != nullptr ? names->extension : "bin";
}

OutputFormat FormatFromExtension(std::string_view extension) {
  for (const FormatNames& n : kNames) {
    if (n.extension == extension) return n.format;
  }
  return OutputFormat::kUnknown;
}

std::string_view FormatName(OutputFormat format) {
  const FormatNames* names = NamesOf(format);
  return names != nullptr ? names->name : "unknown";
}

OutputFormat FormatFromName(std::string_view name) {
  for (const FormatNames& n : kNames) {
    if (n.name == name || n.extension == name) return n.format;
  }
  return OutputFormat::kUnknown;
}

std::string_view ContentTypeFor(OutputFormat format) {
  const FormatNames* names = NamesOf(format);
  return names != nullptr ? names->content_type : "application/octet-stream";
}

}  // namespace pixelmill
