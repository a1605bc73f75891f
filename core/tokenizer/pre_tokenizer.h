// PreTokenizer: splits (normalized) text into pre-tokens, the pieces a BPE
// model encodes independently, as Hugging Face's Split pre-tokenizer does.
//
// Implementations: a PCRE2-JIT regex splitter for any pattern, and
// hand-written scanners for the cl100k family of patterns (cl100k, Llama 3,
// Qwen2/3) and for o200k's that yield the same pieces several times faster;
// tests check them against the regex. All are immutable and thread-safe.
#ifndef CONVGEN_CORE_TOKENIZER_PRE_TOKENIZER_H_
#define CONVGEN_CORE_TOKENIZER_PRE_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convgen {

// A byte range [begin, end) of the text being split.
struct Piece {
  uint32_t begin;
  uint32_t end;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Appends the pieces of text[range] to *pieces, in order.
  virtual void Split(absl::string_view text, Piece range, std::vector<Piece>* pieces) const = 0;
};

// What Split does with the text between matches (HF's SplitDelimiterBehavior
// with invert): kIsolated keeps matches and gaps as pieces; kMatchesOnly keeps
// the matches alone (HF's Removed with invert = true).
enum class SplitBehavior { kIsolated, kMatchesOnly };

// Returns a splitter for `pattern` (HF/Oniguruma syntax, which PCRE2 reads
// the same for the patterns tokenizers use). Uses the hand-written scanner
// when the pattern is one it implements, unless force_regex.
absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeSplitPreTokenizer(const std::string& pattern,
                                                                    SplitBehavior behavior,
                                                                    bool force_regex = false);

// HF's Digits pre-tokenizer: numeric characters (\p{N}, Rust's
// char::is_numeric) split from the rest, each on its own (individual) or a
// run together.
std::unique_ptr<PreTokenizer> MakeDigitsPreTokenizer(bool individual_digits);

// Applies several pre-tokenizers in turn, each to the pieces of the last.
std::unique_ptr<PreTokenizer> MakeSequencePreTokenizer(
    std::vector<std::unique_ptr<PreTokenizer>> steps);

// Well-known patterns.
extern const char kGpt2Pattern[];
extern const char kCl100kPattern[];  // also Llama 3
extern const char kQwen2Pattern[];   // cl100k with single digits
extern const char kO200kPattern[];

}  // namespace convgen

#endif  // CONVGEN_CORE_TOKENIZER_PRE_TOKENIZER_H_
