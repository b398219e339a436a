// Runs three users through pixelmill and prints one line per result, in input order.
// Usage: api_example OUTPUT_DIR BASE_URL   (BASE_URL e.g. http://127.0.0.1:8080)
#include <pixelmill/pixelmill.h>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const std::string base = argv[2];
  // --- the ten lines a user writes ---
  std::vector<pixelmill::User> users = {{1, "Ada", base + "/img/1.jpg"},
                                        {2, "Brian", base + "/img/2.jpg?status=404"},
                                        {3, "Chen", base + "/img/3.png"}};
  pixelmill::RunOptions options;
  options.output_dir = argv[1];
  options.filter = "thumbnail:64";
  options.workers = 2;
  options.allow_private_networks = true;  // the test server is on loopback
  pixelmill::Runner runner(options);
  pixelmill::RunSummary summary = runner.Run(users);
  if (!summary.error.empty()) std::fprintf(stderr, "pixelmill: %s\n", summary.error.c_str());
  for (const pixelmill::UserResult& r : summary.results)
    std::printf("%lld %s %s\n", static_cast<long long>(r.id), r.ok ? "ok" : r.error_code.c_str(),
                r.ok ? r.output_path.c_str() : r.error_message.c_str());
  // ---
  std::printf("exit %d: %zu ok, %zu failed, %zu not done\n", summary.exit_code, summary.ok,
              summary.failed, summary.not_done);
  return summary.exit_code == 3 ? 0 : 1;
}
