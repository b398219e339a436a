#include "coordinator/download/download_budget.h"

#include <algorithm>

namespace pixelmill {

// A quarter of a small budget at most, so that even a tiny one keeps a few transfers going (one
// at a time would hide which stage holds the run up).
uint64_t DownloadBudget::Opening() const {
  return budget_ != nullptr ? std::min(kStep, std::max<uint64_t>(1, budget_->limit() / 4)) : kStep;
}

size_t DownloadBudget::Admissible(size_t max) const {
  if (budget_ == nullptr) return max;
  const uint64_t used = budget_->used(), limit = budget_->limit();
  uint64_t room = used < limit ? (limit - used) / Opening() : 0;
  if (used == 0) {
    room = std::max<uint64_t>(room, 1);  // nothing held, nothing to wait for: one always runs
  } else if (!paused_.empty() || settling_) {
    // A waiting body gets the room first; after a stop, the bodies on the wire (who needed more
    // than there was) do, until one ends.
    room = 0;
  }
  return static_cast<size_t>(std::min<uint64_t>(max, room));
}

void DownloadBudget::Admit(BodyLease& body) {
  body.age = ++admitted_;
  body.want = 0;
  body.paused = body.sized = body.unknown_length = false;
  body.lease.Grow(Opening());
}

bool DownloadBudget::Reserve(BodyLease& body, uint64_t need, int64_t content_length) {
  const uint64_t held = body.lease.bytes();
  uint64_t want = 0;
  if (content_length >= 0) {
    want = static_cast<uint64_t>(content_length);  // the whole body at once: one pause at most
  } else if (!body.sized) {
    want = estimate_;
    body.unknown_length = true;
  }
  body.sized = true;
  want = std::min(want, max_image_bytes_);
  if (want < need) {
    // Beyond what was expected (no length, or a server longer than it said): fixed blocks, so
    // the lease stays within kStep of the bytes received; a body of unknown length admitted
    // before the estimate grew asks for the estimate at once.
    want = held + (need - held + kStep - 1) / kStep * kStep;
    if (body.unknown_length) want = std::max(want, estimate_);
    want = std::max(need, std::min(want, max_image_bytes_));
  }
  if (want <= held) return true;
  if (!OlderWaiting(body) && body.lease.TryGrow(want - held)) return true;
  body.want = want;
  Pause(body);
  return false;
}

void DownloadBudget::Pause(BodyLease& body) {
  if (body.paused) return;
  body.paused = true;
  ++pauses_;
  const auto at = std::upper_bound(paused_.begin(), paused_.end(), body.age,
                                   [](uint64_t age, const BodyLease* b) { return age < b->age; });
  paused_.insert(at, &body);
}

// Room goes to the oldest transfer first: a body does not take it while an older one waits.
bool DownloadBudget::OlderWaiting(const BodyLease& body) const {
  return !paused_.empty() && paused_.front() != &body && paused_.front()->age < body.age;
}

void DownloadBudget::Forget(BodyLease& body) {
  if (body.paused) paused_.erase(std::find(paused_.begin(), paused_.end(), &body));
  body.paused = false;
  body.want = 0;
  settling_ = false;
}

void DownloadBudget::NoteDelivered(const BodyLease& body, uint64_t size) {
  // The largest recent size, decaying, so one huge body does not hold the estimate up forever.
  if (body.unknown_length) estimate_ = std::max({kStep, size, estimate_ - estimate_ / 4});
}

BudgetGrants DownloadBudget::TakeResumable() {
  BudgetGrants grants;
  while (!paused_.empty()) {
    for (auto it = paused_.begin(); it != paused_.end();) {
      BodyLease& body = **it;
      if (body.lease.TryGrow(body.want - body.lease.bytes())) {
        body.paused = false;
        grants.resumed.push_back(body.id);
        it = paused_.erase(it);
      } else {
        ++it;
      }
    }
    if (!grants.resumed.empty() || paused_.size() < 2 || !OnlyPausedHold()) break;
    // Nothing downstream will give bytes back: the youngest gives its own, and is fetched again
    // later. Not the last one: alone, it grows past the limit (TryGrow above).
    BodyLease& youngest = *paused_.back();
    paused_.pop_back();
    youngest.lease.Reset();
    youngest.paused = false;
    youngest.want = 0;
    ++stopped_;
    settling_ = true;
    grants.stopped.push_back(youngest.id);
  }
  return grants;
}

bool DownloadBudget::OnlyPausedHold() const {
  if (budget_ == nullptr) return false;
  uint64_t held_by_paused = 0;
  for (const BodyLease* body : paused_) held_by_paused += body->lease.bytes();
  return budget_->used() <= held_by_paused;
}

void DownloadBudget::NoteWaiting(TimePoint now, bool held_back) {
  const bool waiting = held_back || !paused_.empty();
  if (waiting && !waiting_since_) {
    waiting_since_ = now;
  } else if (!waiting && waiting_since_) {
    waited_ += now - *waiting_since_;
    waiting_since_.reset();
  }
}

Duration DownloadBudget::waited(TimePoint now) const {
  return waited_ + (waiting_since_ ? now - *waiting_since_ : Duration::zero());
}

}  // namespace pixelmill
