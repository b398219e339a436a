#include "coordinator/output/sink.h"

#include <utility>

#include "coordinator/output/output_layout.h"

namespace pixelmill {

Sink::Sink(uv_loop_t& loop, SinkOptions options)
    : images_(loop, options.output_dir, options.durable, options.commit_delay_ms_for_tests),
      manifest_(loop, OutputLayout(options.output_dir).manifest(), options.sync_interval_ms,
                options.sync_lines) {}

Status Sink::Open() {
  if (Status s = images_.Open(); !s.ok()) return s;
  return manifest_.Open();
}

void Sink::Commit(std::string relative_path, ImageBuffer bytes, std::string line, CommitFn done) {
  // The rule of the manifest: a line is appended only after its image is complete under its
  // final name (and, with durable, on disk).
  images_.Write(
      std::move(relative_path), std::move(bytes),
      [this, line = std::move(line), done = std::move(done)](const Status& written) mutable {
        if (!written.ok()) return done(CommitResult::kImageFailed, written);
        AppendCommitted(std::move(line), std::move(done));
      });
}

void Sink::CommitLink(std::string from, std::string to, LineFn line, CommitFn done) {
  // The same rule: the line only once the image is in place under its own name.
  images_.Link(std::move(from), std::move(to),
               [this, line = std::move(line), done = std::move(done)](
                   const Status& linked, const ImageWriter::Linked& image) mutable {
                 if (!linked.ok()) return done(CommitResult::kImageFailed, linked);
                 AppendCommitted(line(image), std::move(done));
               });
}

void Sink::AppendCommitted(std::string line, CommitFn done) {
  manifest_.Append(std::move(line), [done = std::move(done)](const Status& appended) {
    done(appended.ok() ? CommitResult::kCommitted : CommitResult::kLineFailed, appended);
  });
}

void Sink::AppendManifest(std::string line, DoneFn done) {
  manifest_.Append(std::move(line), std::move(done));
}

void Sink::Close(DoneFn done) {
  // Images first: each written one appends its line before the writer is idle.
  images_.WhenIdle([this, done = std::move(done)]() mutable { manifest_.Close(std::move(done)); });
}

}  // namespace pixelmill
