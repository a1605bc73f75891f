// Workspace: what a request names, resolved on the server's side: tokenizers
// by name (the embedded Qwen3 is always there, as "qwen3") and corpora by
// file name in the corpus directory (the embedded Moby Dick is always there,
// as "moby-dick.txt") or sent inline, tokenized once per (content,
// tokenizer) in a bounded cache.
//
// File names must stay inside the corpus directory: absolute paths, "..",
// and symlinks that lead out are refused. Thread-safe.
#ifndef CONVGEN_CORE_REQUEST_WORKSPACE_H_
#define CONVGEN_CORE_REQUEST_WORKSPACE_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/corpus/corpus.h"
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
  // Loads every tokenizer now (a server does at start, so that an unusable
  // file stops it instead of failing every request); the error names each
  // tokenizer that cannot be loaded, its file and the reason.
  absl::Status LoadAllTokenizers();
  // Returns (name, description) of each tokenizer; loaded ones say more.
  std::vector<std::pair<std::string, std::string>> DescribeTokenizers() const;

  // The corpus of a request: the inline texts if any, else the files named
  // (concatenated), tokenized by `tokenizer_name`'s tokenizer within the
  // memory budget, until stop->ShouldStop() (stop may be null). Too many or
  // repeated files, and too many bytes, are refused before reading.
  absl::StatusOr<std::shared_ptr<const TokenizedCorpus>> GetCorpus(
      const std::vector<std::string>& text_files, const std::vector<InlineText>& inline_texts,
      const std::string& tokenizer_name, const Tokenizer& tokenizer, const StopSignal* stop);

  MemoryBudget& memory_budget() { return budget_; }

  // File names a request can use as text_files.
  std::vector<std::string> CorpusNames() const;

 private:
  explicit Workspace(WorkspaceOptions options)
      : options_(std::move(options)),
        budget_(options_.memory_budget_bytes),
        cache_(options_.corpus_cache_bytes) {}

  // The path of a text_files entry, or an error naming it.
  absl::StatusOr<std::string> ResolveCorpusFile(const std::string& name, size_t position) const;
  // Reads the files named into one text (each file's text on its own
  // lines), within the request's limits and the memory budget. An entry
  // named in `inline_by_name` is that inline text instead of a file.
  absl::Status ReadCorpusFiles(const std::vector<std::string>& text_files,
                               const std::map<std::string, absl::string_view>& inline_by_name,
                               std::string* name, std::string* text,
                               MemoryBudget::Reservation* reservation);

  WorkspaceOptions options_;
  std::map<std::string, std::string> tokenizer_paths_;  // name -> path
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Tokenizer>> tokenizers_;
  MemoryBudget budget_;
  CorpusCache cache_;  // after budget_: its corpora hold reservations in it
};

}  // namespace convgen

#endif  // CONVGEN_CORE_REQUEST_WORKSPACE_H_
