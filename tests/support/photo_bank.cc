#include "tests/support/photo_bank.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "tests/support/picture_encoding.h"

namespace pixelmill::fixture {
namespace {

namespace fs = std::filesystem;

constexpr char kDebianSkimageData[] = "/usr/lib/python3/dist-packages/skimage/data";

bool HasFirstPhoto(const std::string& dir) {
  std::error_code error;
  return !dir.empty() && fs::is_regular_file(fs::path(dir) / PhotoBank::kSkimagePhotos[0], error);
}

// The skimage module's folder as python3 reports it (a pip install), or "".
std::string AskPython() {
  FILE* pipe = popen(
      "python3 -c 'import os, skimage; print(os.path.dirname(skimage.__file__))' 2>/dev/null", "r");
  if (pipe == nullptr) return "";
  std::string out;
  char chunk[512];
  while (size_t n = std::fread(chunk, 1, sizeof(chunk), pipe)) out.append(chunk, n);
  pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out.empty() ? "" : out + "/data";
}

bool IsImageFile(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp";
}

// 8-bit sRGB, three bands, in memory: what a camera's JPEG decodes to.
vips::VImage Normalised(vips::VImage image) {
  if (image.has_alpha()) image = image.flatten(vips::VImage::option()->set("background", 255.0));
  if (image.interpretation() != VIPS_INTERPRETATION_sRGB) {
    image = image.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  if (image.format() != VIPS_FORMAT_UCHAR) image = image.cast(VIPS_FORMAT_UCHAR);
  return image.copy_memory();
}

}  // namespace

std::string PhotoBank::FindSkimageData() {
  if (HasFirstPhoto(kDebianSkimageData)) return kDebianSkimageData;
  std::string asked = AskPython();
  return HasFirstPhoto(asked) ? asked : "";
}

std::optional<PhotoBank> PhotoBank::Open(const std::string& dir, bool every_image, int width,
                                         int height, std::string& error) {
  PhotoBank bank;
  bank.width_ = width;
  bank.height_ = height;
  std::error_code io;
  if (!fs::is_directory(dir, io)) {
    error = "not a folder: " + dir;
    return std::nullopt;
  }
  if (every_image) {
    for (fs::directory_iterator it(dir, io), end; !io && it != end; it.increment(io)) {
      if (it->is_regular_file(io) && IsImageFile(it->path())) {
        bank.paths_.push_back(it->path().string());
      }
    }
    if (io) {
      error = "cannot list " + dir + ": " + io.message();
      return std::nullopt;
    }
    std::sort(bank.paths_.begin(), bank.paths_.end());
  } else {
    for (std::string_view name : kSkimagePhotos) {
      fs::path path = fs::path(dir) / name;
      if (fs::is_regular_file(path, io)) bank.paths_.push_back(path.string());
    }
  }
  if (bank.paths_.empty()) {
    error = "no photos (.jpg, .jpeg, .png or .webp files) in " + dir;
    return std::nullopt;
  }
  bank.sources_.resize(bank.paths_.size());
  return bank;
}

size_t PhotoBank::IndexOf(int64_t id) const {
  int64_t n = photos();
  return static_cast<size_t>((id % n + n) % n);
}

std::string PhotoBank::Name(int64_t id) const {
  return fs::path(paths_[IndexOf(id)]).filename().string();
}

bool PhotoBank::LoadAll(std::string& error) {
  for (int i = 0; i < photos(); ++i) {
    if (!Body(PhotoVariant::kImage, ImageFormat::kJpeg, i, 0, 0, error)) return false;
  }
  return true;
}

const vips::VImage& PhotoBank::Source(size_t index) {
  std::optional<vips::VImage>& source = sources_[index];
  if (!source) {
    source = Normalised(vips::VImage::new_from_file(
        paths_[index].c_str(), vips::VImage::option()->set("fail_on", VIPS_FAIL_ON_ERROR)));
  }
  return *source;
}

std::string PhotoBank::Make(const Key& key) {
  auto [index, width, height, format, variant] = key;
  std::string error;
  switch (variant) {
    case PhotoVariant::kImage: {
      vips::VImage sized =
          Source(index).thumbnail_image(width, vips::VImage::option()
                                                   ->set("height", height)
                                                   ->set("size", VIPS_SIZE_BOTH)
                                                   ->set("crop", VIPS_INTERESTING_CENTRE));
      return EncodePicture(sized, format);
    }
    case PhotoVariant::kCorrupt:
    case PhotoVariant::kCorruptPng: {
      ImageFormat base = variant == PhotoVariant::kCorrupt ? ImageFormat::kJpeg : ImageFormat::kPng;
      auto image =
          Body(PhotoVariant::kImage, base, static_cast<int64_t>(index), width, height, error);
      if (!image) throw vips::VError(error);
      return Corrupted(*image);
    }
    case PhotoVariant::kPoison: {
      auto image = Body(PhotoVariant::kImage, ImageFormat::kJpeg, static_cast<int64_t>(index),
                        width, height, error);
      if (!image) throw vips::VError(error);
      return std::string(*image) + std::string(ImageBank::kPoisonMarker);
    }
  }
  throw vips::VError("unknown photo variant");
}

std::optional<std::string_view> PhotoBank::Body(PhotoVariant variant, ImageFormat format,
                                                int64_t id, int width, int height,
                                                std::string& error) {
  if (width == 0 && height == 0) {
    width = width_;
    height = height_;
  }
  if (width < 1 || height < 1 || int64_t{width} * height > kMaxPhotoPixels) {
    error = "size " + std::to_string(width) + "x" + std::to_string(height) +
            ": photos are 1x1 to 4 MP (" + std::to_string(kMaxPhotoPixels) + " pixels)";
    return std::nullopt;
  }
  std::pair<int, int> size{width, height};
  if (std::find(sizes_.begin(), sizes_.end(), size) == sizes_.end()) {
    if (sizes_.size() >= kMaxSizes) {
      error = "at most " + std::to_string(kMaxSizes) + " distinct photo sizes per server";
      return std::nullopt;
    }
    sizes_.push_back(size);
  }
  if (variant != PhotoVariant::kImage) format = ImageFormat::kJpeg;  // one entry per variant
  Key key{IndexOf(id), width, height, format, variant};
  if (auto it = cache_.find(key); it != cache_.end()) return std::string_view(it->second);
  try {
    return std::string_view(cache_.emplace(key, Make(key)).first->second);
  } catch (const vips::VError& e) {
    error = "photo " + paths_[std::get<0>(key)] + ": libvips: " + e.what();
    return std::nullopt;
  }
}

}  // namespace pixelmill::fixture
