// Real filters end to end: the coordinator, two worker processes and the fixture serving real
// JPEG, PNG, WebP and GIF images, a tenth of them hostile. Every ok output decodes and matches
// its manifest line; every hostile user ends with its code; the workers survive every hostile
// image (no restart, same pids) with their memory far below what a bomb would take.
#include <sys/resource.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <vips/vips8>

#include "common/filters/filter.h"
#include "common/image/image_probe.h"
#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ExitCode;
using testing::JsonAt;

// The code each fixture fault ends with under --filter blur:5 ("" = ok).
const std::map<std::string, std::string> kExpected = {
    {"bomb_jpeg", "too_many_pixels"},
    {"bomb_gif", "too_many_pixels"},
    {"bomb_png50k", "too_many_pixels"},
    {"svg", "not_image"},
    {"tiff", "unsupported_format"},
    {"heic", "not_image"},
    {"progressive_big", "too_many_pixels"},
    {"animated_gif", "too_many_frames"},
    {"animated_webp", "too_many_frames"},
    {"cmyk_jpeg", ""},
    {"png16_alpha", ""},
    {"tiny", ""},
    {"exif6", ""},
    {"gps", ""},
    {"zero", "not_image"},
    {"corrupt", "not_image"},
};

#if defined(__SANITIZE_ADDRESS__)
constexpr long kMaxWorkerRssKiB = 1536 * 1024;
#else
constexpr long kMaxWorkerRssKiB = 400 * 1024;
#endif

class FilterPipelineTest : public testing::CoordinatorRun {};

TEST_F(FilterPipelineTest, RealImagesFilteredHostileOnesRefusedWorkersSurvive) {
  ASSERT_TRUE(InitFilters().ok());
  std::vector<std::string> faults;
  for (const auto& [fault, code] : kExpected) faults.push_back(fault);
  const char* formats[] = {"jpg", "png", "webp", "gif"};
  std::vector<std::string> urls;
  std::map<int, std::string> hostile;  // id -> fault
  for (int i = 0; i < 300; ++i) {
    if (i % 10 == 0) {
      hostile[i] = faults[(i / 10) % faults.size()];
      urls.push_back(api_.Url("/img/" + std::to_string(i) + ".jpg?fault=" + hostile[i]));
    } else {
      urls.push_back(api_.Url("/img/" + std::to_string(i) + "." + formats[i % 4]));
    }
  }
  UsersWithUrls(urls);
  auto run = Start({"--filter", "blur:5", "--workers", "0", "--insecure", "--bind",
                    "tcp://127.0.0.1:*", "--max-pixels", "20000000"});
  const std::string endpoint = RemoteEndpoint();
  ASSERT_FALSE(endpoint.empty()) << Stderr();
  auto a = StartWorker(endpoint, "a");
  auto b = StartWorker(endpoint, "b");
  ASSERT_EQ(ExitCode(run->Wait(120)), 3) << Stderr();
  rusage usage_a{}, usage_b{};
  ASSERT_EQ(ExitCode(a->Wait(10, &usage_a)), 0) << "a worker died";
  ASSERT_EQ(ExitCode(b->Wait(10, &usage_b)), 0) << "a worker died";
  // A bomb decoded would take gigabytes (50000 x 50000 x 3 bytes = 7.5 GB); refused from its
  // header, a worker stays small. (AddressSanitizer's shadow memory and quarantine add a few
  // hundred MB of their own.)
  EXPECT_LT(usage_a.ru_maxrss, kMaxWorkerRssKiB) << "KiB";
  EXPECT_LT(usage_b.ru_maxrss, kMaxWorkerRssKiB) << "KiB";

  const std::map<int64_t, std::string> lines = Manifest();
  ASSERT_EQ(lines.size(), 300u);
  std::set<std::string> workers;
  for (const auto& [id, line] : lines) {
    auto h = hostile.find(static_cast<int>(id));
    const std::string expected = h == hostile.end() ? "" : kExpected.at(h->second);
    const std::string what = h == hostile.end() ? "image" : h->second;
    if (!expected.empty()) {
      EXPECT_EQ(JsonAt(line, "/error/code"), expected) << what << ": " << line;
      continue;
    }
    ASSERT_EQ(JsonAt(line, "/status"), "ok") << what << ": " << line;
    workers.insert(JsonAt(line, "/worker"));
    const fs::path file = dir_ / "out" / JsonAt(line, "/output");
    const std::string bytes = testing::ReadFile(file);
    EXPECT_EQ(std::to_string(bytes.size()), JsonAt(line, "/bytes")) << line;
    Result<ImageHeader> header = ProbeImage(bytes);
    ASSERT_TRUE(header.ok()) << line;
    EXPECT_EQ(std::to_string(header->width), JsonAt(line, "/width")) << line;
    EXPECT_EQ(std::to_string(header->height), JsonAt(line, "/height")) << line;
    EXPECT_EQ(std::string(FormatName(header->format)), JsonAt(line, "/format")) << line;
    // GIF input is written as PNG; the rest keep their format.
    if (what == "image") {
      const std::string source = ExtensionFor(header->format) == std::string("png") && id % 4 == 3
                                     ? "gif"
                                     : std::string(ExtensionFor(header->format));
      EXPECT_EQ(source, formats[id % 4]) << line;
    }
    vips::VImage decoded = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "");
    EXPECT_GT(decoded.copy_memory().avg(), 0.0) << "did not decode: " << line;
  }
  EXPECT_EQ(workers.size(), 2u) << "a worker was replaced";
  EXPECT_EQ(JsonAt(Report(), "/workers/lost"), "0") << Report();
}

}  // namespace
}  // namespace pixelmill
