#include "common/filters/colour_profile.h"

#include <lcms2.h>

#include <memory>
#include <string>
#include <vector>

#include "common/filters/jpeg_markers.h"

namespace pixelmill {
namespace {

struct TransformDeleter {
  void operator()(void* t) const { cmsDeleteTransform(t); }
};
using Transform = std::unique_ptr<void, TransformDeleter>;

struct Cached {
  std::string profile;
  Transform transform;
};

// Most recently used last; at most kKept.
constexpr size_t kKept = 8;

void Silent(cmsContext, cmsUInt32Number, const char*) {}

// A Little CMS context of our own whose errors go nowhere: a profile it refuses goes to libvips,
// which reports it once, as a warning of that image.
cmsContext QuietContext() {
  thread_local struct Owned {
    cmsContext context = cmsCreateContext(nullptr, nullptr);
    Owned() {
      if (context != nullptr) cmsSetLogErrorHandlerTHR(context, &Silent);
    }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
    ~Owned() {
      if (context != nullptr) cmsDeleteContext(context);
    }
  } owned;
  return owned.context;
}

Transform Build(std::string_view icc) {
  cmsContext context = QuietContext();
  if (context == nullptr) return nullptr;
  cmsHPROFILE in =
      cmsOpenProfileFromMemTHR(context, icc.data(), static_cast<cmsUInt32Number>(icc.size()));
  if (in == nullptr) return nullptr;
  cmsHPROFILE srgb = cmsCreate_sRGBProfileTHR(context);
  Transform t;
  if (srgb != nullptr && cmsGetColorSpace(in) == cmsSigRgbData) {
    t.reset(cmsCreateTransformTHR(context, in, TYPE_RGB_8, srgb, TYPE_RGB_8,
                                  INTENT_RELATIVE_COLORIMETRIC, 0));
  }
  if (srgb != nullptr) cmsCloseProfile(srgb);
  cmsCloseProfile(in);
  return t;
}

}  // namespace

bool ConvertToSrgb(std::string_view icc, Pixels& image) {
  if (image.bands != 3) return false;
  if (IsSrgbProfile(icc)) return true;
  thread_local std::vector<Cached> cache;
  size_t at = 0;
  while (at < cache.size() && cache[at].profile != icc) ++at;
  if (at == cache.size()) {
    Transform t = Build(icc);
    if (t == nullptr) return false;
    if (cache.size() == kKept) cache.erase(cache.begin());
    cache.push_back(Cached{std::string(icc), std::move(t)});
    at = cache.size() - 1;
  } else if (at + 1 != cache.size()) {
    Cached used = std::move(cache[at]);
    cache.erase(cache.begin() + static_cast<std::ptrdiff_t>(at));
    cache.push_back(std::move(used));
    at = cache.size() - 1;
  }
  const size_t pixels = size_t{image.width} * image.height;
  cmsDoTransform(cache[at].transform.get(), image.data.data(), image.data.data(),
                 static_cast<cmsUInt32Number>(pixels));
  return true;
}

}  // namespace pixelmill
