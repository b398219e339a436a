// Recognising image formats from their first bytes (and, failing that, a Content-Type), to name
// saved files and to refuse bodies that are not images. Stateless; any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace pixelmill {

// Format of a user's saved image; selects the file extension. Stored in 4 bits per user.
enum class OutputFormat : uint8_t { kUnknown = 0, kJpeg, kPng, kWebp, kGif, kAvif, kTiff, kBin };

// File extension (without dot) for a format, e.g. "jpg"; "bin" for kUnknown/kBin.
std::string_view ExtensionFor(OutputFormat format);

// The format whose ExtensionFor() is `extension` ("jpg" -> kJpeg), or kUnknown.
OutputFormat FormatFromExtension(std::string_view extension);

// The format's name as --format and the manifest's "format" say it: "jpeg", "png", "webp",
// "gif", "avif", "tiff"; "unknown" for kUnknown/kBin.
std::string_view FormatName(OutputFormat format);

// The format named `name`, by its name or its extension (a manifest of an older version says
// "jpg", "tif"), or kUnknown.
OutputFormat FormatFromName(std::string_view name);

// The format the bytes start with, or kUnknown. Needs at most the first 12 bytes.
OutputFormat SniffImageFormat(std::string_view bytes);

// The format named by a Content-Type such as "image/jpeg; charset=binary", or kUnknown.
OutputFormat FormatFromContentType(std::string_view content_type);

// "image/jpeg" etc.; "application/octet-stream" for kUnknown/kBin.
std::string_view ContentTypeFor(OutputFormat format);

}  // namespace pixelmill
