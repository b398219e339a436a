#include "coordinator/cli/terminal_output.h"

#include <sys/ioctl.h>
#include <unistd.h>

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

#include "common/base/json_writer.h"
#include "common/base/string_printf.h"
#include "coordinator/events/iso_time.h"
#include "coordinator/output/output_dir.h"

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
      Code::kUsage, "--log-level: '" + name + "' is not one of debug, info, warning, error, off");
}

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarning:
      return spdlog::level::warn;
    case LogLevel::kError:
      break;
  }
  return spdlog::level::err;
}

// "coordinator: error: ", "coordinator: warning: ", "coordinator: debug: ", "coordinator: ".
const char* MessagePrefix(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "coordinator: debug: ";
    case LogLevel::kInfo:
      return "coordinator: ";
    case LogLevel::kWarning:
      return "coordinator: warning: ";
    case LogLevel::kError:
      break;
  }
  return "coordinator: error: ";
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      break;
  }
  return "error";
}

// Window width of the terminal on stderr, asked at each redraw (cheap) so that a resized
// window is followed without a SIGWINCH handler; 80 when it cannot be told.
size_t TerminalWidth() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

std::string IsoTime() { return IsoUtcTime(std::chrono::system_clock::now()); }

// One JSON object: the time, level, kind and message of `event`, then its fields.
std::string JsonLine(const Event& event) {
  JsonObject line;
  line.Add("time", IsoTime())
      .Add("level", LevelName(event.level))
      .Add("event", event.kind)
      .Add("message", event.message);
  for (const EventField& field : event.fields) {
    if (field.literal) {
      line.AddRaw(field.key, field.value);
    } else {
      line.Add(field.key, field.value);
    }
  }
  return line.Done();
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

void TerminalOutput::OnEvent(LogLevel level, const std::string& message) {
  Event event;
  event.level = level;
  event.message = message;
  Log(event);
}

void TerminalOutput::OnStructuredEvent(const Event& event) { Log(event); }

void TerminalOutput::Log(const Event& event) {
  if (!logger_->should_log(ToSpdlog(event.level))) return;
  ClearLine();
  if (options_.json_logs) {
    logger_->log(ToSpdlog(event.level), JsonLine(event));
    return;
  }
  logger_->log(ToSpdlog(event.level), std::string(MessagePrefix(event.level)) + event.message);
}

void TerminalOutput::OnProgress(const ProgressSample& p) {
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
    // One column spare: a line that fills the last column wraps on some terminals.
    std::fprintf(stderr, "\r%s\033[K", Line(p, rate_, TerminalWidth() - 1).c_str());
    std::fflush(stderr);
    line_shown_ = true;
  } else if (options_.progress_interval_s > 0 &&
             p.elapsed_s - last_plain_s_ >= options_.progress_interval_s) {
    last_plain_s_ = p.elapsed_s;
    std::fprintf(stderr, "progress: %s\n", Line(p, rate_).c_str());
  }
}

void TerminalOutput::OnSummary(const std::string& text) {
  // Without a done event (an Observer caller of the plain hook): its last line stands for it.
  const size_t last = text.rfind('\n');
  Event done;
  done.kind = "done";
  done.message = last == std::string::npos ? text : text.substr(last + 1);
  OnSummaryEvent(last == std::string::npos ? std::string() : text.substr(0, last + 1), done);
}

void TerminalOutput::OnSummaryEvent(const std::string& table, const Event& done) {
  ClearLine();
  if (!progress_path_.empty() && have_last_) WriteSample(last_);  // the end state
  if (options_.json_logs) {
    // Printed whatever --log-level says, as in text.
    if (!options_.quiet && !table.empty()) {
      Event summary;
      summary.kind = "summary";
      summary.message = table;
      std::fprintf(stderr, "%s\n", JsonLine(summary).c_str());
    }
    std::fprintf(stderr, "%s\n", JsonLine(done).c_str());
  } else {
    std::fprintf(stderr, "%s%s\n", options_.quiet ? "" : table.c_str(), done.message.c_str());
  }
  std::fflush(stderr);
}

void TerminalOutput::ClearLine() {
  if (!line_shown_) return;
  std::fprintf(stderr, "\r\033[K");
  line_shown_ = false;
}

std::string TerminalOutput::Line(const ProgressSample& p, double rate, size_t width) {
  const size_t done = p.skipped + p.ok + p.failed;
  const double percent =
      p.total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(p.total) : 100.0;
  const double eta = rate > 0 ? static_cast<double>(p.total - done) / rate : -1;
  struct Part {
    std::string text;
    int rank;  // 0 is kept longest
  };
  Part parts[] = {
      {StringPrintf("%3.0f%% %s/%s users", percent, Count(static_cast<double>(done)).c_str(),
                    Count(static_cast<double>(p.total)).c_str()),
       0},
      {", " + Count(static_cast<double>(p.failed)) + " failed", 1},
      {" [" + Clock(p.elapsed_s) + "<" + Clock(eta) + ", " + Count(rate) + " users/s]", 2},
      {StringPrintf(" downloads %zu+%zu waiting", p.downloads_in_flight, p.downloads_waiting), 3},
      {StringPrintf(" | images waiting %zu", p.images_waiting), 5},
      {StringPrintf(" | jobs %zu on %zu workers", p.jobs_in_flight, p.workers), 4},
      {StringPrintf(" | memory %.1f/%.0f MiB", static_cast<double>(p.budget_used) / (1 << 20),
                    static_cast<double>(p.budget_limit) / (1 << 20)),
       6},
  };
  size_t length = 0;
  for (const Part& part : parts) length += part.text.size();
  for (int rank = 6; rank > 0 && length > width; --rank) {
    for (Part& part : parts) {
      if (part.rank != rank) continue;
      length -= part.text.size();
      part.text.clear();
    }
  }
  std::string line;
  for (const Part& part : parts) line += part.text;
  if (line.size() > width) line.resize(width);
  return line;
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
  OnEvent(LogLevel::kWarning, "cannot create --progress-file " + options_.progress_file + ": " +
                                  std::strerror(errno) + "; the run goes on without samples");
  return false;
}

void TerminalOutput::WriteSample(const ProgressSample& p) {
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
    OnEvent(LogLevel::kWarning, "cannot write --progress-file " + options_.progress_file + ": " +
                                    std::strerror(error) + "; no more samples are written");
  }
}

}  // namespace pixelmill
