// Corpora: the text that fills messages.
//
// CorpusText is checked UTF-8 with its SHA-256. TokenizedCorpus is that text
// normalized and encoded once by one tokenizer, with each token's byte
// offset, the tokens that start pre-tokens and the cut points among them, so
// that conversations can cut text at boundaries the tokenizer respects
// without any per-request work. CorpusCache shares tokenized corpora by
// (content SHA-256, tokenizer fingerprint) within a memory bound, and builds
// them within a server's MemoryBudget and a StopSignal.
//
// CorpusText and TokenizedCorpus are immutable; share TokenizedCorpus as
// shared_ptr<const TokenizedCorpus>. CorpusCache is thread-safe.
#ifndef CONVGEN_CORE_CORPUS_CORPUS_H_
#define CONVGEN_CORE_CORPUS_CORPUS_H_

#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/memory_budget.h"
#include "core/stop_signal.h"
#include "core/tokenizer/tokenizer.h"

namespace convgen {

class CorpusText {
 public:
  // Checks that bytes are UTF-8; the error names the corpus and the byte
  // offset of the first invalid sequence.
  static absl::StatusOr<CorpusText> FromBytes(std::string name, std::string bytes);
  // The same, with the SHA-256 already computed (sha256 must be
  // Sha256Hex(bytes)), so that a caller that looked the hash up first
  // hashes the bytes once.
  static absl::StatusOr<CorpusText> FromBytes(std::string name, std::string bytes,
                                              std::string sha256);

  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  const std::string& sha256() const { return sha256_; }

 private:
  CorpusText(std::string name, std::string text, std::string sha256)
      : name_(std::move(name)), text_(std::move(text)), sha256_(std::move(sha256)) {}

  std::string name_;
  std::string text_;
  std::string sha256_;
};

// Reads a corpus file; the corpus is named by its path.
absl::StatusOr<CorpusText> LoadCorpusFile(const std::string& path);

// Whether a piece that starts at text[offset] (not the text's first) is a cut point
// (see TokenizedCorpus::cuts); `sentencepiece`: the tokenizer's
// sentencepiece_style().
bool IsCutPoint(absl::string_view text, size_t offset, bool sentencepiece);

class TokenizedCorpus {
 public:
  TokenizedCorpus(const CorpusText& corpus, const Tokenizer& tokenizer);

  // Tokenizes corpus holding what it takes reserved in *budget, from the
  // normalized text on and growing with the encoding (the reservation lives
  // as long as the corpus); `on_short` is called once when the budget is
  // short, to free what it can (e.g. a cache's unused entries). Stops when
  // stop->ShouldStop(). Errors: ResourceExhausted naming the corpus, or
  // the stop's reason.
  static absl::StatusOr<std::shared_ptr<const TokenizedCorpus>> Build(
      const CorpusText& corpus, const Tokenizer& tokenizer, MemoryBudget& budget,
      const StopSignal* stop, const std::function<void()>& on_short);

  const std::string& name() const { return name_; }
  // The normalized text; offsets index it.
  const std::string& text() const { return text_; }
  absl::Span<const TokenId> ids() const { return encoding_.ids; }
  // Byte offset in text() where token k starts.
  absl::Span<const uint32_t> offsets() const { return encoding_.offsets; }
  // Indices of the tokens that start a pre-token, ascending.
  absl::Span<const uint32_t> piece_starts() const { return encoding_.piece_starts; }
  // The cut points, ascending: the piece starts where a message body may
  // start or end, split the same way in a message as in the corpus (see
  // MessageBuilder): with a SentencePiece-style tokenizer a space (or "▁")
  // after another character, else a non-space ASCII character. Computed
  // once here, so that each stream's builder borrows them.
  absl::Span<const uint32_t> cuts() const { return cuts_; }
  size_t num_tokens() const { return encoding_.ids.size(); }
  // Bytes held, for the cache's memory bound.
  size_t memory_bytes() const;

 private:
  TokenizedCorpus() = default;

  // Fills cuts_ from the encoding (`sentencepiece`: the tokenizer's
  // sentencepiece_style()).
  void FindCuts(bool sentencepiece);

  std::string name_;
  std::string text_;
  Encoding encoding_;
  std::vector<uint32_t> cuts_;
  MemoryBudget::Reservation reservation_;
};

class CorpusCache {
 public:
  explicit CorpusCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Returns the corpus tokenized by `tokenizer`, building it on a miss (in
  // *budget if given, until *stop says stop; see TokenizedCorpus::Build;
  // entries no caller holds are dropped first when the budget is short).
  // The least recently used entries are dropped when the cache holds more
  // than its bound (callers holding a corpus keep it alive). `tokenizer_key`
  // must identify the tokenizer's content (e.g. its file's SHA-256).
  absl::StatusOr<std::shared_ptr<const TokenizedCorpus>> Get(const CorpusText& corpus,
                                                             const std::string& tokenizer_key,
                                                             const Tokenizer& tokenizer,
                                                             MemoryBudget* budget = nullptr,
                                                             const StopSignal* stop = nullptr);
  // The cached corpus of (content SHA-256, tokenizer key), or null; a hit
  // counts as a use (see Get).
  std::shared_ptr<const TokenizedCorpus> Find(const std::string& sha256,
                                              const std::string& tokenizer_key);

  size_t size_bytes() const;
  size_t entries() const;

 private:
  using Key = std::pair<std::string, std::string>;  // (sha256, tokenizer key)
  struct Entry {
    Key key;
    std::shared_ptr<const TokenizedCorpus> corpus;
  };

  void EvictLocked();
  // Drops the entries no caller holds.
  void DropUnused();

  const size_t max_bytes_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recent first
  absl::flat_hash_map<Key, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0;
};

}  // namespace convgen

#endif  // CONVGEN_CORE_CORPUS_CORPUS_H_
