#include "client/progress.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace convgen {
namespace {

// "42s", "3m05s", "2h07m".
std::string Duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::ceil(std::max(seconds, 0.0)));
  if (s < 60) return absl::StrFormat("%ds", s);
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, s % 3600 / 60);
}

}  // namespace

Progress::Progress(int64_t total, Clock clock)
    : total_(total), clock_(std::move(clock)), start_(clock_()) {}

std::string Progress::Update(int64_t done) {
  done_ = done;
  const double now = clock_();
  const bool last = total_ > 0 && done >= total_;
  if (!last && last_draw_ >= 0 && now - last_draw_ < kRedrawSeconds) return "";
  last_draw_ = now;
  return "\r" + Line() + "\x1b[K";  // erase what a longer line left
}

std::string Progress::Line() const {
  const double elapsed = clock_() - start_;
  const double tokens_per_second = elapsed > 0 ? tokens_ / elapsed : 0;
  std::string line;
  if (total_ > 0) {
    const int width = 30;
    const int64_t shown = std::min(done_, total_);
    const int filled = static_cast<int>(width * shown / total_);
    line = absl::StrFormat("[%s%s] %d/%d conversations", std::string(filled, '#'),
                           std::string(width - filled, ' '), shown, total_);
  } else {
    line = absl::StrFormat("%d conversations", done_);
  }
  absl::StrAppendFormat(&line, ", %.0f tokens/s", tokens_per_second);
  if (total_ > 0 && done_ > 0 && done_ < total_ && elapsed > 0) {
    absl::StrAppend(&line, ", ETA ", Duration((total_ - done_) * elapsed / done_));
  }
  return line;
}

std::string Progress::Summary() const {
  const double elapsed = clock_() - start_;
  return absl::StrFormat("convgen: %d conversations, %d tokens in %.1f s (%.0f tokens/s)\n", done_,
                         tokens_, elapsed, elapsed > 0 ? tokens_ / elapsed : 0);
}

}  // namespace convgen
