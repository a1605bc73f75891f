#include "core/tokenizer/tiktoken.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/files.h"
#include "core/status_macros.h"
#include "core/tokenizer/bpe_tokenizer.h"

namespace convgen {
namespace {

struct EncodingInfo {
  absl::string_view name;
  const char* pattern;
  std::vector<AddedToken> specials;
};

const EncodingInfo* FindEncoding(absl::string_view name) {
  static const auto* const kEncodings = new std::vector<EncodingInfo>{
      {"cl100k_base",
       kCl100kPattern,
       {{"<|endoftext|>", 100257},
        {"<|fim_prefix|>", 100258},
        {"<|fim_middle|>", 100259},
        {"<|fim_suffix|>", 100260},
        {"<|endofprompt|>", 100276}}},
      {"o200k_base", kO200kPattern, {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}}},
  };
  for (const EncodingInfo& e : *kEncodings) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

// The tokens of a .tiktoken file ("<base64 token> <rank>" lines) by rank.
absl::StatusOr<std::vector<std::string>> ReadRanks(absl::string_view ranks) {
  std::vector<std::string> tokens;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(ranks, '\n')) {
    ++line_number;
    if (line.empty()) continue;
    const std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    std::string bytes;
    uint32_t rank;
    if (fields.size() != 2 || !absl::Base64Unescape(fields[0], &bytes) || bytes.empty() ||
        !absl::SimpleAtoi(fields[1], &rank) || rank >= (1u << 24)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tiktoken line ", line_number, ": expected \"<base64 token> <rank>\""));
    }
    // Ranks are dense; the bound keeps a corrupt file from allocating much.
    if (rank >= 2 * static_cast<uint64_t>(line_number) + 1024) {
      return absl::InvalidArgumentError(
          absl::StrCat("tiktoken line ", line_number, ": rank ", rank, " is far out of order"));
    }
    if (rank >= tokens.size()) tokens.resize(rank + 1);
    if (!tokens[rank].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("tiktoken line ", line_number, ": rank ", rank,
                                                     " is given to an earlier token too"));
    }
    tokens[rank] = std::move(bytes);
  }
  return tokens;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTiktoken(absl::string_view ranks,
                                                        absl::string_view encoding) {
  const EncodingInfo* info = FindEncoding(encoding);
  if (info == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown tiktoken encoding \"", encoding,
                                                   "\"; convgen knows cl100k_base and o200k_base"));
  }
  CONVGEN_ASSIGN_OR_RETURN(std::vector<std::string> tokens, ReadRanks(ranks));
  if (tokens.empty()) return absl::InvalidArgumentError("tiktoken file has no tokens");

  // Every split of a token into two tokens is a merge, ranked by the token.
  const auto all_splits =
      [](const BpeModel& model) -> absl::StatusOr<std::vector<BpeModel::Merge>> {
    std::vector<BpeModel::Merge> merges;
    for (TokenId id = 0; id < model.vocab_size(); ++id) {
      const absl::string_view token = model.TokenText(id);
      for (size_t cut = 1; cut < token.size(); ++cut) {
        const auto left = model.Find(token.substr(0, cut));
        const auto right = model.Find(token.substr(cut));
        if (left && right) merges.push_back({*left, *right, id, id});
      }
    }
    return merges;
  };
  CONVGEN_ASSIGN_OR_RETURN(auto split,
                           MakeSplitPreTokenizer(info->pattern, SplitBehavior::kMatchesOnly));
  BpeModel::Options options;
  options.alphabet = BpeModel::Alphabet::kBytes;
  // tiktoken emits a piece that is itself a token without merging.
  options.ignore_merges = true;
  CONVGEN_ASSIGN_OR_RETURN(auto model, BpeModel::Create(std::move(tokens), all_splits, options));

  BpeTokenizer::Parts parts;
  parts.model = std::move(model);
  parts.pre_tokenizer = std::move(split);
  parts.added_tokens = info->specials;
  parts.kind = absl::StrCat("tiktoken ", info->name);
  return std::unique_ptr<Tokenizer>(new BpeTokenizer(std::move(parts)));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTiktokenFile(const std::string& path) {
  CONVGEN_ASSIGN_OR_RETURN(const std::string ranks, ReadFileToString(path));
  absl::string_view name = path;
  if (const size_t slash = name.rfind('/'); slash != absl::string_view::npos) {
    name.remove_prefix(slash + 1);
  }
  if (absl::ConsumeSuffix(&name, ".tiktoken")) {
    auto tokenizer = LoadTiktoken(ranks, name);
    if (!tokenizer.ok()) {
      return absl::Status(tokenizer.status().code(),
                          absl::StrCat(path, ": ", tokenizer.status().message()));
    }
    return tokenizer;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": a tiktoken file must be named <encoding>.tiktoken"));
}

}  // namespace convgen
