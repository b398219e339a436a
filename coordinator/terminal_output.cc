#include "coordinator/terminal_output.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "common/json_writer.h"
#include "coordinator/output_dir.h"

namespace pixelmill {
namespace {

std::string Clock(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = static_cast<long>(seconds);
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(text, sizeof text, "%02ld:%02ld", s / 60, s % 60);
  }
  return text;
}

// 950, 4.2k, 1.3M: compact counts for the progress line.
std::string Count(double n) {
  char text[32];
  if (n >= 1e6) {
    std::snprintf(text, sizeof text, "%.1fM", n / 1e6);
  } else if (n >= 1e4) {
    std::snprintf(text, sizeof text, "%.1fk", n / 1e3);
  } else {
    std::snprintf(text, sizeof text, "%.0f", n);
  }
  return text;
}

Result<spdlog::level::level_enum> ParseLevel(const std::string& name) {
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warning" || name == "warn") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  if (name == "off") return spdlog::level::off;
  return Status::Error(
      "usage", "--log-level: '" + name + "' is not one of debug, info, warning, error, off");
}

spdlog::level::level_enum ToSpdlog(EventLevel level) {
  switch (level) {
    case EventLevel::kDebug:
      return spdlog::level::debug;
    case EventLevel::kInfo:
      return spdlog::level::info;
    case EventLevel::kWarning:
      return spdlog::level::warn;
    case EventLevel::kError:
      break;
  }
  return spdlog::level::err;
}

const char* LevelName(EventLevel level) {
  switch (level) {
    case EventLevel::kDebug:
      return "debug";
    case EventLevel::kInfo:
      return "info";
    case EventLevel::kWarning:
      return "warning";
    case EventLevel::kError:
      break;
  }
  return "error";
}

std::string IsoTime() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms));
  return text;
}

}  // namespace

TerminalOutput::TerminalOutput(const TerminalOptions& options) : options_(options) {}

TerminalOutput::~TerminalOutput() {
  if (progress_file_ != nullptr) std::fclose(progress_file_);
}

Result<std::unique_ptr<TerminalOutput>> TerminalOutput::Create(const TerminalOptions& options) {
  Result<spdlog::level::level_enum> level = ParseLevel(options.log_level);
  if (!level.ok()) return level.status();
  std::unique_ptr<TerminalOutput> out(new TerminalOutput(options));
  out->logger_ = std::make_shared<spdlog::logger>(
      "pixelmill", std::make_shared<spdlog::sinks::stderr_sink_st>());
  out->logger_->set_pattern("%v");
  out->logger_->set_level(options.quiet ? std::max(level.value(), spdlog::level::err)
                                        : level.value());
  out->logger_->flush_on(spdlog::level::trace);
  if (!options.progress_file.empty()) {
    // A pipe or a device is a fine place for a stream of samples; the run's files are not.
    Result<std::string> path = CheckSideFile("--progress-file", options.progress_file,
                                             options.output_dir, /*regular_only=*/false);
    if (!path.ok()) return path.status();
    out->progress_path_ = path.value();
  }
  return out;
}

void TerminalOutput::OnEvent(EventLevel level, const std::string& message) {
  if (!logger_->should_log(ToSpdlog(level))) return;
  ClearLine();
  if (options_.json_logs) {
    logger_->log(ToSpdlog(level), JsonObject()
                                      .Add("time", IsoTime())
                                      .Add("level", LevelName(level))
                                      .Add("message", message)
                                      .Done());
    return;
  }
  const char* prefix = level == EventLevel::kError     ? "error: "
                       : level == EventLevel::kWarning ? "warning: "
                       : level == EventLevel::kDebug   ? "debug: "
                                                       : "pixelmill: ";
  logger_->log(ToSpdlog(level), std::string(prefix) + message);
}

void TerminalOutput::OnProgress(const Progress& p) {
  last_ = p;
  have_last_ = true;
  const size_t done = p.skipped + p.ok + p.failed;
  if (p.elapsed_s - rate_at_s_ >= 0.5) {
    const double recent =
        static_cast<double>(done - std::min(done, rate_done_)) / (p.elapsed_s - rate_at_s_);
    rate_ = rate_done_ == 0 && rate_ == 0 ? recent : 0.7 * rate_ + 0.3 * recent;
    rate_at_s_ = p.elapsed_s;
    rate_done_ = done;
  }
  if (!progress_path_.empty() && p.elapsed_s - last_sample_s_ >= 1.0) WriteSample(p);
  if (options_.quiet) return;
  if (options_.interactive) {
    if (last_draw_s_ >= 0 && p.elapsed_s - last_draw_s_ < 0.1) return;
    last_draw_s_ = p.elapsed_s;
    std::fprintf(stderr, "\r%s\033[K", Line(p, rate_).c_str());
    std::fflush(stderr);
    line_shown_ = true;
  } else if (options_.progress_interval_s > 0 &&
             p.elapsed_s - last_plain_s_ >= options_.progress_interval_s) {
    last_plain_s_ = p.elapsed_s;
    std::fprintf(stderr, "progress: %s\n", Line(p, rate_).c_str());
  }
}

void TerminalOutput::OnSummary(const std::string& text) {
  ClearLine();
  if (!progress_path_.empty() && have_last_) WriteSample(last_);  // the end state
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

void TerminalOutput::ClearLine() {
  if (!line_shown_) return;
  std::fprintf(stderr, "\r\033[K");
  line_shown_ = false;
}

std::string TerminalOutput::Line(const Progress& p, double rate) {
  const size_t done = p.skipped + p.ok + p.failed;
  const double percent =
      p.total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(p.total) : 100.0;
  const double eta = rate > 0 ? static_cast<double>(p.total - done) / rate : -1;
  char text[512];
  std::snprintf(text, sizeof text,
                "%3.0f%% %s/%s users, %s failed [%s<%s, %s users/s] downloads %zu+%zu waiting | "
                "images waiting %zu | jobs %zu on %zu workers | memory %.1f/%.0f MiB",
                percent, Count(static_cast<double>(done)).c_str(),
                Count(static_cast<double>(p.total)).c_str(),
                Count(static_cast<double>(p.failed)).c_str(), Clock(p.elapsed_s).c_str(),
                Clock(eta).c_str(), Count(rate).c_str(), p.downloads_in_flight, p.downloads_waiting,
                p.images_waiting, p.jobs_in_flight, p.workers,
                static_cast<double>(p.budget_used) / (1 << 20),
                static_cast<double>(p.budget_limit) / (1 << 20));
  return text;
}

bool TerminalOutput::ProgressFileReady() {
  if (progress_file_ != nullptr) return true;
  if (progress_failed_) return false;
  // Its folder may be inside the --output folder, which the run has made by now.
  std::error_code ignored;  // fopen says what is wrong
  std::filesystem::create_directories(std::filesystem::path(progress_path_).parent_path(), ignored);
  progress_file_ = std::fopen(progress_path_.c_str(), "we");
  if (progress_file_ != nullptr) return true;
  progress_failed_ = true;
  OnEvent(EventLevel::kWarning, "cannot create --progress-file " + options_.progress_file + ": " +
                                    std::strerror(errno) + "; the run goes on without samples");
  return false;
}

void TerminalOutput::WriteSample(const Progress& p) {
  last_sample_s_ = p.elapsed_s;
  if (!ProgressFileReady()) return;
  const std::string line =
      JsonObject()
          .Add("t", p.elapsed_s)
          .Add("total", uint64_t{p.total})
          .Add("skipped", uint64_t{p.skipped})
          .Add("ok", uint64_t{p.ok})
          .Add("failed", uint64_t{p.failed})
          .Add("rate", rate_)
          .Add("downloads_in_flight", uint64_t{p.downloads_in_flight})
          .Add("downloads_waiting", uint64_t{p.downloads_waiting})
          .Add("images_waiting", uint64_t{p.images_waiting})
          .Add("jobs_in_flight", uint64_t{p.jobs_in_flight})
          .Add("workers", uint64_t{p.workers})
          .Add("writes_pending", uint64_t{p.writes_pending})
          .Add("budget_used", p.budget_used)
          .Add("budget_limit", p.budget_limit)
          .Add("bytes_downloaded", p.bytes_downloaded)
          .Add("downloads_waiting_for_memory_s", p.downloads_waiting_for_memory_s)
          .Add("images_waiting_for_workers_s", p.images_waiting_for_workers_s)
          .Add("results_waiting_for_disk_s", p.results_waiting_for_disk_s)
          .Add("filter_cpu_s", p.filter_cpu_s)
          .Add("worker_utilisation",
               p.workers > 0 && p.elapsed_s > 0
                   ? p.filter_cpu_s / (static_cast<double>(p.workers) * p.elapsed_s)
                   : 0.0)
          .Done();
  errno = 0;
  if (std::fprintf(progress_file_, "%s\n", line.c_str()) < 0 || std::fflush(progress_file_) != 0) {
    const int error = errno;
    std::fclose(progress_file_);
    progress_file_ = nullptr;
    progress_failed_ = true;
    OnEvent(EventLevel::kWarning, "cannot write --progress-file " + options_.progress_file + ": " +
                                      std::strerror(error) + "; no more samples are written");
  }
}

}  // namespace pixelmill
