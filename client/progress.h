// Progress: the progress line of `convgen generate` and its final summary.
// Redraws are throttled (at most one per 0.1 s of the injected clock), so a
// fast stream does not flood the terminal; the line shows conversations
// done/total, tokens per second and the time left. The caller decides where
// the lines go (stderr when it is a terminal). Not thread-safe.
#ifndef CONVGEN_CLIENT_PROGRESS_H_
#define CONVGEN_CLIENT_PROGRESS_H_

#include <cstdint>
#include <functional>
#include <string>

namespace convgen {

class Progress {
 public:
  // Seconds on a monotonic clock.
  using Clock = std::function<double()>;
  static constexpr double kRedrawSeconds = 0.1;

  // `total`: conversations this run will write (0: unknown).
  Progress(int64_t total, Clock clock);

  // Counts `tokens` more tokens of the stream.
  void AddTokens(int64_t tokens) { tokens_ += tokens; }
  // `done` conversations are written. Returns the line to draw ("\r...",
  // erasing the previous one), or "" when the last was drawn less than
  // kRedrawSeconds ago and this is not the last conversation.
  std::string Update(int64_t done);
  // "convgen: 3000 conversations, 1234567 tokens in 2.1 s (587890 tokens/s)".
  std::string Summary() const;

 private:
  std::string Line() const;

  int64_t total_;
  Clock clock_;
  double start_;
  double last_draw_ = -1;
  int64_t done_ = 0;
  int64_t tokens_ = 0;
};

}  // namespace convgen

#endif  // CONVGEN_CLIENT_PROGRESS_H_
