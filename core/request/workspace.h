// Workspace: what a request names, resolved on the server's side: tokenizers
// by name (the embedded Qwen3 is always there, as "qwen3"; the server's
// configured ones; a Hugging Face model id found in the local hub cache) or
// sent with the request (a tokenizer.json, kept by content hash in a bounded
// LRU shared across requests), and corpora by
// file name in the corpus directory (the embedded Moby Dick is always there,
// as "moby-dick.txt") or sent inline, tokenized once per (content,
// tokenizer) in a bounded cache. A corpus is read, checked and hashed once:
// a request for files unchanged since (same path, device, inode, size,
// modification and change times) finds its tokenized corpus without reading
// them, and text whose hash is cached is not checked again.
//
// File names must stay inside the corpus directory: absolute paths, "..",
// and symlinks that lead out are refused. Thread-safe.
#ifndef CONVGEN_CORE_REQUEST_WORKSPACE_H_
#define CONVGEN_CORE_REQUEST_WORKSPACE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/config/generation_spec.h"
#include "core/corpus/corpus.h"
#include "core/memory_budget.h"
#include "core/shape/shape.h"
#include "core/tokenizer/tokenizer.h"

namespace convgen {

inline constexpr char kDefaultTokenizer[] = "qwen3";
inline constexpr char kDefaultCorpus[] = "moby-dick.txt";

struct WorkspaceOptions {
  // Holds tokenizers/qwen3/tokenizer.json and corpus/moby-dick.txt.
  std::string data_dir;
  // Where text_files are looked up; empty for the embedded corpus only.
  std::string corpus_dir;
  // Extra tokenizers: name -> path of a tokenizer.json or a .tiktoken file.
  std::vector<std::pair<std::string, std::string>> tokenizers;
  // The Hugging Face hub cache (see HfHubCacheDir) where a request's
  // tokenizer model id is looked up when no configured name matches; empty:
  // none. hf_cache_source names where the path came from, for errors.
  std::string hf_cache_dir;
  std::string hf_cache_source;
  // Tokenizers a request brings (tokenizer_json) or names from the hub
  // cache: the largest tokenizer.json accepted, and how many loaded ones are
  // kept (least recently used go first).
  int64_t max_request_tokenizer_bytes = int64_t{32} << 20;
  int request_tokenizer_cache_entries = 4;
  // What requests may hold at once (0: no limit; see MemoryBudget): corpora
  // being read, tokenized or cached, and conversations being built.
  int64_t memory_budget_bytes = 0;
  // Tokenized corpora kept for later requests, within the budget.
  size_t corpus_cache_bytes = size_t{1} << 30;
  // A request's corpus: at most this many text_files, each named once, and
  // this many bytes (files or inline texts together).
  int max_text_files = 256;
  int64_t max_corpus_bytes = int64_t{64} << 20;
};

// A tokenizer resolved for a request.
struct ResolvedTokenizer {
  // As Describe and ValidateResponse name it: the configured name, the model
  // id, or "sha256:<first 16 hex digits>" for a sent tokenizer.json.
  std::string name;
  // The tokenizer's identity in the corpus cache (its file, or its content
  // hash), so that two tokenizers never share a tokenized corpus.
  std::string cache_key;
  std::shared_ptr<const Tokenizer> tokenizer;
  // Whether it came through the request-tokenizer cache (sent or from the
  // hub cache on demand), and then whether this call loaded it (a miss).
  bool request_cached = false;
  bool loaded_now = false;
};

// A corpus sent with a request. The text is borrowed: it must outlive the
// call it is passed to.
struct InlineText {
  std::string name;
  absl::string_view text;
};

class Workspace {
 public:
  // Checks that the data and corpus directories and tokenizer files exist;
  // tokenizers load on first use (or with LoadAllTokenizers).
  static absl::StatusOr<std::unique_ptr<Workspace>> Create(const WorkspaceOptions& options);

  // Returns the name a request's tokenizer field stands for ("" is the
  // default).
  static std::string TokenizerName(const std::string& requested) {
    return requested.empty() ? kDefaultTokenizer : requested;
  }

  // Returns the tokenizer `name` ("" for the default), loading it once;
  // NotFound lists the names there are.
  absl::StatusOr<std::shared_ptr<const Tokenizer>> GetTokenizer(const std::string& name);
  // The request's tokenizer: `sent_json` (a tokenizer.json's text) if not
  // empty, else `name` as GetTokenizer finds it, else a model id in the hub
  // cache, else a request tokenizer still cached under that name
  // ("sha256:..."). Sent and hub-cache tokenizers are loaded once and kept
  // in the LRU. A bad sent file is InvalidArgument naming the problem, a
  // too large one ResourceExhausted; an unknown name is NotFound listing
  // the names there are and every hub-cache path tried.
  absl::StatusOr<ResolvedTokenizer> ResolveTokenizer(const std::string& name,
                                                     absl::string_view sent_json);
  // Loads every tokenizer now (a server does at start, so that an unusable
  // file stops it instead of failing every request); the error names each
  // tokenizer that cannot be loaded, its file and the reason.
  absl::Status LoadAllTokenizers();
  // Returns (name, description) of each tokenizer; loaded ones say more.
  // The request tokenizers cached now come last, most recent first.
  std::vector<std::pair<std::string, std::string>> DescribeTokenizers() const;
  // Request tokenizers held in the LRU now.
  size_t CachedRequestTokenizers() const;
  // Called after each request-tokenizer lookup (loaded: parsed now, else a
  // cache hit) with the entries cached then, e.g. for metrics. Set it before
  // requests come; it is called from their threads.
  using RequestTokenizerObserver = std::function<void(bool loaded, size_t cached)>;
  void SetRequestTokenizerObserver(RequestTokenizerObserver observer) {
    observer_ = std::move(observer);
  }

  // The corpus of a request: the inline texts if any, else the files named
  // (concatenated), tokenized by `tokenizer_name`'s tokenizer within the
  // memory budget, until stop->ShouldStop() (stop may be null). Too many or
  // repeated files, and too many bytes, are refused before reading.
  // `tokenizer_key` is the tokenizer's identity (ResolvedTokenizer::cache_key).
  absl::StatusOr<std::shared_ptr<const TokenizedCorpus>> GetCorpus(
      const std::vector<std::string>& text_files, const std::vector<InlineText>& inline_texts,
      const std::string& tokenizer_key, const Tokenizer& tokenizer, const StopSignal* stop);

  // The shape a config's shape_source names: `sent` if its name is the
  // source's path (a file sent with the request), else the file of that name
  // in the corpus directory, checked as text_files are and at most
  // max_corpus_bytes; read, and for ShareGPT measured with `tokenizer`.
  // Shapes are kept by (content, format, tokenizer key) in a small LRU, so a
  // second request with the same file does not read or measure it again.
  // A bad file is InvalidArgument naming the record or line.
  absl::StatusOr<std::shared_ptr<const Shape>> GetShape(const ShapeSourceSpec& source,
                                                        const InlineText& sent,
                                                        const std::string& tokenizer_key,
                                                        const Tokenizer& tokenizer,
                                                        const StopSignal* stop);
  // How many shapes GetShape has read and measured (cache misses), for tests
  // and metrics.
  int64_t shapes_read() const;

  MemoryBudget& memory_budget() { return budget_; }

  // What GetCorpus has done so far, e.g. for tests and metrics: corpus
  // files read, and texts checked as UTF-8 (a cache miss each).
  struct CorpusWork {
    int64_t files_read = 0;
    int64_t texts_checked = 0;
  };
  CorpusWork corpus_work() const {
    return {files_read_.load(std::memory_order_relaxed),
            texts_checked_.load(std::memory_order_relaxed)};
  }

  // File names a request can use as text_files.
  std::vector<std::string> CorpusNames() const;

 private:
  explicit Workspace(WorkspaceOptions options)
      : options_(std::move(options)),
        budget_(options_.memory_budget_bytes),
        cache_(options_.corpus_cache_bytes) {}

  // The path of a text_files entry, or an error naming it.
  absl::StatusOr<std::string> ResolveCorpusFile(const std::string& name, size_t position) const;
  // The same for a file named by `where` (e.g. "shape_source.path").
  absl::StatusOr<std::string> ResolveDataFile(const std::string& name,
                                              const std::string& where) const;
  // A request's text_files, resolved and measured before any is read.
  struct CorpusFiles {
    std::vector<std::string> paths;  // "\0" + the name for an inline entry
    int64_t total = 0;               // bytes on disk and inline
    int64_t inline_total = 0;
    // The files' identities in order (see the file comment) if every entry
    // is a file that did not change in the last seconds (a change within
    // the file system's timestamp granularity could keep them the same),
    // else empty: the text must be read to be known.
    std::string identity;
  };
  // Resolves the files named, within the request's limits. An entry named
  // in `inline_by_name` is that inline text instead of a file.
  absl::Status ResolveCorpusFiles(const std::vector<std::string>& text_files,
                                  const std::map<std::string, absl::string_view>& inline_by_name,
                                  CorpusFiles* files) const;
  // Reads the files resolved into one text (each file's text on its own
  // lines), within the memory budget.
  absl::Status ReadCorpusFiles(const std::vector<std::string>& text_files,
                               const std::map<std::string, absl::string_view>& inline_by_name,
                               const CorpusFiles& files, std::string* name, std::string* text,
                               MemoryBudget::Reservation* reservation);
  // The SHA-256 of the text files of this identity made when last read
  // ("" if not known), and remembering it.
  std::string FileSetSha256(const std::string& identity) const;
  void RememberFileSet(const std::string& identity, const std::string& sha256);

  // A loaded request tokenizer in the LRU; its reservation holds its
  // estimated size in the memory budget until it is evicted.
  struct RequestTokenizer {
    std::string key;  // "sha256:<hex>" or "hf:<path>"
    std::string name;
    std::string description;
    std::shared_ptr<const Tokenizer> tokenizer;
    MemoryBudget::Reservation reservation;
  };

  absl::StatusOr<ResolvedTokenizer> ResolveTokenizerUnobserved(const std::string& name,
                                                               absl::string_view sent_json);
  // Finds a request tokenizer by its key or name in the LRU (moving it to
  // the front), or null; sets *name and *found_key when given.
  std::shared_ptr<const Tokenizer> FindRequestTokenizer(const std::string& key,
                                                        std::string* name = nullptr,
                                                        std::string* found_key = nullptr);
  // Loads `json` (the text of `what`) into the LRU under `key`, evicting
  // the least recently used beyond the bound.
  absl::StatusOr<ResolvedTokenizer> LoadRequestTokenizer(const std::string& key,
                                                         const std::string& name,
                                                         const std::string& description,
                                                         const std::string& what,
                                                         absl::string_view json);

  WorkspaceOptions options_;
  std::map<std::string, std::string> tokenizer_paths_;  // name -> path; set in Create
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Tokenizer>> tokenizers_;
  std::list<RequestTokenizer> request_tokenizers_;  // guarded by mutex_; most recent first
  // Held while a request tokenizer loads (not mutex_, so that other
  // requests go on): one parse at a time, and two requests sending the same
  // file load it once.
  std::mutex request_load_mutex_;
  RequestTokenizerObserver observer_;
  MemoryBudget budget_;
  CorpusCache cache_;  // after budget_: its corpora hold reservations in it
  // Shapes read (GetShape), most recent first; guarded by mutex_. Each
  // holds its ShapeBytes in budget_ while cached.
  struct CachedShape {
    std::string key;
    std::shared_ptr<const Shape> shape;
    MemoryBudget::Reservation reservation;
  };
  std::list<CachedShape> shapes_;
  int64_t shapes_read_ = 0;
  mutable std::mutex file_sets_mutex_;
  std::map<std::string, std::string> file_sets_;  // identity -> sha256; bounded
  std::atomic<int64_t> files_read_{0};
  std::atomic<int64_t> texts_checked_{0};
};

}  // namespace convgen

#endif  // CONVGEN_CORE_REQUEST_WORKSPACE_H_
