// Filter throughput in process (see scripts/bench.sh filters): RunFilter on one image at a
// time, one thread, after InitFilters() (one libvips pixel thread, no operation cache), exactly
// as a worker runs a job: header probe, decode, filter, encode. Counters: images_per_s (wall
// clock) and ms_per_image, the process's CPU ms per image, the input and output sizes, the
// stages' CPU ms (decode, filter, encode; fast path only) and the share of images on the fast
// path (fast_path, 0..1).
//
//   BM_Filter/...             as a worker runs it: the fast JPEG path where it applies, else
//                             libvips
//   BM_Exact/...              libvips only (FilterContext::exact), the reference the fast path
//                             is held to
//
//   BM_Filter/<spec>/photo    a photo-like picture made here: a 512x512 smooth colour gradient
//                             plus mild Gaussian noise, Q 85
//   BM_Filter/<spec>/<name>   with --image=PATH (repeatable): that file's bytes as they are,
//                             <name> its file name without the extension (bench.sh passes real
//                             photos fetched from image-api, so the in-process figure is on the
//                             very bytes the pipeline processes)
//
// Flags besides Google Benchmark's: --image=PATH, --specs=SPEC;SPEC;... (filter specs, default
// blur:5;thumbnail:256), --min-time=SECONDS per benchmark (default 2).
#include <glib.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>
#include <vips/vips8>

#include "common/filters/filter.h"

namespace pixelmill {
namespace {

using vips::VImage;

constexpr int kSide = 512;
constexpr const char* kDefaultSpecs = "blur:5;thumbnail:256";

// Lightness down, chroma across, a slow hue sweep, then noise of sigma 4 per band.
std::string PhotoJpeg() {
  VImage xy = VImage::xyz(kSide, kSide);
  VImage x = xy[0];
  VImage y = xy[1];
  VImage lightness = y * (50.0 / (kSide - 1)) + 30.0;
  VImage chroma = x * (40.0 / (kSide - 1)) + 20.0;
  VImage hue = (x + y) * (90.0 / (2 * kSide - 2)) + 20.0;
  VImage rgb = VImage::bandjoin({lightness, chroma, hue})
                   .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_LCH))
                   .colourspace(VIPS_INTERPRETATION_sRGB);
  std::vector<VImage> noise;
  for (int band = 0; band < 3; ++band) {
    noise.push_back(VImage::gaussnoise(
        kSide, kSide, VImage::option()->set("mean", 0.0)->set("sigma", 4.0)->set("seed", band)));
  }
  VImage photo = (rgb + VImage::bandjoin(noise))
                     .cast(VIPS_FORMAT_UCHAR)
                     .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  void* data = nullptr;
  size_t size = 0;
  photo.write_to_buffer(".jpg", &data, &size, VImage::option()->set("Q", 85)->set("strip", true));
  std::string jpeg(static_cast<const char*>(data), size);
  g_free(data);
  return jpeg;
}

double ProcessCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void BM_Filter(benchmark::State& state, const std::string& spec_text, const std::string* image,
               bool exact) {
  Result<FilterSpec> spec = ParseFilterSpec(spec_text);
  if (!spec.ok()) {
    state.SkipWithError(spec.status().message().c_str());
    return;
  }
  FilterContext context;  // the worker's defaults: input format, Q 85, metadata stripped
  context.exact = exact;
  size_t out_bytes = 0;
  FilterOutput::Stages stages;
  double fast = 0;
  const auto wall_start = std::chrono::steady_clock::now();
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    Result<FilterOutput> out = RunFilter(spec.value(), context, *image);
    if (!out.ok() || !out->bytes.has_value()) {
      state.SkipWithError(out.ok() ? "no output" : out.status().message().c_str());
      return;
    }
    out_bytes = out->bytes->size();
    stages.decode_us += out->stages.decode_us;
    stages.filter_us += out->stages.filter_us;
    stages.encode_us += out->stages.encode_us;
    fast += out->fast_path ? 1 : 0;
    benchmark::DoNotOptimize(out);
  }
  const double cpu = ProcessCpuSeconds() - cpu_start;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const double n = static_cast<double>(state.iterations());
  state.counters["images_per_s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
  state.counters["ms_per_image"] = 1000 * wall / n;
  // The whole process: libvips runs the pixel work on a thread of its own, which the
  // benchmark's own CPU column (the calling thread) does not see.
  state.counters["cpu_ms_per_image"] = 1000 * cpu / n;
  state.counters["in_bytes"] = static_cast<double>(image->size());
  state.counters["out_bytes"] = static_cast<double>(out_bytes);
  state.counters["decode_ms"] = stages.decode_us / 1000.0 / n;
  state.counters["filter_ms"] = stages.filter_us / 1000.0 / n;
  state.counters["encode_ms"] = stages.encode_us / 1000.0 / n;
  state.counters["fast_path"] = fast / n;
}

// Takes every --NAME=VALUE out of argv (Google Benchmark refuses flags it does not know) and
// returns their values, in order.
std::vector<std::string> TakeFlag(int& argc, char** argv, std::string_view name) {
  const std::string flag = "--" + std::string(name) + "=";
  std::vector<std::string> values;
  int kept = 0;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i > 0 && arg.starts_with(flag)) {
      values.emplace_back(arg.substr(flag.size()));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return values;
}

// "a;b;c" as {"a", "b", "c"} (a spec may hold commas: blur:5,sharpen:1 is one chain).
std::vector<std::string> SplitSpecs(std::string_view text) {
  std::vector<std::string> specs;
  for (size_t start = 0; start <= text.size();) {
    size_t end = std::min(text.find(';', start), text.size());
    if (end > start) specs.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return specs;
}

// The file at `path`, or "" when it cannot be read.
std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  return in.good() || in.eof() ? bytes : "";
}

}  // namespace
}  // namespace pixelmill

int main(int argc, char** argv) {
  const std::vector<std::string> image_paths = pixelmill::TakeFlag(argc, argv, "image");
  const std::vector<std::string> spec_flags = pixelmill::TakeFlag(argc, argv, "specs");
  const std::vector<std::string> min_time_flags = pixelmill::TakeFlag(argc, argv, "min-time");
  const std::vector<std::string> specs =
      pixelmill::SplitSpecs(spec_flags.empty() ? pixelmill::kDefaultSpecs : spec_flags.back());
  double min_time = 2.0;
  if (!min_time_flags.empty()) {
    char* end = nullptr;
    min_time = std::strtod(min_time_flags.back().c_str(), &end);
    if (end == min_time_flags.back().c_str() || *end != '\0' || !(min_time > 0)) {
      std::fprintf(stderr, "filter_bench: --min-time expects seconds > 0\n");
      return 1;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (pixelmill::Status s = pixelmill::InitFilters(); !s.ok()) {
    std::fprintf(stderr, "filter_bench: %s\n", s.message().c_str());
    return 1;
  }
  // Labels and bytes, all read before any benchmark points into the vector.
  std::vector<std::pair<std::string, std::string>> images = {{"photo", pixelmill::PhotoJpeg()}};
  for (const std::string& path : image_paths) {
    std::string bytes = pixelmill::ReadFile(path);
    if (bytes.empty()) {
      std::fprintf(stderr, "filter_bench: cannot read --image=%s\n", path.c_str());
      return 1;
    }
    images.emplace_back(std::filesystem::path(path).stem().string(), std::move(bytes));
  }
  for (const std::string& spec : specs) {
    for (const auto& [label, bytes] : images) {
      for (const bool exact : {false, true}) {
        const std::string name =
            std::string(exact ? "BM_Exact/" : "BM_Filter/") + spec + "/" + label;
        benchmark::RegisterBenchmark(name.c_str(), pixelmill::BM_Filter, spec, &bytes, exact)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->MinTime(min_time);
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
