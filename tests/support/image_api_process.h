// ImageApiProcess: runs the image-api fixture server as a child process for a test, on an
// ephemeral loopback port, and stops it (SIGTERM, then SIGKILL) when the test is done.
// Header-only; used by the coordinator tests.
#pragma once

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace pixelmill::testing {

class ImageApiProcess {
 public:
  // Starts `binary` with `args` plus --port 0 --port-file; waits (up to 60 s: large pictures
  // are drawn at start, slowly under sanitizers on a busy machine) for the port. `log`: where its
  // stderr goes (with --verbose, one line per request), if given.
  explicit ImageApiProcess(const std::string& binary, std::vector<std::string> args = {},
                           const std::filesystem::path& log = {}) {
    const std::string port_file = (dir_ / "port").string();
    std::vector<std::string> argv = {binary, "--port", "0", "--port-file", port_file};
    argv.insert(argv.end(), args.begin(), args.end());
    process_ = std::make_unique<ChildProcess>(argv, std::filesystem::path(), log);
    WaitFor(
        [&] {
          std::ifstream in(port_file);
          return static_cast<bool>(in >> port_) && port_ > 0;
        },
        60);
  }
  ImageApiProcess(const ImageApiProcess&) = delete;
  ImageApiProcess& operator=(const ImageApiProcess&) = delete;
  ~ImageApiProcess() {
    if (process_->started()) process_->Stop(5);
  }

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  // "http://127.0.0.1:PORT" + path.
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

}  // namespace pixelmill::testing
