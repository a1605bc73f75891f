#include "core/tokenizer/bpe_model.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/scratch.h"
#include "core/stop_signal.h"
#include "core/tokenizer/unicode.h"

namespace convgen {
namespace {

// Words longer than this are encoded without the cache: they are rare, and
// would make the cache's memory grow with the text.
constexpr size_t kMaxCachedWordBytes = 64;
// Entries per model per thread before the cache starts over.
constexpr size_t kMaxCacheEntries = 1 << 16;
constexpr int kMergesPerStopCheck = 1 << 16;

// A word as WordCache looks it up: its hash and, for a short word, its bytes
// zero-padded to two words, so that it is compared in two loads.
struct WordKey {
  static constexpr size_t kInlineBytes = 16;

  explicit WordKey(absl::string_view word) : text(word) {
    constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
    uint64_t h = word.size() * 0xD6E8FEB86659FD93ull;
    if (word.size() <= kInlineBytes) {
      LoadPadded(word);
      h = (h ^ bytes[0]) * kMul;
      h ^= h >> 32;
      h = (h ^ bytes[1]) * kMul;
    } else {
      const char* p = word.data();
      size_t n = word.size();
      for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        h = (h ^ v) * kMul;
        h ^= h >> 32;
      }
      uint64_t v = 0;
      std::memcpy(&v, p, n);
      h = (h ^ v) * kMul;
    }
    h ^= h >> 29;
    hash = h;
  }

  // Sets bytes to the word's, zero-padded, without a call to memcpy (whose
  // variable length costs a library call per word).
  void LoadPadded(absl::string_view word) {
    const char* p = word.data();
    const size_t n = word.size();
    if constexpr (std::endian::native != std::endian::little) {
      std::memcpy(bytes, p, n);
    } else if (n > 8) {  // the last 8 bytes, shifted down past those already in bytes[0]
      std::memcpy(&bytes[0], p, 8);
      std::memcpy(&bytes[1], p + n - 8, 8);
      bytes[1] >>= 8 * (16 - n);
    } else if (n >= 4) {  // two 4-byte loads that may overlap on the same bytes
      uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + n - 4, 4);
      bytes[0] = lo | (static_cast<uint64_t>(hi) << (8 * (n - 4)));
    } else {
      for (size_t i = 0; i < n; ++i) {
        bytes[0] |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
      }
    }
  }

  absl::string_view text;
  uint64_t bytes[2] = {0, 0};  // words of at most kInlineBytes
  uint64_t hash;
};

// The per-thread memo of encoded words of one model: open addressing with
// linear probing over 32-byte slots. A slot holds a short word's bytes and a
// one-token word's token itself, so that the common lookup (a short word of
// one token) reads one slot and nothing else; longer words and tokens live in
// two arenas. It replaced an absl::flat_hash_map<std::string, range>, whose
// lookup (hashing, a control byte, the string, the token range: up to four
// cache misses, plus a memcmp and a memmove call) was ~60% of encoding warm
// text; see bench/tokenizer_bench.cc.
class WordCache {
 public:
  // Appends the word's tokens to *out and returns true if it is cached.
  bool Lookup(const WordKey& key, std::vector<WordToken>* out) const {
    if (slots_.empty()) return false;
    const size_t mask = slots_.size() - 1;
    const uint32_t tag = TagOf(key.hash);
    const size_t length = key.text.size();
    for (size_t i = key.hash & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.tag == 0) return false;
      if (slot.tag != tag || slot.key_length != length) continue;
      if (length <= WordKey::kInlineBytes) {
        if (slot.key[0] != key.bytes[0] || slot.key[1] != key.bytes[1]) continue;
      } else if (std::memcmp(keys_.data() + slot.key[0], key.text.data(), length) != 0) {
        continue;
      }
      if (slot.token_count == 1) {
        out->push_back(slot.token);
      } else {
        const auto begin = tokens_.begin() + slot.token.id;
        out->insert(out->end(), begin, begin + slot.token_count);
      }
      return true;
    }
  }

  // Starts loading the slot where the word's lookup begins.
  void Prefetch(const WordKey& key) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[key.hash & (slots_.size() - 1)]);
  }

  // Caches the word (not cached yet, at most kMaxCachedWordBytes) as tokens.
  void Insert(const WordKey& key, const WordToken* tokens, size_t count) {
    if (size_ >= kMaxCacheEntries) Clear();
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    Slot slot{};
    slot.tag = TagOf(key.hash);
    slot.key_length = static_cast<uint8_t>(key.text.size());
    slot.token_count = static_cast<uint8_t>(count);
    if (key.text.size() <= WordKey::kInlineBytes) {
      slot.key[0] = key.bytes[0];
      slot.key[1] = key.bytes[1];
    } else {
      slot.key[0] = keys_.size();
      keys_.append(key.text.data(), key.text.size());
    }
    if (count == 1) {
      slot.token = tokens[0];
    } else {
      slot.token.id = static_cast<TokenId>(tokens_.size());
      tokens_.insert(tokens_.end(), tokens, tokens + count);
    }
    Place(key.hash, slot);
    ++size_;
  }

 private:
  struct alignas(32) Slot {
    uint32_t tag;  // from the hash, never 0; 0: the slot is empty
    uint8_t key_length;
    uint8_t token_count;  // <= 3 * key_length (a space may be the 3 bytes of "▁")
    uint64_t key[2];      // the word's bytes, zero-padded; or its offset in keys_
    WordToken token;      // the token; or, for count != 1, the offset in tokens_
  };
  static_assert(sizeof(Slot) == 32, "two slots per cache line");

  static uint32_t TagOf(uint64_t hash) { return static_cast<uint32_t>(hash >> 32) | 1; }

  void Place(uint64_t hash, const Slot& slot) {
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    while (slots_[i].tag != 0) i = (i + 1) & mask;
    slots_[i] = slot;
  }

  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    for (const Slot& slot : old) {
      if (slot.tag == 0) continue;
      WordKey key(slot.key_length <= WordKey::kInlineBytes
                      ? absl::string_view(reinterpret_cast<const char*>(slot.key), slot.key_length)
                      : absl::string_view(keys_.data() + slot.key[0], slot.key_length));
      Place(key.hash, slot);
    }
  }

  void Clear() {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    keys_.clear();
    tokens_.clear();
    size_ = 0;
  }

  std::vector<Slot> slots_;  // a power of two, at most half full
  size_t size_ = 0;
  std::string keys_;               // words longer than WordKey::kInlineBytes
  std::vector<WordToken> tokens_;  // words of other than one token
};
static_assert(kMaxCachedWordBytes < 256, "WordCache keeps lengths in a byte");

// One cache per (thread, model); a thread rarely uses more than a few models.
// The last one used is remembered, so a text's words find it without a
// lookup.
WordCache& CacheFor(uint64_t serial) {
  thread_local absl::flat_hash_map<uint64_t, std::unique_ptr<WordCache>> caches;
  thread_local uint64_t last_serial = 0;
  thread_local WordCache* last_cache = nullptr;
  if (serial == last_serial) return *last_cache;
  if (caches.size() > 8 && !caches.contains(serial)) caches.clear();
  std::unique_ptr<WordCache>& cache = caches[serial];
  if (cache == nullptr) cache = std::make_unique<WordCache>();
  last_serial = serial;
  last_cache = cache.get();
  return *cache;
}

std::atomic<uint64_t> next_serial{1};

}  // namespace

BpeModel::BpeModel(std::vector<std::string> tokens, const Options& options)
    : tokens_(std::move(tokens)), options_(options), serial_(next_serial++) {}

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(std::vector<std::string> tokens,
                                                           const MergeSource& merge_source,
                                                           const Options& options) {
  std::unique_ptr<BpeModel> model(new BpeModel(std::move(tokens), options));
  model->ids_.reserve(model->tokens_.size());
  for (TokenId id = 0; id < model->tokens_.size(); ++id) {
    const std::string& text = model->tokens_[id];
    if (!text.empty()) model->ids_.emplace(text, id);
  }
  if (!options.unk_text.empty()) model->unk_id_ = model->Find(options.unk_text);
  if (options.alphabet == Alphabet::kBytes) {
    for (int b = 0; b < 256; ++b) {
      const auto id = model->Find(std::string(1, static_cast<char>(b)));
      if (!id) {
        return absl::InvalidArgumentError(
            absl::StrFormat("byte-level vocabulary has no token for byte 0x%02X", b));
      }
      model->byte_ids_[b] = *id;
    }
  } else {
    // A vocabulary may lack some byte tokens (Gemma has "\t" but no
    // <0x09>): as in HF, a character falls back to bytes only if all of its
    // bytes have tokens, else it is unknown.
    for (int b = 0; b < 256; ++b) {
      model->fallback_ids_[b] = model->Find(absl::StrFormat("<0x%02X>", b));
    }
    model->space_id_ = model->Find(kSentencePieceSpace);
    for (const std::string& token : model->tokens_) {
      const absl::string_view text = token;
      for (size_t pos = text.find(kSentencePieceSpace, 1); pos != absl::string_view::npos;
           pos = text.find(kSentencePieceSpace, pos + 1)) {
        // The character before this "▁", unless it is a "▁" too.
        size_t begin = pos - 1;
        while (begin > 0 && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80) --begin;
        size_t length;
        const char32_t c = unicode::DecodeUtf8(text, begin, &length);
        if (c == 0x2581) continue;
        if (c < 128) {
          model->ascii_before_space_.set(c);
        } else {
          model->before_space_.insert(c);
        }
      }
    }
  }
  absl::StatusOr<std::vector<Merge>> merges = merge_source(*model);
  if (!merges.ok()) return merges.status();
  model->merges_.reserve(merges->size());
  for (const Merge& m : *merges) {
    // The first rule for a pair wins.
    model->merges_.try_emplace(PairKey(m.left, m.right), MergeResult{m.rank, m.merged});
  }
  return model;
}

std::optional<TokenId> BpeModel::Find(absl::string_view text) const {
  const auto it = ids_.find(text);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

absl::string_view BpeModel::TokenText(TokenId id) const {
  return id < tokens_.size() ? absl::string_view(tokens_[id]) : absl::string_view();
}

void BpeModel::PrefetchWord(absl::string_view word) const {
  if (word.size() <= kMaxCachedWordBytes) CacheFor(serial_).Prefetch(WordKey(word));
}

void BpeModel::EncodeWord(absl::string_view word, bool virtual_prefix,
                          std::vector<WordToken>* out) const {
  if (word.size() > kMaxCachedWordBytes || virtual_prefix) {
    // Words with the virtual prefix are one per segment: not worth caching.
    EncodeWordUncached(word, virtual_prefix, out);
    return;
  }
  WordCache& cache = CacheFor(serial_);
  const WordKey key(word);
  if (cache.Lookup(key, out)) return;
  const size_t start = out->size();
  EncodeWordUncached(word, virtual_prefix, out);
  cache.Insert(key, out->data() + start, out->size() - start);
}

void BpeModel::EncodeWordUncached(absl::string_view word, bool virtual_prefix,
                                  std::vector<WordToken>* out) const {
  if (options_.ignore_merges) {
    std::optional<TokenId> whole;
    if (options_.alphabet == Alphabet::kBytes) {
      whole = Find(word);
    } else {
      std::string text = virtual_prefix ? std::string(kSentencePieceSpace) : std::string();
      for (char c : word) {
        if (c == ' ') {
          text.append(kSentencePieceSpace.data(), kSentencePieceSpace.size());
        } else {
          text.push_back(c);
        }
      }
      whole = Find(text);
    }
    if (whole) {
      out->push_back({*whole, static_cast<uint32_t>(word.size())});
      return;
    }
  }
  thread_local std::vector<WordToken> symbols;
  symbols.clear();
  InitialSymbols(word, virtual_prefix, &symbols);
  MergeAll(&symbols);
  out->insert(out->end(), symbols.begin(), symbols.end());
  ReleaseIfLarge(symbols);
}

void BpeModel::InitialSymbols(absl::string_view word, bool virtual_prefix,
                              std::vector<WordToken>* symbols) const {
  if (options_.alphabet == Alphabet::kBytes) {
    for (unsigned char b : word) symbols->push_back({byte_ids_[b], 1});
    return;
  }
  // SentencePiece alphabet: characters, with spaces as "▁". An unknown
  // character becomes its byte tokens, else the (fused) unknown token, else
  // nothing, exactly as HF's BPE::merge_word.
  bool last_was_unk = false;
  const auto add_unknown = [&](uint32_t length) {
    if (!unk_id_) return;
    if (options_.fuse_unk && last_was_unk) {
      symbols->back().source_length += length;
    } else {
      symbols->push_back({*unk_id_, length});
    }
    last_was_unk = true;
  };
  if (virtual_prefix) {
    if (space_id_) {
      symbols->push_back({*space_id_, 0});
    } else if (HasFallbackBytes(kSentencePieceSpace)) {
      for (unsigned char b : kSentencePieceSpace) symbols->push_back({*fallback_ids_[b], 0});
    } else {
      add_unknown(0);
    }
  }
  size_t pos = 0;
  while (pos < word.size()) {
    size_t length;
    unicode::DecodeUtf8(word, pos, &length);
    const absl::string_view ch = word.substr(pos, length);
    const absl::string_view text = ch == " " ? kSentencePieceSpace : ch;
    if (const auto id = Find(text)) {
      symbols->push_back({*id, static_cast<uint32_t>(length)});
      last_was_unk = false;
    } else if (HasFallbackBytes(text)) {
      // A space's bytes are those of "▁", which it stands for.
      for (size_t i = 0; i < text.size(); ++i) {
        const auto b = static_cast<unsigned char>(text[i]);
        symbols->push_back({*fallback_ids_[b], i == 0 ? static_cast<uint32_t>(length) : 0});
      }
      last_was_unk = false;
    } else {
      add_unknown(static_cast<uint32_t>(length));
    }
    pos += length;
  }
}

bool BpeModel::HasFallbackBytes(absl::string_view text) const {
  if (!options_.byte_fallback) return false;
  for (unsigned char b : text) {
    if (!fallback_ids_[b]) return false;
  }
  return true;
}

void BpeModel::MergeAll(std::vector<WordToken>* symbols) const {
  const int n = static_cast<int>(symbols->size());
  if (n < 2) return;
  // Doubly linked list over the symbols; a merged-away symbol is dead.
  thread_local std::vector<int> prev, next;
  thread_local std::vector<bool> dead;
  prev.resize(n);
  next.resize(n);
  dead.assign(n, false);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    uint32_t rank;
    int pos;
    TokenId merged;
    // Min-heap on (rank, pos) through std::*_heap's max-heap.
    bool operator<(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  thread_local std::vector<Candidate> heap;
  heap.clear();
  std::vector<WordToken>& s = *symbols;
  const auto push_pair = [&](int pos) {
    const int right = next[pos];
    if (right < 0) return;
    const auto it = merges_.find(PairKey(s[pos].id, s[right].id));
    if (it == merges_.end()) return;
    heap.push_back({it->second.rank, pos, it->second.merged});
    std::push_heap(heap.begin(), heap.end());
  };
  for (int i = 0; i + 1 < n; ++i) push_pair(i);
  // A degenerate word (megabytes of one character) takes seconds: it gives
  // up when the thread's work is stopped (its owner discards the result).
  int until_stop_check = kMergesPerStopCheck;
  while (!heap.empty()) {
    if (--until_stop_check == 0) {
      until_stop_check = kMergesPerStopCheck;
      if (ThisThreadShouldStop()) break;
    }
    std::pop_heap(heap.begin(), heap.end());
    const Candidate top = heap.back();
    heap.pop_back();
    if (dead[top.pos] || next[top.pos] < 0) continue;
    const int right = next[top.pos];
    // Skip entries whose pair has changed since they were queued.
    const auto it = merges_.find(PairKey(s[top.pos].id, s[right].id));
    if (it == merges_.end() || it->second.merged != top.merged) continue;
    s[top.pos].id = top.merged;
    s[top.pos].source_length += s[right].source_length;
    dead[right] = true;
    next[top.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = top.pos;
    if (prev[top.pos] >= 0) push_pair(prev[top.pos]);
    push_pair(top.pos);
  }
  int out = 0;
  for (int i = 0; i < n; ++i) {
    if (!dead[i]) s[out++] = s[i];
  }
  s.resize(out);
  ReleaseIfLarge(prev);
  ReleaseIfLarge(next);
  ReleaseIfLarge(dead);
  ReleaseIfLarge(heap);
}

}  // namespace convgen
