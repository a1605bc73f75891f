#include "core/conversation/message_builder.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/tokenizer/unicode.h"

namespace convgen {
namespace {

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool IsUtf8Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// A 64-bit mix (SplitMix64's finalizer), for spreading search start points.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Tokens of room kept after a body so that its cut points exist.
constexpr int64_t kBodyMargin = 64;
// How many cut points the fast path tries at each end.
constexpr int kHeadAttempts = 4;
constexpr int kTailAttempts = 8;
// The whole-message search: start points it tries, cuts it probes on each
// side of the binary search's result, times it may double a body source
// that encodes too densely, and encodes in all (a message that is one huge
// pre-token costs milliseconds per encode).
constexpr int kSearchAttempts = 16;
constexpr int64_t kSearchProbes = 31;
constexpr int kSearchGrowths = 6;
constexpr int kSearchCounts = 256;
// When those fail (short targets over text where few cuts are exact, e.g.
// one token of a script the vocabulary holds mostly as pieces), more start
// points spread over the whole corpus, while the bytes encoded stay below a
// bound (a fraction of a second of encoding).
constexpr int kSpreadAttempts = 4096;
constexpr size_t kSearchBytes = size_t{16} << 20;

// Byte offsets of the character boundaries of text, its end included.
std::vector<size_t> CharBoundaries(const std::string& text) {
  std::vector<size_t> boundaries;
  for (size_t pos = 0; pos <= text.size(); ++pos) {
    if (pos == text.size() || !IsUtf8Continuation(text[pos])) boundaries.push_back(pos);
  }
  return boundaries;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MessageBuilder>> MessageBuilder::Create(
    std::shared_ptr<const TokenizedCorpus> corpus, std::shared_ptr<const Tokenizer> tokenizer) {
  if (corpus->num_tokens() == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("corpus ", corpus->name(),
                     " is empty: there is no text to build messages from; "
                     "use a corpus with some text in it"));
  }
  return std::unique_ptr<MessageBuilder>(
      new MessageBuilder(std::move(corpus), std::move(tokenizer)));
}

MessageBuilder::MessageBuilder(std::shared_ptr<const TokenizedCorpus> corpus,
                               std::shared_ptr<const Tokenizer> tokenizer)
    : corpus_(std::move(corpus)),
      tokenizer_(std::move(tokenizer)),
      sentencepiece_(tokenizer_->sentencepiece_style()),
      cuts_(corpus_->cuts()) {}

bool MessageBuilder::Cancelled() const { return stop_ != nullptr && stop_->ShouldStop(); }

absl::Status MessageBuilder::CancelledError() const {
  return stop_->Reason("searching for an exact cut");
}

uint32_t MessageBuilder::Offset(uint64_t k) const {
  return k < corpus_->num_tokens() ? corpus_->offsets()[k]
                                   : static_cast<uint32_t>(corpus_->text().size());
}

bool MessageBuilder::AtCharBoundary(uint64_t k) const {
  const uint32_t offset = Offset(k);
  return offset == corpus_->text().size() || !IsUtf8Continuation(corpus_->text()[offset]);
}

uint64_t MessageBuilder::CharBoundaryAtOrAfter(uint64_t k) const {
  while (k < corpus_->num_tokens() && !AtCharBoundary(k)) ++k;
  return k;
}

uint64_t MessageBuilder::ClampToCharBoundary(uint64_t k) const {
  k = CharBoundaryAtOrAfter(k);
  return k < corpus_->num_tokens() ? k : 0;
}

size_t MessageBuilder::FirstCutAtOrAfter(uint64_t k) const {
  return std::lower_bound(cuts_.begin(), cuts_.end(), k) - cuts_.begin();
}

uint32_t MessageBuilder::BodyStart(uint64_t k) const {
  const uint32_t offset = Offset(k);
  const bool space = offset < corpus_->text().size() && corpus_->text()[offset] == ' ';
  return offset + (sentencepiece_ && space ? 1 : 0);
}

uint64_t MessageBuilder::PlaceBody(double unit, int64_t tokens) const {
  const auto n = static_cast<int64_t>(corpus_->num_tokens());
  const int64_t room = n - tokens - kBodyMargin;
  const int64_t span = room > 0 ? room : n;
  return std::min<uint64_t>(static_cast<uint64_t>(unit * static_cast<double>(span)), n - 1);
}

bool MessageBuilder::AppendCircular(int64_t tokens, uint64_t* k, uint32_t* begin,
                                    std::string* out) const {
  const std::string& text = corpus_->text();
  const uint64_t n = corpus_->num_tokens();
  bool wrapped = false;
  while (tokens > 0) {
    if (*k == n) {  // the corpus ran out: start over from its beginning
      wrapped = true;
      *k = 0;
      *begin = 0;
    }
    // Byte-level tokens may end inside a character: take all of it.
    const uint64_t end = CharBoundaryAtOrAfter(std::min<uint64_t>(n, *k + tokens));
    absl::StrAppend(out, absl::string_view(text).substr(*begin, Offset(end) - *begin));
    tokens -= static_cast<int64_t>(end - *k);
    *k = end;
    *begin = Offset(end);
  }
  return wrapped;
}

std::string MessageBuilder::Slice(uint64_t start, int64_t tokens, bool* wrapped) const {
  const size_t ci = FirstCutAtOrAfter(start);
  uint64_t k = ci < cuts_.size() ? cuts_[ci] : 0;
  uint32_t begin = ci < cuts_.size() ? BodyStart(k) : 0;
  std::string out;
  if (AppendCircular(tokens, &k, &begin, &out)) *wrapped = true;
  return out;
}

MessagePart MessageBuilder::CorpusPart(uint64_t start, int64_t tokens, bool* wrapped) const {
  MessagePart part;
  const size_t ci = FirstCutAtOrAfter(start);
  if (tokens > 0 && ci < cuts_.size() &&
      cuts_[ci] + static_cast<uint64_t>(tokens) <= corpus_->num_tokens()) {
    part.from_corpus = true;
    part.begin = cuts_[ci];
    part.end = CharBoundaryAtOrAfter(cuts_[ci] + tokens);
  } else if (tokens > 0) {
    part.text = Slice(start, tokens, wrapped);
  }
  return part;
}

std::string MessageBuilder::Render(const std::vector<MessagePart>& parts) const {
  std::string text;
  for (const MessagePart& part : parts) {
    if (part.from_corpus) {
      const uint32_t begin = BodyStart(part.begin);
      absl::StrAppend(&text,
                      absl::string_view(corpus_->text()).substr(begin, Offset(part.end) - begin));
    } else {
      absl::StrAppend(&text, part.text);
    }
  }
  return text;
}

int64_t MessageBuilder::TokensBefore(absl::string_view window, bool at_cut, size_t boundary) const {
  thread_local Encoding encoding;
  encoding.ids.clear();
  encoding.offsets.clear();
  encoding.piece_starts.clear();
  tokenizer_->EncodeWithOffsets(window, /*continuation=*/at_cut, &encoding);
  for (uint32_t piece : encoding.piece_starts) {
    if (encoding.offsets[piece] == boundary) return piece;
  }
  return -1;
}

void MessageBuilder::SplitPending(std::string* pending, int64_t* stable, bool* at_cut) const {
  if (pending->empty()) return;
  PendingSplit& split = pending_split_;
  if (split.text != *pending || split.at_cut != *at_cut) {
    split.text = *pending;
    split.at_cut = *at_cut;
    split.offset = 0;
    thread_local Encoding encoding;
    encoding.ids.clear();
    encoding.offsets.clear();
    encoding.piece_starts.clear();
    tokenizer_->EncodeWithOffsets(*pending, *at_cut, &encoding);
    const auto& starts = encoding.piece_starts;
    // The same rule as the corpus's cut points (TokenizedCorpus::cuts),
    // with a piece after the split inside the text: the last piece may
    // join what follows, the pieces before the split do not.
    for (size_t j = starts.size(); j-- > 1;) {
      const uint32_t k = starts[j - 1];
      const uint32_t offset = encoding.offsets[k];
      if (k == 0 || offset == 0 || encoding.offsets[starts[j]] <= offset) continue;
      if (!IsCutPoint(*pending, offset, sentencepiece_)) continue;
      split.offset = offset;
      split.tokens_before = k;
      break;
    }
  }
  if (split.offset == 0) return;
  *stable += split.tokens_before;
  pending->erase(0, split.offset);
  *at_cut = true;
}

int64_t MessageBuilder::CountWindow(absl::string_view window, bool at_cut) const {
  return static_cast<int64_t>(at_cut ? tokenizer_->CountContinuation(window) : Count(window));
}

void MessageBuilder::CountThrough(const std::vector<MessagePart>& parts, std::string* pending,
                                  int64_t* stable, bool* at_cut) const {
  const std::string& text = corpus_->text();
  const uint64_t n = corpus_->num_tokens();
  pending->clear();
  *stable = 0;
  *at_cut = false;
  for (const MessagePart& part : parts) {
    if (!part.from_corpus) {
      absl::StrAppend(pending, part.text);
      continue;
    }
    // Encode the window up to a cut e the message splits at, count the
    // corpus tokens from e to the last cut p, and go on from p.
    const uint32_t begin = BodyStart(part.begin);
    size_t ei = std::upper_bound(cuts_.begin(), cuts_.end(), part.begin) - cuts_.begin();
    const auto last = static_cast<int64_t>(std::lower_bound(cuts_.begin(), cuts_.end(), part.end) -
                                           cuts_.begin()) -
                      1;
    int64_t before = -1;
    for (int attempt = 0; attempt < kHeadAttempts && static_cast<int64_t>(ei) <= last;
         ++attempt, ++ei) {
      const uint64_t limit =
          std::min<uint64_t>(ei + 1 < cuts_.size() ? cuts_[ei + 1] : n, part.end);
      std::string window = *pending;
      absl::StrAppend(&window, absl::string_view(text).substr(begin, Offset(limit) - begin));
      before = TokensBefore(window, *at_cut, pending->size() + Offset(cuts_[ei]) - begin);
      if (before >= 0) break;
    }
    if (before < 0) {
      absl::StrAppend(pending, absl::string_view(text).substr(begin, Offset(part.end) - begin));
      continue;
    }
    const uint64_t p = cuts_[last];
    *stable += before + static_cast<int64_t>(p - cuts_[ei]);
    pending->assign(text, Offset(p), Offset(part.end) - Offset(p));
    *at_cut = true;
  }
  SplitPending(pending, stable, at_cut);
}

int64_t MessageBuilder::CountParts(const std::vector<MessagePart>& parts) const {
  std::string pending;
  int64_t stable;
  bool at_cut;
  CountThrough(parts, &pending, &stable, &at_cut);
  return stable + (pending.empty() ? 0 : CountWindow(pending, at_cut));
}

absl::StatusOr<BuiltMessage> MessageBuilder::Build(const std::vector<MessagePart>& parts,
                                                   int64_t target, uint64_t start) const {
  const std::string rendered = Render(parts);
  BuiltMessage out;
  const size_t ci = FirstCutAtOrAfter(start);
  if (ci < cuts_.size() && BuildFast(parts, rendered, target, ci, &out)) {
    CONVGEN_RETURN_IF_ERROR(CheckUtf8(out.text, rendered.size()));
    return out;
  }
  CONVGEN_ASSIGN_OR_RETURN(out, BuildBySearch(rendered, CountParts(parts), target,
                                              ci < cuts_.size() ? cuts_[ci] : start));
  CONVGEN_RETURN_IF_ERROR(CheckUtf8(out.text, out.text.size()));
  return out;
}

absl::Status MessageBuilder::CheckUtf8(const std::string& text, size_t body_begin) const {
  // The fixed part is scanned whole. The body after it is one slice of the
  // corpus, which was checked when it was loaded, so it is valid iff it
  // starts and ends on a character boundary: its first byte and its last
  // character are checked. (Scanning every body costs a tenth of the
  // generation time.)
  std::optional<size_t> bad =
      unicode::FindInvalidUtf8(absl::string_view(text).substr(0, body_begin));
  if (!bad && body_begin < text.size()) {
    if (IsUtf8Continuation(text[body_begin])) {
      bad = body_begin;
    } else {
      size_t last = text.size() - 1;
      while (last > body_begin && IsUtf8Continuation(text[last])) --last;
      if (const auto tail = unicode::FindInvalidUtf8(absl::string_view(text).substr(last))) {
        bad = last + *tail;
      }
    }
  }
  if (!bad) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("the text built is not valid UTF-8 at byte ", *bad,
                   "; this is a bug in convgen: please report it with the request"));
}

bool MessageBuilder::BuildFast(const std::vector<MessagePart>& parts, const std::string& rendered,
                               int64_t target, size_t ci, BuiltMessage* out) const {
  const std::string& text = corpus_->text();
  const uint64_t n = corpus_->num_tokens();
  const uint32_t body_begin = BodyStart(cuts_[ci]);
  std::string pending;
  int64_t stable;
  bool at_cut;
  CountThrough(parts, &pending, &stable, &at_cut);
  // Head: the pending text and the body's first pre-tokens, encoded together
  // up to a cut point e that the encoding also splits at.
  thread_local std::string head;
  uint64_t e = 0;
  int64_t head_count = -1;
  size_t ei = ci + 1;
  for (int attempt = 0; attempt < kHeadAttempts && ei + 1 < cuts_.size(); ++attempt, ++ei) {
    e = cuts_[ei];
    head = pending;
    absl::StrAppend(&head,
                    absl::string_view(text).substr(body_begin, Offset(cuts_[ei + 1]) - body_begin));
    const int64_t before = TokensBefore(head, at_cut, pending.size() + Offset(e) - body_begin);
    if (before >= 0) {
      head_count = stable + before;
      break;
    }
  }
  if (head_count < 0) return false;
  const int64_t remaining = target - head_count;
  if (remaining < 0) return false;
  // Tail: corpus tokens from e to a cut point p, then the partial pre-token
  // after p encoded alone (p starts a pre-token the message splits at too).
  auto pi = static_cast<int64_t>(std::upper_bound(cuts_.begin(), cuts_.end(), e + remaining) -
                                 cuts_.begin()) -
            1;
  for (int attempt = 0; attempt < kTailAttempts && pi >= static_cast<int64_t>(ei);
       ++attempt, --pi) {
    const uint64_t p = cuts_[pi];
    const int64_t rest = remaining - static_cast<int64_t>(p - e);
    uint32_t end_byte = Offset(p);
    if (rest == 0) {
      // Ending at p: the last pre-token must not end in white space, whose
      // split depends on what follows.
      if (!sentencepiece_ && IsAsciiSpace(text[Offset(p) - 1])) continue;
    } else {
      if (p + rest > n) return false;
      end_byte = TailEnd(p, rest);
      if (end_byte == 0) continue;
    }
    out->text = rendered;
    absl::StrAppend(&out->text, absl::string_view(text).substr(body_begin, end_byte - body_begin));
    out->num_tokens = target;
    out->wrapped = false;
    return true;
  }
  return false;
}

uint32_t MessageBuilder::TailEnd(uint64_t p, int64_t rest) const {
  const std::string& text = corpus_->text();
  const uint32_t begin = Offset(p);
  const uint32_t end = Offset(p + rest);
  const auto exact = [&](uint32_t at) {
    return CountWindow(absl::string_view(text).substr(begin, at - begin), /*at_cut=*/true) == rest;
  };
  if (AtCharBoundary(p + rest)) return exact(end) ? end : 0;
  // The token boundary falls inside a character (byte-level tokens of a
  // multi-byte character): the text must end at the character's start or
  // its end, and one of them may still encode to `rest` tokens.
  uint32_t before = end;
  while (before > begin && IsUtf8Continuation(text[before])) --before;
  uint32_t after = end;
  while (after < text.size() && IsUtf8Continuation(text[after])) ++after;
  if (before > begin && exact(before)) return before;
  if (exact(after)) return after;
  return 0;
}

// The state of one message's whole-message search: the message buffer
// (the fixed part, then a prefix of a body source) and the budgets spent.
struct MessageBuilder::Search {
  absl::string_view fixed;
  int64_t fixed_count = 0;
  int64_t target = 0;
  std::string message;
  int encodes = 0;
  size_t bytes_encoded = 0;
};

absl::StatusOr<bool> MessageBuilder::SearchFrom(uint64_t k, const std::function<bool()>& more,
                                                Search& search, BuiltMessage* out) const {
  const uint64_t n = corpus_->num_tokens();
  // The body source: corpus text from k on, repeated as needed. Text may
  // encode more densely in the message than in the corpus (a wrap can join
  // the corpus's last pre-token to its first), so the source grows until
  // the whole message has at least the target.
  uint32_t begin = BodyStart(k);
  const size_t first_segment = Offset(n) - begin;
  std::string source;
  const auto count_of = [&](size_t bytes) {
    ++search.encodes;
    search.message.resize(search.fixed.size());
    search.message.append(source, 0, bytes);
    search.bytes_encoded += search.message.size();
    return Count(search.message);
  };
  const int64_t target = search.target;
  int64_t want = std::max<int64_t>(target - search.fixed_count, 0) + 16;
  AppendCircular(want, &k, &begin, &source);
  for (int growth = 0; count_of(source.size()) < target; ++growth) {
    if (Cancelled()) return CancelledError();
    if (growth == kSearchGrowths) {
      return absl::FailedPreconditionError(absl::StrCat(
          "corpus ", corpus_->name(), " encodes so densely when repeated that ", source.size(),
          " bytes of it after a fixed part of ", search.fixed_count, " tokens stay below ", target,
          " tokens; use a corpus with more varied text"));
    }
    AppendCircular(want, &k, &begin, &source);
    want *= 2;
  }
  // Cuts at character boundaries only: the text stays valid UTF-8.
  const std::vector<size_t> cuts = CharBoundaries(source);
  // The count grows (nearly) monotonically with the body: find the last cut
  // at or below the target, then look around it for an exact one.
  size_t lo = 0, hi = cuts.size() - 1;
  while (lo < hi) {
    if (Cancelled()) return CancelledError();
    const size_t mid = (lo + hi + 1) / 2;
    if (count_of(cuts[mid]) <= target) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  // Probe lo, lo + 1, lo - 1, lo + 2, ... (this order picks the cut, so
  // changing it changes outputs).
  for (int64_t i = 0; i <= 2 * kSearchProbes && more(); ++i) {
    if (Cancelled()) return CancelledError();
    const int64_t j = static_cast<int64_t>(lo) + (i % 2 == 1 ? (i + 1) / 2 : -(i / 2));
    if (j < 0 || j >= static_cast<int64_t>(cuts.size())) continue;
    if (count_of(cuts[j]) == target) {
      out->text = search.message;
      out->num_tokens = target;
      out->wrapped = cuts[j] > first_segment;
      return true;
    }
  }
  return false;
}

absl::StatusOr<BuiltMessage> MessageBuilder::BuildBySearch(absl::string_view fixed,
                                                           int64_t fixed_count, int64_t target,
                                                           uint64_t start) const {
  const uint64_t n = corpus_->num_tokens();
  const size_t first_cut = FirstCutAtOrAfter(start);
  Search search{fixed, fixed_count, target, std::string(fixed)};
  BuiltMessage out;
  // First the cut points after the start, within a count of encodes...
  const std::function<bool()> within_count = [&] { return search.encodes < kSearchCounts; };
  for (int attempt = 0; attempt < kSearchAttempts && within_count(); ++attempt) {
    const size_t ci = first_cut + attempt;
    const uint64_t k = ci < cuts_.size() ? cuts_[ci] : (start + attempt) % n;
    CONVGEN_ASSIGN_OR_RETURN(const bool found,
                             SearchFrom(ClampToCharBoundary(k), within_count, search, &out));
    if (found) return out;
  }
  // ...then start points spread over the corpus (a function of `start`,
  // which the caller drew from the message's keyed stream, so the result
  // stays deterministic), within a number of bytes encoded.
  // Every other one starts at any character, not only at a cut point: in
  // text with few cut points (no spaces, or byte-fallback characters worth
  // several tokens each) the exact bodies may all start elsewhere.
  const std::function<bool()> within_bytes = [&] { return search.bytes_encoded < kSearchBytes; };
  int spread = 0;
  for (; spread < kSpreadAttempts && within_bytes(); ++spread) {
    const uint64_t k = Mix(Mix(start) + spread) % n;
    const size_t ci = spread % 2 == 0 ? FirstCutAtOrAfter(k) : cuts_.size();
    CONVGEN_ASSIGN_OR_RETURN(const bool found,
                             SearchFrom(ClampToCharBoundary(ci < cuts_.size() ? cuts_[ci] : k),
                                        within_bytes, search, &out));
    if (found) return out;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "could not cut corpus ", corpus_->name(), " to exactly ", target,
      " tokens after a fixed part of ", fixed_count, " tokens (", search.encodes,
      " whole-message encodes from ", kSearchAttempts + spread,
      " start points tried); the tokenizer encodes this text in pieces that rarely add up to "
      "that count; use a corpus with more varied text"));
}

}  // namespace convgen
