#include "core/corpus/corpus.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/files.h"
#include "core/sha256.h"
#include "core/status_macros.h"
#include "core/tokenizer/unicode.h"

namespace convgen {

absl::StatusOr<CorpusText> CorpusText::FromBytes(std::string name, std::string bytes) {
  std::string sha256 = Sha256Hex(bytes);
  return FromBytes(std::move(name), std::move(bytes), std::move(sha256));
}

absl::StatusOr<CorpusText> CorpusText::FromBytes(std::string name, std::string bytes,
                                                 std::string sha256) {
  if (const auto bad = unicode::FindInvalidUtf8(bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("corpus ", name, ": invalid UTF-8 at byte offset ", *bad,
                     "; convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)"));
  }
  return CorpusText(std::move(name), std::move(bytes), std::move(sha256));
}

absl::StatusOr<CorpusText> LoadCorpusFile(const std::string& path) {
  CONVGEN_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return CorpusText::FromBytes(path, std::move(bytes));
}

bool IsCutPoint(absl::string_view text, size_t offset, bool sentencepiece) {
  if (offset >= text.size()) return false;
  if (sentencepiece) {
    // A word starts at a space (or "▁") after another character.
    const bool space_before = (offset >= 1 && text[offset - 1] == ' ') ||
                              (offset >= kSentencePieceSpace.size() &&
                               text.substr(offset - kSentencePieceSpace.size(),
                                           kSentencePieceSpace.size()) == kSentencePieceSpace);
    return SpaceLikeLength(text, offset, text.size()) > 0 && !space_before;
  }
  const char c = text[offset];
  return static_cast<unsigned char>(c) < 0x80 && c != ' ' && c != '\t' && c != '\n' && c != '\r' &&
         c != '\f' && c != '\v';
}

TokenizedCorpus::TokenizedCorpus(const CorpusText& corpus, const Tokenizer& tokenizer)
    : name_(corpus.name()), text_(tokenizer.Normalize(corpus.text())) {
  tokenizer.EncodeWithOffsets(text_, /*continuation=*/false, &encoding_);
  FindCuts(tokenizer.sentencepiece_style());
}

void TokenizedCorpus::FindCuts(bool sentencepiece) {
  // Counted first, so that the vector holds no spare room (with byte-level
  // tokenizers most words start with a space: few pieces are cuts).
  const auto is_cut = [&](uint32_t k) {
    return k != 0 && IsCutPoint(text_, encoding_.offsets[k], sentencepiece);
  };
  cuts_.reserve(
      std::count_if(encoding_.piece_starts.begin(), encoding_.piece_starts.end(), is_cut));
  for (uint32_t k : encoding_.piece_starts) {
    if (is_cut(k)) cuts_.push_back(k);
  }
}

absl::StatusOr<std::shared_ptr<const TokenizedCorpus>> TokenizedCorpus::Build(
    const CorpusText& corpus, const Tokenizer& tokenizer, MemoryBudget& budget,
    const StopSignal* stop, const std::function<void()>& on_short) {
  const std::string what = absl::StrCat("tokenizing corpus ", corpus.name());
  std::shared_ptr<TokenizedCorpus> built(new TokenizedCorpus());
  built->name_ = corpus.name();
  CONVGEN_ASSIGN_OR_RETURN(built->reservation_, budget.Reserve(0, what));
  bool freed = false;
  const auto reserve = [&](size_t bytes) {
    absl::Status status = built->reservation_.Resize(static_cast<int64_t>(bytes), what);
    if (status.ok() || freed || !on_short) return status;
    freed = true;
    on_short();
    return built->reservation_.Resize(static_cast<int64_t>(bytes), what);
  };
  // The normalized copy, then the encoding as it grows, with room for the
  // next doubling of its vectors (half of what they hold).
  CONVGEN_RETURN_IF_ERROR(reserve(corpus.text().size()));
  built->text_ = tokenizer.Normalize(corpus.text());
  const size_t text_bytes = built->text_.capacity();
  CONVGEN_RETURN_IF_ERROR(reserve(text_bytes));
  absl::Status refused;
  const bool complete = tokenizer.EncodeCorpus(
      built->text_,
      [&](size_t held) {
        if (stop != nullptr && stop->ShouldStop()) return false;
        refused = reserve(text_bytes + held + held / 2);
        return refused.ok();
      },
      &built->encoding_);
  if (!refused.ok()) return refused;
  // A stop seen deep in the tokenizer (see ScopedStop) may have cut a word's
  // encoding short without ending the encoding: nothing stopped is kept.
  if (stop != nullptr && stop->ShouldStop()) return stop->Reason(what);
  if (!complete || ThisThreadShouldStop()) {
    return absl::CancelledError(absl::StrCat("stopped while ", what));
  }
  // The cut points: at most one per piece start.
  CONVGEN_RETURN_IF_ERROR(
      reserve(built->memory_bytes() + built->encoding_.piece_starts.size() * sizeof(uint32_t)));
  built->FindCuts(tokenizer.sentencepiece_style());
  CONVGEN_RETURN_IF_ERROR(built->reservation_.Resize(built->memory_bytes(), what));
  return built;
}

size_t TokenizedCorpus::memory_bytes() const {
  return sizeof(*this) + text_.capacity() + encoding_.ids.capacity() * sizeof(TokenId) +
         encoding_.offsets.capacity() * sizeof(uint32_t) +
         encoding_.piece_starts.capacity() * sizeof(uint32_t) + cuts_.capacity() * sizeof(uint32_t);
}

std::shared_ptr<const TokenizedCorpus> CorpusCache::Find(const std::string& sha256,
                                                         const std::string& tokenizer_key) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = index_.find(Key{sha256, tokenizer_key});
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->corpus;
}

absl::StatusOr<std::shared_ptr<const TokenizedCorpus>> CorpusCache::Get(
    const CorpusText& corpus, const std::string& tokenizer_key, const Tokenizer& tokenizer,
    MemoryBudget* budget, const StopSignal* stop) {
  Key key{corpus.sha256(), tokenizer_key};
  if (auto found = Find(key.first, key.second)) return found;
  // Tokenize outside the lock: it takes a while, and other corpora may be
  // served meanwhile. Two racing misses build twice; the first one stays.
  std::shared_ptr<const TokenizedCorpus> built;
  if (budget != nullptr) {
    CONVGEN_ASSIGN_OR_RETURN(
        built, TokenizedCorpus::Build(corpus, tokenizer, *budget, stop, [this] { DropUnused(); }));
  } else {
    built = std::make_shared<const TokenizedCorpus>(corpus, tokenizer);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = index_.find(key);
  if (it != index_.end()) return it->second->corpus;
  lru_.push_front({key, built});
  index_.emplace(std::move(key), lru_.begin());
  bytes_ += built->memory_bytes();
  EvictLocked();
  return built;
}

void CorpusCache::EvictLocked() {
  // The newest entry stays even if it alone exceeds the bound.
  while (bytes_ > max_bytes_ && lru_.size() > 1) {
    const Entry& victim = lru_.back();
    bytes_ -= victim.corpus->memory_bytes();
    index_.erase(victim.key);
    lru_.pop_back();
  }
}

void CorpusCache::DropUnused() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->corpus.use_count() == 1) {
      bytes_ -= it->corpus->memory_bytes();
      index_.erase(it->key);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t CorpusCache::size_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

size_t CorpusCache::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lru_.size();
}

}  // namespace convgen
