// ImageApiProcess: runs the image-api fixture server as a child process for a test, on an
// ephemeral loopback port, and stops it (SIGTERM, then SIGKILL) when the test is done.
// Header-only; used by the coordinator tests and scripts' tests.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace pixelmill::testing {

class ImageApiProcess {
 public:
  // Starts `binary` with `args` plus --port 0 --port-file; waits (up to 10 s) for the port.
  explicit ImageApiProcess(const std::string& binary, std::vector<std::string> args = {}) {
    char tmpl[] = "/tmp/pixelmill-api-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    const std::string port_file = dir_ + "/port";
    std::vector<std::string> argv = {binary, "--port", "0", "--port-file", port_file};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (std::string& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    if (posix_spawn(&pid_, binary.c_str(), nullptr, nullptr, raw.data(), environ) != 0) {
      pid_ = -1;
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(port_file);
      if (in >> port_ && port_ > 0) return;
      port_ = 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ImageApiProcess(const ImageApiProcess&) = delete;
  ImageApiProcess& operator=(const ImageApiProcess&) = delete;

  ~ImageApiProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 500 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (::waitpid(pid_, &status, WNOHANG) == 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  // "http://127.0.0.1:PORT" + path.
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

}  // namespace pixelmill::testing
