#include "core/tokenizer/tokenizer_locator.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/files.h"

namespace convgen {
namespace {

std::string ExpandHome(const std::string& path, const std::string& home) {
  if (path == "~") return home;
  if (absl::StartsWith(path, "~/")) return absl::StrCat(home, path.substr(1));
  return path;
}

bool IsIdPart(absl::string_view part) {
  if (part.empty() || part.size() > 96 || part.front() == '.' || part.front() == '-' ||
      absl::StrContains(part, "..") || absl::StrContains(part, "--")) {
    return false;
  }
  return std::all_of(part.begin(), part.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// A revision: a ref name (main, a branch, a tag, refs/pr/1) or a commit;
// never ".." or an absolute path, which would leave the model's folder.
bool IsRevision(absl::string_view revision) {
  if (revision.empty() || revision.size() > 256 || revision.front() == '/') return false;
  for (absl::string_view part : absl::StrSplit(revision, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return std::all_of(revision.begin(), revision.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '/';
  });
}

// Reads a small file's first line (a ref holds a commit hash), or "".
std::string ReadRef(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line.substr(0, 256)));
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

HfCacheDir HfHubCacheDir(const HfCacheEnvironment& env) {
  const std::string home = env.home.empty() ? "/root" : env.home;
  if (!env.hf_hub_cache.empty()) return {ExpandHome(env.hf_hub_cache, home), "HF_HUB_CACHE"};
  if (!env.huggingface_hub_cache.empty()) {
    return {ExpandHome(env.huggingface_hub_cache, home), "HUGGINGFACE_HUB_CACHE"};
  }
  if (!env.hf_home.empty()) return {ExpandHome(env.hf_home, home) + "/hub", "HF_HOME"};
  if (!env.xdg_cache_home.empty()) {
    return {ExpandHome(env.xdg_cache_home, home) + "/huggingface/hub", "XDG_CACHE_HOME"};
  }
  return {home + "/.cache/huggingface/hub", "default"};
}

bool LooksLikeHfModelId(const std::string& name) {
  const size_t at = name.find('@');
  const std::string id = name.substr(0, at);
  if (at != std::string::npos && !IsRevision(absl::string_view(name).substr(at + 1))) return false;
  const std::vector<absl::string_view> parts = absl::StrSplit(id, '/');
  if (parts.size() > 2) return false;
  return std::all_of(parts.begin(), parts.end(), IsIdPart);
}

absl::StatusOr<std::string> FindInHfCache(const std::string& cache_dir, const std::string& name) {
  if (!LooksLikeHfModelId(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer \"", name,
                     "\" is not a Hugging Face model id (ORG/NAME or ORG/NAME@REVISION, of "
                     "letters, digits, '-', '_' and '.')"));
  }
  const size_t at = name.find('@');
  const std::string id = name.substr(0, at);
  const std::string revision = at == std::string::npos ? "main" : name.substr(at + 1);
  const std::string repo =
      absl::StrCat(cache_dir, "/models--", absl::StrReplaceAll(id, {{"/", "--"}}));
  std::vector<std::string> tried;
  // A file that is there but cannot be used, said instead of "not found".
  std::string unusable;
  const auto usable = [&](const std::string& path) {
    const absl::Status status = CheckRegularFile(path);
    if (absl::IsNotFound(status)) {
      tried.push_back(path);
    } else if (!status.ok() && unusable.empty()) {
      unusable = std::string(status.message());
    }
    return status.ok();
  };
  std::string commit = revision;
  const std::string ref = absl::StrCat(repo, "/refs/", revision);
  if (usable(ref)) {
    commit = ReadRef(ref);
    if (!IsRevision(commit) || absl::StrContains(commit, '/')) {
      unusable = absl::StrCat(ref, " holds \"", absl::CHexEscape(commit.substr(0, 64)),
                              "\", not a commit hash");
    }
  }
  if (unusable.empty()) {
    const std::string path = absl::StrCat(repo, "/snapshots/", commit, "/tokenizer.json");
    if (usable(path)) return path;
  }
  std::string where;
  if (!IsDirectory(cache_dir)) {
    where = absl::StrCat("the Hugging Face cache ", cache_dir,
                         PathExists(cache_dir) ? " is not a directory" : " does not exist");
  } else if (!IsDirectory(repo)) {
    where = absl::StrCat("not in the Hugging Face cache (no ", repo, ")");
  } else if (!unusable.empty()) {
    where = absl::StrCat("its cached file cannot be used: ", unusable);
  } else {
    where = absl::StrCat("not in the Hugging Face cache (tried ", absl::StrJoin(tried, ", "), ")");
  }
  return absl::NotFoundError(
      absl::StrCat("tokenizer \"", name, "\": ", where,
                   "; convgen never downloads: fetch it first (`hf download ", id,
                   " tokenizer.json`), or set HF_HUB_CACHE or HF_HOME"));
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListTokenizerDir(
    const std::string& dir) {
  std::map<std::string, std::string> found;  // name -> path
  std::string clash;
  const auto add = [&](const std::string& name, const std::string& path) {
    const auto [it, inserted] = found.emplace(name, path);
    if (!inserted && clash.empty()) {
      clash = absl::StrCat("--tokenizer-dir ", dir, ": the name \"", name, "\" is both ",
                           it->second, " and ", path, "; rename one");
    }
  };
  const auto entries = [](const std::string& path, std::vector<std::string>* names) {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return false;
    while (const dirent* entry = ::readdir(d)) {
      if (entry->d_name[0] != '.') names->push_back(entry->d_name);
    }
    ::closedir(d);
    std::sort(names->begin(), names->end());
    return true;
  };
  std::vector<std::string> names;
  if (!entries(dir, &names)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tokenizer-dir ", dir, ": cannot read the directory"));
  }
  // An entry named like a tokenizer that cannot be read stops the server,
  // as a clash does, instead of leaving its name silently undefined.
  std::string unusable;
  const auto usable = [&](const std::string& path) {
    const absl::Status status = CheckRegularFile(path);
    if (!status.ok() && !absl::IsNotFound(status) && unusable.empty()) {
      unusable = absl::StrCat("--tokenizer-dir ", dir, ": ", status.message(),
                              "; remove it or make it a tokenizer file");
    }
    return status.ok();
  };
  for (const std::string& entry : names) {
    const std::string path = absl::StrCat(dir, "/", entry);
    if (!IsDirectory(path)) {
      const bool json = absl::EndsWith(entry, ".json") && entry.size() > 5;
      const bool tiktoken = absl::EndsWith(entry, ".tiktoken") && entry.size() > 9;
      if ((json || tiktoken) && usable(path)) {
        add(entry.substr(0, entry.size() - (json ? 5 : 9)), path);
      }
      continue;
    }
    if (PathExists(path + "/tokenizer.json")) {
      if (usable(path + "/tokenizer.json")) add(entry, path + "/tokenizer.json");
      continue;
    }
    std::vector<std::string> inner;
    if (!entries(path, &inner)) continue;
    for (const std::string& model : inner) {
      const std::string file = absl::StrCat(path, "/", model, "/tokenizer.json");
      if (PathExists(file) && usable(file)) add(absl::StrCat(entry, "/", model), file);
    }
  }
  if (!unusable.empty()) return absl::InvalidArgumentError(unusable);
  if (!clash.empty()) return absl::InvalidArgumentError(clash);
  return std::vector<std::pair<std::string, std::string>>(found.begin(), found.end());
}

}  // namespace convgen
