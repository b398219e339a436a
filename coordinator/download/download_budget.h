// DownloadBudget: the downloader's side of the byte budget (--max-memory), without curl. Its
// promise: the image bytes held never pass the budget by more than one image, whatever the
// servers send (with or without a Content-Length, truthful or not).
//
// Admission: a transfer goes on the wire only with an opening reservation (kStep, or a quarter of
// a small budget), and only while no body waits for room. At its first write a body
// reserves its whole Content-Length, or, when the length is unknown, what recent bodies of
// unknown length turned out to need (at least kStep); past that it grows in kStep blocks. A body
// the budget cannot grant now is paused (its transfer's write callback returns
// CURL_WRITEFUNC_PAUSE) and waits here.
//
// TakeResumable() grants the paused bodies that fit now, oldest transfer first (a younger one
// only when an older one's need does not fit). When every byte of the budget is held by paused
// bodies, nothing will ever be given back: instead of granting one past the limit, it stops the
// youngest paused transfer (its bytes go back; the downloader takes it off the wire and queues it
// again without counting an attempt), then the next youngest, until one can go on. A body alone
// in the budget may grow past the limit (one image larger than the whole budget still runs,
// alone): that is the one image by which the budget may be exceeded. The time during which some
// download waits for budget is accumulated, so the report can say a run was memory-bound.
//
// Policy only (no clock of its own: callers pass `now`); used by the downloader on the loop thread.
// With no budget (nullptr) every grant succeeds and nothing ever pauses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "common/base/byte_budget.h"
#include "coordinator/events/clock.h"

namespace pixelmill {

// The budget held by one download's body, attempt after attempt.
struct BodyLease {
  uint32_t id = 0;   // the downloader's fetch id, for TakeResumable()
  uint64_t age = 0;  // admission order of its current attempt: lower is older
  ByteLease lease;
  uint64_t want = 0;            // the lease size it waits for while paused
  bool paused = false;          // waiting in the budget's queue
  bool sized = false;           // its first write reserved what the body is expected to need
  bool unknown_length = false;  // the server sent no Content-Length
};

// What TakeResumable() decided, by fetch id.
struct BudgetGrants {
  std::vector<uint32_t> resumed;  // granted: unpause them
  std::vector<uint32_t> stopped;  // bytes taken back: off the wire, to be queued again
};

class DownloadBudget {
 public:
  // The opening reservation, the first estimate of a body of unknown length, and the block in
  // which bodies grow past what they reserved.
  static constexpr uint64_t kStep = 256 * 1024;

  DownloadBudget(ByteBudget* budget, uint64_t max_image_bytes)
      : budget_(budget), max_image_bytes_(max_image_bytes) {}

  // Binds a new body's lease to the budget.
  void Bind(BodyLease& body) const { body.lease = ByteLease(budget_); }
  // How many of `max` transfers may be put on the wire now (each with Admit()).
  size_t Admissible(size_t max) const;
  // Whether one transfer may be put on the wire now.
  bool MayStart() const { return Admissible(1) > 0; }
  // Takes the opening reservation of a transfer going on the wire: it is the youngest now.
  // REQUIRES: Admissible() allowed it; body holds no bytes.
  void Admit(BodyLease& body);
  // Grows `body` to hold at least `need` bytes (see above; `content_length` -1 when unknown).
  // The first write of each attempt must call it. False when the budget cannot grant it now:
  // the body is then paused.
  [[nodiscard]] bool Reserve(BodyLease& body, uint64_t need, int64_t content_length);
  // The body's transfer is off the wire: it leaves the queue; its bytes stay held (a delivered
  // body carries them on).
  void Forget(BodyLease& body);
  // A body of `size` bytes was delivered: one of unknown length teaches the estimate.
  void NoteDelivered(const BodyLease& body, uint64_t size);
  // Grants the paused bodies that fit now, or stops the youngest while only paused bodies hold
  // the budget (see above). Both leave the queue.
  BudgetGrants TakeResumable();
  // Records at `now_ms` whether some download waits for budget: a paused body, or `held_back`
  // (downloads ready to start that MayStart() keeps waiting).
  void NoteWaiting(TimePoint now, bool held_back);

  size_t paused() const { return paused_.size(); }
  uint64_t pauses() const { return pauses_; }
  uint64_t stopped() const { return stopped_; }
  // What a body of unknown length reserves at its first write now.
  uint64_t estimate() const { return estimate_; }
  // How long some download waited for budget, up to `now`.
  Duration waited(TimePoint now) const;

 private:
  uint64_t Opening() const;
  void Pause(BodyLease& body);
  bool OlderWaiting(const BodyLease& body) const;
  bool OnlyPausedHold() const;

  ByteBudget* const budget_;
  const uint64_t max_image_bytes_;
  std::deque<BodyLease*> paused_;  // oldest transfer first
  uint64_t admitted_ = 0;
  uint64_t estimate_ = kStep;
  uint64_t pauses_ = 0, stopped_ = 0;
  bool settling_ = false;  // a transfer was stopped: admit none until one on the wire ends
  std::optional<TimePoint> waiting_since_;  // some download waits for budget since then
  Duration waited_{};                       // closed waits
};

}  // namespace pixelmill
