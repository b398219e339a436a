// Filter throughput in process (see scripts/bench.sh filters): RunFilter on one 512x512 JPEG,
// one thread, after InitFilters() (one libvips pixel thread, no operation cache), exactly as a
// worker runs a job: header probe, decode, filter, encode. Counters: images_per_s (wall clock)
// and ms_per_image, the process's CPU ms per image, the input and output sizes, the stages'
// CPU ms (decode, filter, encode; fast path only) and the share of images on the fast path.
//
//   BM_Filter/...   as a worker runs it: the fast JPEG path where it applies, else libvips
//   BM_Exact/...    libvips only (FilterContext::exact), the reference the fast path is held to
//
//   BM_Filter/<spec>/photo    a photo-like picture made here: a smooth colour gradient plus mild
//                             Gaussian noise, Q 85 (noise makes JPEG decode and encode cost what
//                             they cost on real photos; a bare gradient is cheaper)
//   BM_Filter/<spec>/file     with --image=PATH: that file's bytes as they are (bench.sh passes
//                             an image fetched from image-api, so the in-process figure is on
//                             the very bytes the pipeline processes)
#include <glib.h>
#include <time.h>

#include <chrono>
#include <cstdio>
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
constexpr const char* kSpecs[] = {"blur:5", "sharpen:1", "grayscale", "sepia:1", "thumbnail:256"};

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

// Takes --image=PATH out of argv (Google Benchmark refuses flags it does not know).
std::string TakeImageFlag(int& argc, char** argv) {
  constexpr std::string_view kFlag = "--image=";
  std::string path;
  int kept = 0;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i > 0 && arg.starts_with(kFlag)) {
      path = std::string(arg.substr(kFlag.size()));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return path;
}

}  // namespace
}  // namespace pixelmill

int main(int argc, char** argv) {
  const std::string image_path = pixelmill::TakeImageFlag(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (pixelmill::Status s = pixelmill::InitFilters(); !s.ok()) {
    std::fprintf(stderr, "filter_bench: %s\n", s.message().c_str());
    return 1;
  }
  const std::string photo = pixelmill::PhotoJpeg();
  std::string file;
  if (!image_path.empty()) {
    std::ifstream in(image_path, std::ios::binary);
    file.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) file.clear();
    if (file.empty()) {
      std::fprintf(stderr, "filter_bench: cannot read --image=%s\n", image_path.c_str());
      return 1;
    }
  }
  for (const char* spec : pixelmill::kSpecs) {
    std::vector<std::pair<const char*, const std::string*>> images = {{"photo", &photo}};
    if (!file.empty()) images.emplace_back("file", &file);
    for (const auto& [label, bytes] : images) {
      for (const bool exact : {false, true}) {
        const std::string name =
            std::string(exact ? "BM_Exact/" : "BM_Filter/") + spec + "/" + label;
        benchmark::RegisterBenchmark(name.c_str(), pixelmill::BM_Filter, std::string(spec), bytes,
                                     exact)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->MinTime(2.0);
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
