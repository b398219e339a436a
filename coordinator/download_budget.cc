#include "coordinator/download_budget.h"

#include <algorithm>

namespace pixelmill {

bool DownloadBudget::Reserve(BodyLease& body, uint64_t need, int64_t content_length) {
  const uint64_t held = body.lease.bytes();
  if (need <= held) return true;
  // The whole body at once when its length is known, so a transfer pauses at most once.
  uint64_t want =
      content_length > 0 ? static_cast<uint64_t>(content_length) : std::max(kFirstStep, 2 * held);
  want = std::max(need, std::min(want, max_image_bytes_));
  if (body.forced) {
    body.lease.Grow(want - held);
    return true;
  }
  // A new body does not overtake the waiting ones: they may already hold part of the budget.
  const bool queue_first = held == 0 && !paused_.empty();
  if (!queue_first && body.lease.TryGrow(want - held)) return true;
  body.want = want;
  if (!body.paused) {
    body.paused = true;
    paused_.push_back(&body);
    ++pauses_;
  }
  return false;
}

void DownloadBudget::Forget(BodyLease& body) {
  if (body.paused) paused_.erase(std::find(paused_.begin(), paused_.end(), &body));
  body.paused = body.forced = false;
  body.want = 0;
}

std::vector<uint32_t> DownloadBudget::TakeResumable() {
  std::vector<uint32_t> resumed;
  // Bodies that hold part of the budget first (finishing them gives bytes back), then new ones;
  // oldest first within each.
  for (const bool growing : {true, false}) {
    for (auto it = paused_.begin(); it != paused_.end();) {
      BodyLease& body = **it;
      if ((body.lease.bytes() > 0) == growing &&
          body.lease.TryGrow(body.want - body.lease.bytes())) {
        body.paused = false;
        resumed.push_back(body.id);
        it = paused_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (resumed.empty() && !paused_.empty() && budget_ != nullptr) ForceIfStuck(resumed);
  return resumed;
}

// Deadlock breaker: when only paused bodies hold the budget, nothing will be given back, so
// the one holding most (the oldest of equals) is granted past the limit and finishes.
void DownloadBudget::ForceIfStuck(std::vector<uint32_t>& resumed) {
  uint64_t held_by_paused = 0;
  auto most = paused_.begin();
  for (auto it = paused_.begin(); it != paused_.end(); ++it) {
    held_by_paused += (*it)->lease.bytes();
    if ((*it)->lease.bytes() > (*most)->lease.bytes()) most = it;
  }
  if (budget_->used() > held_by_paused) return;
  BodyLease& body = **most;
  paused_.erase(most);
  body.lease.Grow(body.want - body.lease.bytes());
  body.paused = false;
  body.forced = true;
  ++forced_;
  resumed.push_back(body.id);
}

bool DownloadBudget::MayStart() const {
  if (budget_ == nullptr || budget_->used() == 0) return true;
  return paused_.empty() && !budget_->full();
}

void DownloadBudget::NoteWaiting(double now_ms, bool held_back) {
  const bool waiting = held_back || !paused_.empty();
  if (waiting && waiting_since_ms_ < 0) {
    waiting_since_ms_ = now_ms;
  } else if (!waiting && waiting_since_ms_ >= 0) {
    waited_ms_ += now_ms - waiting_since_ms_;
    waiting_since_ms_ = -1;
  }
}

double DownloadBudget::wait_seconds(double now_ms) const {
  const double open = waiting_since_ms_ >= 0 ? now_ms - waiting_since_ms_ : 0;
  return (waited_ms_ + open) / 1000;
}

}  // namespace pixelmill
