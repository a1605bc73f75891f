// Finding tokenizer files by name, offline: in the local Hugging Face hub
// cache (the layout huggingface_hub writes, read as `transformers` reads it
// with HF_HUB_OFFLINE=1) and in a directory of tokenizer files. Nothing is
// ever downloaded. The environment is read by the caller (the server's
// flags) and passed in, so that these functions are pure over the file
// system. Thread-safe (no state).
#ifndef CONVGEN_CORE_TOKENIZER_TOKENIZER_LOCATOR_H_
#define CONVGEN_CORE_TOKENIZER_TOKENIZER_LOCATOR_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace convgen {

// The environment variables huggingface_hub reads for its cache ("" when
// unset; an empty variable counts as unset).
struct HfCacheEnvironment {
  std::string hf_hub_cache;           // HF_HUB_CACHE
  std::string huggingface_hub_cache;  // HUGGINGFACE_HUB_CACHE (its older name)
  std::string hf_home;                // HF_HOME
  std::string xdg_cache_home;         // XDG_CACHE_HOME
  std::string home;                   // HOME, for "~"
};

// The hub cache directory and the variable it came from, as
// huggingface_hub.constants computes it: HF_HUB_CACHE, else
// HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. A leading
// "~/" is the home directory.
struct HfCacheDir {
  std::string path;
  std::string source;  // e.g. "HF_HUB_CACHE", or "default" for ~/.cache/...
};
HfCacheDir HfHubCacheDir(const HfCacheEnvironment& env);

// True iff `name` reads as a Hugging Face model id: ORG/NAME or NAME, each
// part of letters, digits, '-', '_' and '.', not starting with '.' or '-'
// (no "..", no absolute path), optionally followed by @REVISION.
bool LooksLikeHfModelId(const std::string& name);

// The tokenizer.json of model `id` ("ORG/NAME" or "ORG/NAME@REVISION") in
// the hub cache `cache_dir`: models--ORG--NAME/snapshots/<commit>/tokenizer.json,
// where <commit> is the content of refs/<REVISION> (default "main"), else
// REVISION itself (a commit hash, the snapshot's full directory name), as
// huggingface_hub's try_to_load_from_cache resolves it. Symlinks into
// blobs/ are followed.
// NotFound says where it looked: the cache directory that does not exist,
// the model folder that does not, or every ref and snapshot path tried; and
// how to fill the cache.
absl::StatusOr<std::string> FindInHfCache(const std::string& cache_dir, const std::string& id);

// The tokenizers of a --tokenizer-dir, as (name, path), sorted by name:
//   DIR/NAME.json                    -> NAME
//   DIR/NAME.tiktoken                -> NAME (the encoding, e.g. cl100k_base)
//   DIR/NAME/tokenizer.json          -> NAME (a model folder)
//   DIR/ORG/NAME/tokenizer.json      -> ORG/NAME (a model id's folder)
// Hidden entries are skipped; a name found twice is an error naming both
// files. An unreadable directory is InvalidArgument.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListTokenizerDir(
    const std::string& dir);

}  // namespace convgen

#endif  // CONVGEN_CORE_TOKENIZER_TOKENIZER_LOCATOR_H_
