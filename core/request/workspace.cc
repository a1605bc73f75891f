#include "core/request/workspace.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/files.h"
#include "core/json/config_errors.h"
#include "core/sha256.h"
#include "core/shape/mooncake_reader.h"
#include "core/shape/sharegpt_reader.h"
#include "core/status_macros.h"
#include "core/tokenizer/hf_tokenizer_json.h"
#include "core/tokenizer/tiktoken.h"
#include "core/tokenizer/tokenizer_locator.h"

namespace convgen {
namespace {

// What a loaded tokenizer holds, per byte of its tokenizer.json, for the
// memory budget (measured: the server's RSS grew 40 MiB when a request sent
// the embedded Qwen3's 11 MB tokenizer.json, its corpus's encoding
// included); parsing needs about as much again for a moment.
constexpr int64_t kLoadedBytesPerJsonByte = 3;

constexpr char kSentPrefix[] = "sha256:";

std::string RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  return ::realpath(path.c_str(), resolved) != nullptr ? std::string(resolved) : std::string();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Workspace>> Workspace::Create(const WorkspaceOptions& options) {
  std::unique_ptr<Workspace> workspace(new Workspace(options));
  const std::string qwen3 = options.data_dir + "/tokenizers/qwen3/tokenizer.json";
  if (!IsRegularFile(qwen3)) {
    return absl::FailedPreconditionError(absl::StrCat("the embedded tokenizer is missing: ", qwen3,
                                                      " (set --data-dir to convgen's data/)"));
  }
  workspace->tokenizer_paths_[kDefaultTokenizer] = qwen3;
  for (const auto& [name, path] : options.tokenizers) {
    // The default and the names of sent tokenizers mean one thing everywhere.
    if (name == kDefaultTokenizer || absl::StartsWith(name, kSentPrefix)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokenizer ", name, " (", path, "): ",
          name == kDefaultTokenizer ? "the embedded Qwen3's name, the default"
                                    : "\"sha256:\" names tokenizers sent with a request",
          "; give this file another name"));
    }
    if (name.empty() || !IsRegularFile(path)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer ", name, "=", path,
                       ": expected NAME=PATH of a readable tokenizer.json or "
                       ".tiktoken file"));
    }
    workspace->tokenizer_paths_[name] = path;
  }
  if (!options.corpus_dir.empty() && !IsDirectory(options.corpus_dir)) {
    return absl::InvalidArgumentError(
        absl::StrCat("corpus directory ", options.corpus_dir, " does not exist"));
  }
  return workspace;
}

absl::StatusOr<std::shared_ptr<const Tokenizer>> Workspace::GetTokenizer(const std::string& name) {
  const std::string key = TokenizerName(name);
  const auto path = tokenizer_paths_.find(key);
  if (path == tokenizer_paths_.end()) {
    std::vector<std::string> names;
    for (const auto& [n, p] : tokenizer_paths_) names.push_back(n);
    return absl::NotFoundError(absl::StrCat("unknown tokenizer ", QuoteForMessage(key),
                                            "; this server has: ", absl::StrJoin(names, ", ")));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = tokenizers_[key];
  if (slot == nullptr) {
    auto loaded = absl::EndsWith(path->second, ".tiktoken") ? LoadTiktokenFile(path->second)
                                                            : LoadHfTokenizerFile(path->second);
    if (!loaded.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("tokenizer \"", key, "\" cannot be loaded: ", loaded.status().message()));
    }
    slot = std::shared_ptr<const Tokenizer>(*std::move(loaded));
  }
  return slot;
}

std::shared_ptr<const Tokenizer> Workspace::FindRequestTokenizer(const std::string& key,
                                                                 std::string* name,
                                                                 std::string* found_key) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = request_tokenizers_.begin(); it != request_tokenizers_.end(); ++it) {
    if (it->key != key && it->name != key) continue;
    request_tokenizers_.splice(request_tokenizers_.begin(), request_tokenizers_, it);
    if (name != nullptr) *name = it->name;
    if (found_key != nullptr) *found_key = it->key;
    return it->tokenizer;
  }
  return nullptr;
}

absl::StatusOr<ResolvedTokenizer> Workspace::LoadRequestTokenizer(const std::string& key,
                                                                  const std::string& name,
                                                                  const std::string& description,
                                                                  const std::string& what,
                                                                  absl::string_view json) {
  ResolvedTokenizer out;
  out.name = name;
  out.cache_key = key;
  out.request_cached = true;
  std::lock_guard<std::mutex> load_lock(request_load_mutex_);
  // Another request may have loaded it while this one waited.
  if ((out.tokenizer = FindRequestTokenizer(key)) != nullptr) return out;
  const int64_t estimate = kLoadedBytesPerJsonByte * static_cast<int64_t>(json.size());
  // The parse's peak: the loaded tokenizer and as much again.
  CONVGEN_ASSIGN_OR_RETURN(MemoryBudget::Reservation reservation,
                           budget_.Reserve(2 * estimate, absl::StrCat("loading ", what)));
  absl::StatusOr<std::unique_ptr<Tokenizer>> loaded = LoadHfTokenizerJson(json);
  if (!loaded.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " cannot be loaded: ", loaded.status().message()));
  }
  CONVGEN_RETURN_IF_ERROR(reservation.Resize(estimate, what));
  out.tokenizer = std::shared_ptr<const Tokenizer>(*std::move(loaded));
  out.loaded_now = true;
  std::lock_guard<std::mutex> lock(mutex_);
  request_tokenizers_.push_front(
      RequestTokenizer{key, name, absl::StrCat(out.tokenizer->Describe(), "; ", description),
                       out.tokenizer, std::move(reservation)});
  // Evicted entries stay alive while a request still holds them.
  while (static_cast<int>(request_tokenizers_.size()) >
         std::max(1, options_.request_tokenizer_cache_entries)) {
    request_tokenizers_.pop_back();
  }
  return out;
}

absl::StatusOr<ResolvedTokenizer> Workspace::ResolveTokenizer(const std::string& name,
                                                              absl::string_view sent_json) {
  absl::StatusOr<ResolvedTokenizer> resolved = ResolveTokenizerUnobserved(name, sent_json);
  if (resolved.ok() && resolved->request_cached && observer_) {
    observer_(resolved->loaded_now, CachedRequestTokenizers());
  }
  return resolved;
}

absl::StatusOr<ResolvedTokenizer> Workspace::ResolveTokenizerUnobserved(
    const std::string& name, absl::string_view sent_json) {
  if (!sent_json.empty()) {
    if (!name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokenizer ", QuoteForMessage(name),
          " and tokenizer_json are both set; send one (a tokenizer.json, or a server name)"));
    }
    if (static_cast<int64_t>(sent_json.size()) > options_.max_request_tokenizer_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "tokenizer_json holds ", sent_json.size(), " bytes, over this server's limit of ",
          options_.max_request_tokenizer_bytes,
          " bytes (--max-request-tokenizer-bytes); ask for a server tokenizer by name instead"));
    }
    const std::string hash = Sha256Hex(sent_json);
    const std::string key = absl::StrCat(kSentPrefix, hash);
    const std::string short_name = absl::StrCat(kSentPrefix, hash.substr(0, 16));
    ResolvedTokenizer out;
    out.name = short_name;
    out.cache_key = key;
    out.request_cached = true;
    if ((out.tokenizer = FindRequestTokenizer(key)) != nullptr) return out;
    return LoadRequestTokenizer(key, short_name,
                                absl::StrCat("sent in a request (tokenizer_json, ",
                                             sent_json.size(), " bytes, sha256 ", hash, ")"),
                                "tokenizer_json (the tokenizer.json sent in the request)",
                                sent_json);
  }
  const std::string key = TokenizerName(name);
  if (const auto path = tokenizer_paths_.find(key); path != tokenizer_paths_.end()) {
    CONVGEN_ASSIGN_OR_RETURN(std::shared_ptr<const Tokenizer> tokenizer, GetTokenizer(key));
    return ResolvedTokenizer{key, absl::StrCat(key, "@", path->second), std::move(tokenizer)};
  }
  // A request tokenizer cached under this name: "sha256:..." or a model id.
  ResolvedTokenizer cached;
  if ((cached.tokenizer = FindRequestTokenizer(key, &cached.name, &cached.cache_key)) != nullptr) {
    cached.request_cached = true;
    return cached;
  }
  std::vector<std::string> names;
  for (const auto& [n, p] : tokenizer_paths_) names.push_back(n);
  const std::string known = absl::StrCat("; this server has: ", absl::StrJoin(names, ", "),
                                         " (or send a tokenizer.json in tokenizer_json)");
  if (absl::StartsWith(key, kSentPrefix)) {
    return absl::NotFoundError(
        absl::StrCat("tokenizer ", QuoteForMessage(key),
                     ": no longer cached (or never sent); send its tokenizer.json again", known));
  }
  if (options_.hf_cache_dir.empty() || !LooksLikeHfModelId(key)) {
    return absl::NotFoundError(absl::StrCat("unknown tokenizer ", QuoteForMessage(key), known));
  }
  absl::StatusOr<std::string> path = FindInHfCache(options_.hf_cache_dir, key);
  if (!path.ok()) {
    return absl::NotFoundError(absl::StrCat(path.status().message(), " (cache from ",
                                            options_.hf_cache_source, ")", known));
  }
  // Keyed by the file: a refs/main that moves to a new snapshot is a new
  // tokenizer.
  const std::string file = RealPath(*path);
  const std::string cache_key = absl::StrCat("hf:", file);
  if (auto tokenizer = FindRequestTokenizer(cache_key)) {
    return ResolvedTokenizer{key, cache_key, std::move(tokenizer), true, false};
  }
  // The whole load (the file's text, then the parse's peak) must fit the
  // budget before a byte is read: naming a model id costs the client nothing.
  MemoryBudget::Reservation reading;  // the text, held while it is parsed
  if (struct stat st; ::stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    const auto size = static_cast<int64_t>(st.st_size);
    const std::string what = absl::StrCat("loading tokenizer \"", key, "\" (", *path, ")");
    CONVGEN_RETURN_IF_ERROR(
        budget_.Reserve((1 + 2 * kLoadedBytesPerJsonByte) * size, what).status());
    CONVGEN_ASSIGN_OR_RETURN(reading, budget_.Reserve(size, what));
  }
  CONVGEN_ASSIGN_OR_RETURN(
      std::string json,
      ReadRegularFile(file, std::max<int64_t>(options_.max_request_tokenizer_bytes, 1 << 30)));
  return LoadRequestTokenizer(cache_key, key,
                              absl::StrCat("from the Hugging Face cache (", *path, ")"),
                              absl::StrCat("tokenizer \"", key, "\" (", *path, ")"), json);
}

absl::Status Workspace::LoadAllTokenizers() {
  std::vector<std::string> problems;
  for (const auto& [name, path] : tokenizer_paths_) {
    if (auto loaded = GetTokenizer(name); !loaded.ok()) {
      problems.emplace_back(loaded.status().message());
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrJoin(problems, "\n"));
}

std::vector<std::pair<std::string, std::string>> Workspace::DescribeTokenizers() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, path] : tokenizer_paths_) {
    const auto loaded = tokenizers_.find(name);
    out.emplace_back(name, loaded != tokenizers_.end() && loaded->second
                               ? absl::StrCat(loaded->second->Describe(), " (", path, ")")
                               : path);
  }
  for (const RequestTokenizer& t : request_tokenizers_) out.emplace_back(t.name, t.description);
  return out;
}

size_t Workspace::CachedRequestTokenizers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return request_tokenizers_.size();
}

std::vector<std::string> Workspace::CorpusNames() const {
  std::vector<std::string> names;
  if (!options_.corpus_dir.empty()) {
    if (DIR* dir = ::opendir(options_.corpus_dir.c_str())) {
      while (const dirent* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        // Only what a request may name: not a symlink out of the directory.
        if (name != "." && name != ".." && IsRegularFile(options_.corpus_dir + "/" + name) &&
            ResolveCorpusFile(name, 0).ok()) {
          names.push_back(name);
        }
      }
      ::closedir(dir);
    }
  }
  if (std::find(names.begin(), names.end(), kDefaultCorpus) == names.end()) {
    names.push_back(kDefaultCorpus);
  }
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::string> Workspace::ResolveCorpusFile(const std::string& name,
                                                         size_t position) const {
  return ResolveDataFile(name, absl::StrCat("text_files[", position, "]"));
}

absl::StatusOr<std::string> Workspace::ResolveDataFile(const std::string& name,
                                                       const std::string& field) const {
  const std::string where = absl::StrCat(field, " ", QuoteForMessage(name));
  // A NUL would cut the name short at open(); control characters are never
  // a corpus name a client meant.
  if (std::any_of(name.begin(), name.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; })) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": a corpus file name cannot contain a NUL or control character"));
  }
  if (name.empty() || name[0] == '/' || name == ".." || absl::StartsWith(name, "../") ||
      absl::StrContains(name, "/../") || absl::EndsWith(name, "/..")) {
    return absl::InvalidArgumentError(
        absl::StrCat(where,
                     ": corpus files are named relative to the server's corpus directory, without "
                     "\"..\" or a leading \"/\"; send the text inline instead"));
  }
  if (!options_.corpus_dir.empty()) {
    const std::string root = RealPath(options_.corpus_dir);
    const std::string candidate = options_.corpus_dir + "/" + name;
    if (IsRegularFile(candidate)) {
      const std::string real = RealPath(candidate);
      if (root.empty() || real.compare(0, root.size() + 1, root + "/") != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": leads outside the corpus directory (a symlink?)"));
      }
      return real;
    }
  }
  if (name == kDefaultCorpus) return options_.data_dir + "/corpus/moby-dick.txt";
  return absl::NotFoundError(
      absl::StrCat(where, ": no such corpus; this server has: ", absl::StrJoin(CorpusNames(), ", "),
                   " (or send the text inline)"));
}

absl::Status Workspace::ResolveCorpusFiles(
    const std::vector<std::string>& text_files,
    const std::map<std::string, absl::string_view>& inline_by_name, CorpusFiles* files) const {
  if (static_cast<int64_t>(text_files.size()) > options_.max_text_files) {
    return absl::InvalidArgumentError(
        absl::StrCat("text_files lists ", text_files.size(), " files, over this server's limit of ",
                     options_.max_text_files, "; join the files into fewer"));
  }
  // A file changed after this instant has a later change time than any
  // trusted below (see CorpusFiles::identity).
  struct timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  constexpr int64_t kSettledSeconds = 2;
  bool identified = !text_files.empty();
  std::vector<std::string>& paths = files->paths;
  std::map<std::string, size_t> seen;  // resolved path -> position
  for (size_t i = 0; i < text_files.size(); ++i) {
    if (const auto sent = inline_by_name.find(text_files[i]); sent != inline_by_name.end()) {
      // A path never starts with a NUL: no file is this key.
      paths.push_back(absl::StrCat(absl::string_view("\0", 1), text_files[i]));
      files->total += static_cast<int64_t>(sent->second.size());
      files->inline_total += static_cast<int64_t>(sent->second.size());
      identified = false;
    } else {
      CONVGEN_ASSIGN_OR_RETURN(paths.emplace_back(), ResolveCorpusFile(text_files[i], i));
    }
    // "a.txt", "./a.txt" and "sub//../a.txt" are one file.
    const auto [first, inserted] = seen.emplace(paths.back(), i);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat("text_files[", i, "] ", QuoteForMessage(text_files[i]),
                       " is listed before, as text_files[", first->second,
                       "]; list each file once (repeating a file adds no new text)"));
    }
    if (paths.back()[0] == '\0') continue;
    struct stat st;
    if (::stat(paths.back().c_str(), &st) != 0) {
      identified = false;
      continue;
    }
    files->total += st.st_size;
    const int64_t changed = std::max<int64_t>(st.st_mtim.tv_sec, st.st_ctim.tv_sec);
    if (!S_ISREG(st.st_mode) || changed >= now.tv_sec - kSettledSeconds) identified = false;
    if (identified) {
      absl::StrAppend(&files->identity, paths.back().size(), ":", paths.back(), " ", st.st_dev, " ",
                      st.st_ino, " ", st.st_size, " ", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec,
                      " ", st.st_ctim.tv_sec, ".", st.st_ctim.tv_nsec, "\n");
    }
  }
  if (!identified) files->identity.clear();
  // Checked before reading: the sizes on disk.
  if (files->total > options_.max_corpus_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("text_files hold ", files->total, " bytes, over this server's limit of ",
                     options_.max_corpus_bytes, " bytes per corpus (--max-corpus-bytes)"));
  }
  return absl::OkStatus();
}

absl::Status Workspace::ReadCorpusFiles(
    const std::vector<std::string>& text_files,
    const std::map<std::string, absl::string_view>& inline_by_name, const CorpusFiles& files,
    std::string* name, std::string* text, MemoryBudget::Reservation* reservation) {
  const std::string what =
      absl::StrCat("reading corpus ", text_files.size() == 1 ? text_files[0] : "of text_files");
  // gRPC's copy of the inline texts counts too, as in GetCorpus.
  CONVGEN_ASSIGN_OR_RETURN(*reservation, budget_.Reserve(files.total + files.inline_total, what));
  text->reserve(files.total + text_files.size());
  for (size_t i = 0; i < text_files.size(); ++i) {
    std::string bytes;
    if (files.paths[i][0] == '\0') {
      bytes = std::string(inline_by_name.at(text_files[i]));
    } else {
      CONVGEN_ASSIGN_OR_RETURN(bytes, ReadFileToString(files.paths[i]));
      files_read_.fetch_add(1, std::memory_order_relaxed);
    }
    // The corpus's name, in errors: the first few files'.
    if (i < 3) absl::StrAppend(name, name->empty() ? "" : "+", text_files[i]);
    if (i == 3) absl::StrAppend(name, "+", text_files.size() - 3, " more files");
    if (!text->empty() && text->back() != '\n') text->push_back('\n');
    absl::StrAppend(text, bytes);
  }
  // A file that grew since it was measured.
  if (static_cast<int64_t>(text->size()) > options_.max_corpus_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("text_files hold ", text->size(), " bytes, over this server's limit of ",
                     options_.max_corpus_bytes, " bytes per corpus (--max-corpus-bytes)"));
  }
  return absl::OkStatus();
}

std::string Workspace::FileSetSha256(const std::string& identity) const {
  std::lock_guard<std::mutex> lock(file_sets_mutex_);
  const auto it = file_sets_.find(identity);
  return it != file_sets_.end() ? it->second : std::string();
}

void Workspace::RememberFileSet(const std::string& identity, const std::string& sha256) {
  // A few hundred bytes each; a server sees few distinct sets of files.
  constexpr size_t kMaxFileSets = 1024;
  std::lock_guard<std::mutex> lock(file_sets_mutex_);
  if (file_sets_.size() >= kMaxFileSets) file_sets_.clear();
  file_sets_[identity] = sha256;
}

absl::StatusOr<std::shared_ptr<const TokenizedCorpus>> Workspace::GetCorpus(
    const std::vector<std::string>& text_files, const std::vector<InlineText>& inline_texts,
    const std::string& tokenizer_key, const Tokenizer& tokenizer, const StopSignal* stop) {
  std::string name, text, sha256;
  MemoryBudget::Reservation reservation;  // the text read, until tokenized
  // Inline texts each named after a text_files entry, with other entries
  // left for the server's files: the entries in order, each from its inline
  // text or its file (a local file sent with a server corpus).
  std::map<std::string, absl::string_view> inline_by_name;
  for (const InlineText& t : inline_texts) {
    if (std::find(text_files.begin(), text_files.end(), t.name) == text_files.end()) {
      inline_by_name.clear();
      break;
    }
    inline_by_name.emplace(t.name, t.text);
  }
  const bool mixed = !inline_by_name.empty() && inline_by_name.size() == inline_texts.size() &&
                     std::any_of(text_files.begin(), text_files.end(), [&](const std::string& f) {
                       return inline_by_name.count(f) == 0;
                     });
  if (!inline_texts.empty() && !mixed) {
    int64_t total = 0;
    for (const InlineText& t : inline_texts) total += static_cast<int64_t>(t.text.size());
    if (total > options_.max_corpus_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the inline texts hold ", total, " bytes, over this server's limit of ",
                       options_.max_corpus_bytes, " bytes per corpus (--max-corpus-bytes)"));
    }
    // gRPC's copy of the request and the text made of it.
    CONVGEN_ASSIGN_OR_RETURN(reservation, budget_.Reserve(2 * total, "reading the inline corpus"));
    text.reserve(total + inline_texts.size());
    for (const InlineText& t : inline_texts) {
      absl::StrAppend(&name, name.empty() ? "" : "+", t.name.empty() ? "inline" : t.name);
      if (!text.empty() && text.back() != '\n') text.push_back('\n');
      absl::StrAppend(&text, t.text);
    }
  } else {
    CorpusFiles files;
    CONVGEN_RETURN_IF_ERROR(ResolveCorpusFiles(text_files, inline_by_name, &files));
    // Unchanged files whose corpus is cached: nothing to read.
    if (!files.identity.empty()) {
      if (const std::string known = FileSetSha256(files.identity); !known.empty()) {
        if (auto cached = cache_.Find(known, tokenizer_key)) return cached;
      }
    }
    CONVGEN_RETURN_IF_ERROR(
        ReadCorpusFiles(text_files, inline_by_name, files, &name, &text, &reservation));
    sha256 = Sha256Hex(text);
    if (!files.identity.empty()) RememberFileSet(files.identity, sha256);
  }
  if (sha256.empty()) sha256 = Sha256Hex(text);
  // The key names the tokenizer's file or content hash (see
  // ResolvedTokenizer::cache_key), so that two tokenizers never mix. Text
  // cached under its hash was checked when it was first read.
  if (auto cached = cache_.Find(sha256, tokenizer_key)) return cached;
  texts_checked_.fetch_add(1, std::memory_order_relaxed);
  CONVGEN_ASSIGN_OR_RETURN(CorpusText corpus,
                           CorpusText::FromBytes(name, std::move(text), std::move(sha256)));
  return cache_.Get(corpus, tokenizer_key, tokenizer, &budget_, stop);
}

namespace {

// Shapes kept for later requests: each is a few integers per message.
constexpr size_t kShapeCacheEntries = 4;

}  // namespace

int64_t Workspace::shapes_read() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return shapes_read_;
}

absl::StatusOr<std::shared_ptr<const Shape>> Workspace::GetShape(const ShapeSourceSpec& source,
                                                                 const InlineText& sent,
                                                                 const std::string& tokenizer_key,
                                                                 const Tokenizer& tokenizer,
                                                                 const StopSignal* stop) {
  const bool sharegpt = source.format == v1::SHAPE_FORMAT_SHAREGPT;
  std::string file_text;
  absl::string_view text;
  if (sent.name.empty() && !sent.text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inline_shape.name is empty but inline_shape holds ", sent.text.size(),
        " bytes; set inline_shape.name to the shape_source.path, ", QuoteForMessage(source.path)));
  }
  if (!sent.name.empty()) {
    if (sent.name != source.path) {
      return absl::InvalidArgumentError(absl::StrCat(
          "inline_shape is named ", QuoteForMessage(sent.name), " but shape_source.path is ",
          QuoteForMessage(source.path), "; send the shape file under its shape_source.path"));
    }
    if (static_cast<int64_t>(sent.text.size()) > options_.max_corpus_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "inline_shape holds ", sent.text.size(), " bytes, over this server's limit of ",
          options_.max_corpus_bytes, " bytes (--max-corpus-bytes); send a sample of it"));
    }
    text = sent.text;
  } else {
    CONVGEN_ASSIGN_OR_RETURN(const std::string path,
                             ResolveDataFile(source.path, "shape_source.path"));
    absl::StatusOr<std::string> read = ReadRegularFile(path, options_.max_corpus_bytes);
    if (!read.ok()) {
      return absl::Status(read.status().code(),
                          absl::StrCat("shape_source.path ", QuoteForMessage(source.path), ": ",
                                       read.status().message()));
    }
    file_text = *std::move(read);
    text = file_text;
  }
  const std::string key = absl::StrCat(Sha256Hex(text), sharegpt ? " sharegpt " : " mooncake",
                                       sharegpt ? tokenizer_key : "");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = shapes_.begin(); it != shapes_.end(); ++it) {
      if (it->key != key) continue;
      shapes_.splice(shapes_.begin(), shapes_, it);
      return it->shape;
    }
  }
  // The text while it is read, and what the parsed records will take
  // (k*ShapeBytesPerTextByte, a bound); then the records' measured bytes
  // (ShapeBytes), held while the shape is cached.
  const std::string what = absl::StrCat("reading shape_source ", QuoteForMessage(source.path));
  CONVGEN_ASSIGN_OR_RETURN(MemoryBudget::Reservation reading,
                           budget_.Reserve(static_cast<int64_t>(text.size()) *
                                               (1 + (sharegpt ? kShareGptShapeBytesPerTextByte
                                                              : kShapeBytesPerTextByte)),
                                           what));
  absl::StatusOr<Shape> shape =
      sharegpt ? ReadShareGpt(text,
                              [&](absl::string_view value) -> int64_t {
                                // Once stopped, nothing read is used: skip the encodes.
                                if (stop != nullptr && stop->ShouldStop()) return 1;
                                return static_cast<int64_t>(tokenizer.Count(value));
                              })
               : ReadMooncakeTrace(text);
  if (!shape.ok()) {
    return absl::Status(shape.status().code(),
                        absl::StrCat("shape_source.path ", QuoteForMessage(source.path), ": ",
                                     shape.status().message()));
  }
  if (stop != nullptr && stop->ShouldStop()) {
    if (stop->stopped()) {
      return stop->Reason(absl::StrCat("reading shape_source ", QuoteForMessage(source.path)));
    }
    // The stop signal's advice is about encoding text; a shape is slow for
    // its size.
    return absl::ResourceExhaustedError(absl::StrCat(
        "reading shape_source ", QuoteForMessage(source.path), " took more than ",
        stop->cpu_limit(),
        " CPU seconds, this server's limit per piece of work (--max-build-cpu-seconds); split the "
        "file or raise the limit"));
  }
  CONVGEN_RETURN_IF_ERROR(reading.Resize(ShapeBytes(*shape), what));
  auto shared = std::make_shared<const Shape>(*std::move(shape));
  std::lock_guard<std::mutex> lock(mutex_);
  ++shapes_read_;
  shapes_.push_front({key, shared, std::move(reading)});
  if (shapes_.size() > kShapeCacheEntries) shapes_.pop_back();
  return shared;
}

}  // namespace convgen
