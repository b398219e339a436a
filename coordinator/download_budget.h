// DownloadBudget: the downloader's side of the byte budget (--max-memory), without curl. Each
// body holds a BodyLease: the whole Content-Length when it is known, else steps that double
// (256 KiB at first), never past max_image_bytes. A body the budget cannot grant now is paused
// (its transfer's write callback returns CURL_WRITEFUNC_PAUSE) and waits here, oldest first.
//
// TakeResumable() grants the paused bodies that now fit, those already holding bytes first; a
// new body never overtakes waiting ones. When every byte of the budget is held by paused
// bodies, nothing downstream will ever give bytes back, so the one holding most is granted past
// the limit ("forced") and may grow freely until its attempt ends. New transfers start only
// while nothing is paused and the budget is not full (or is empty). The time during which some
// download waits for budget is accumulated, so the report can say a run was memory-bound.
//
// Policy only (no clock: callers pass now_ms); used by the downloader on the loop thread. With
// no budget (nullptr) every grant succeeds and nothing ever pauses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "common/byte_budget.h"

namespace pixelmill {

// The budget held by one download's body, attempt after attempt.
struct BodyLease {
  uint32_t id = 0;  // the downloader's fetch id, for TakeResumable()
  ByteLease lease;
  uint64_t want = 0;    // the lease size it waits for while paused
  bool paused = false;  // waiting in the budget's queue
  bool forced = false;  // granted past the limit: grows freely until Forget()
};

class DownloadBudget {
 public:
  static constexpr uint64_t kFirstStep = 256 * 1024;

  DownloadBudget(ByteBudget* budget, uint64_t max_image_bytes)
      : budget_(budget), max_image_bytes_(max_image_bytes) {}

  // Binds a new body's lease to the budget.
  void Bind(BodyLease& body) const { body.lease = ByteLease(budget_); }
  // Grows `body` to hold at least `need` bytes: `content_length` (-1 when unknown) or the next
  // doubling step. False when the budget cannot grant it now: the body is then paused.
  [[nodiscard]] bool Reserve(BodyLease& body, uint64_t need, int64_t content_length);
  // The body's transfer is off the wire: it leaves the queue and loses a forced grant; its bytes
  // stay held (a delivered body carries them on).
  void Forget(BodyLease& body);
  // Grants the paused bodies that fit now (and forces one if only paused bodies hold the
  // budget); returns their ids, no longer paused, for the caller to resume.
  std::vector<uint32_t> TakeResumable();
  // Whether a transfer may be put on the wire now.
  bool MayStart() const;
  // Records at `now_ms` whether some download waits for budget: a paused body, or `held_back`
  // (downloads ready to start that MayStart() keeps waiting).
  void NoteWaiting(double now_ms, bool held_back);

  size_t paused() const { return paused_.size(); }
  uint64_t pauses() const { return pauses_; }
  uint64_t forced() const { return forced_; }
  // Seconds some download waited for budget, up to `now_ms`.
  double wait_seconds(double now_ms) const;

 private:
  void ForceIfStuck(std::vector<uint32_t>& resumed);

  ByteBudget* const budget_;
  const uint64_t max_image_bytes_;
  std::deque<BodyLease*> paused_;  // oldest first
  uint64_t pauses_ = 0, forced_ = 0;
  double waiting_since_ms_ = -1;
  double waited_ms_ = 0;
};

}  // namespace pixelmill
