// Copyright limiterd authors.
#include "short_read_watch.h"

namespace limiterd::server {

ShortReadWatch::Entry::~Entry() {
  if (watch_ != nullptr) watch_->Leave(*this);
}

ShortReadWatch::ShortReadWatch(boost::asio::io_context& io) : timer_(io) {}

ShortReadWatch::~ShortReadWatch() {
  while (head_ != nullptr) Unlink(*head_);
}

void ShortReadWatch::Enter(Entry& entry) {
  if (entry.watch_ != nullptr) entry.watch_->Unlink(entry);
  entry.watch_ = this;
  entry.since_ = tick_;
  entry.prev_ = tail_;
  entry.next_ = nullptr;
  (tail_ != nullptr ? tail_->next_ : head_) = &entry;
  tail_ = &entry;
  ++size_;
  if (!armed_) Arm();
}

void ShortReadWatch::Leave(Entry& entry) {
  if (entry.watch_ == this) Unlink(entry);
}

void ShortReadWatch::Unlink(Entry& entry) {
  (entry.prev_ != nullptr ? entry.prev_->next_ : head_) = entry.next_;
  (entry.next_ != nullptr ? entry.next_->prev_ : tail_) = entry.prev_;
  entry.prev_ = entry.next_ = nullptr;
  entry.watch_ = nullptr;
  --size_;
}

void ShortReadWatch::Arm() {
  armed_ = true;
  timer_.expires_after(kTick);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the watch may be gone
    Tick();
  });
}

void ShortReadWatch::Tick() {
  armed_ = false;
  ++tick_;
  // Entered at tick_ - 2 or before: it has waited one whole tick at least.
  while (head_ != nullptr && head_->since_ + 2 <= tick_) {
    Entry& entry = *head_;
    Unlink(entry);
    ++checks_;
    entry.CheckInput();
  }
  if (head_ != nullptr) Arm();
}

}  // namespace limiterd::server
