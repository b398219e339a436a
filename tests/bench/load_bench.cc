// Load throughput and store footprint on seed-shaped records (see scripts/bench.sh).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <benchmark/benchmark.h>

#include "coordinator/input/user_loader.h"

namespace pixelmill {
namespace {

// 1M records like {"name": "user123456", "id": 123456, "image_url": "http://.../123456.jpg"}.
const std::string& SeedFile() {
  static const std::string path = [] {
    std::string p = "/tmp/pixelmill-bench-users-" + std::to_string(::getpid()) + ".jsonl";
    std::ofstream out(p, std::ios::binary);
    std::string line;
    for (int i = 0; i < 1000000; ++i) {
      const std::string id = std::to_string(i);
      line = R"({"name": "user)" + id + R"(", "id": )" + id +
             R"(, "image_url": "http://api.example.com/img/)" + id + ".jpg\"}\n";
      out << line;
    }
    return p;
  }();
  return path;
}

void BM_LoadJsonl1M(benchmark::State& state) {
  const std::string& path = SeedFile();
  uint64_t bytes = 0;
  double per_user = 0;
  for (auto _ : state) {
    UserStore store;
    Result<InputFile> input = InputFile::Open(path);
    if (!input.ok()) {
      state.SkipWithError(input.status().message().c_str());
      return;
    }
    Result<LoadStats> stats = LoadUsers(input.value(), LoadOptions{}, store);
    if (!stats.ok()) {
      state.SkipWithError(stats.status().message().c_str());
      return;
    }
    bytes += stats->bytes;
    per_user = static_cast<double>(store.MemoryBytes()) / static_cast<double>(store.size());
    benchmark::DoNotOptimize(store);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["store_bytes_per_user"] = per_user;
}
BENCHMARK(BM_LoadJsonl1M)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
}  // namespace pixelmill

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::remove(pixelmill::SeedFile().c_str());
  return 0;
}
