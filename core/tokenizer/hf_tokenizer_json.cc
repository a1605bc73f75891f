#include "core/tokenizer/hf_tokenizer_json.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/files.h"
#include "nlohmann/json.hpp"

namespace convgen {
namespace {

using Json = nlohmann::json;

absl::Status Unsupported(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("tokenizer.json: ", what, " is not supported by convgen"));
}

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: ", what));
}

std::string TypeOf(const Json& node) {
  if (!node.is_object()) return "";
  const auto it = node.find("type");
  return it != node.end() && it->is_string() ? it->get<std::string>() : "";
}

// The GPT-2 byte <-> character table: printable Latin-1 bytes stand for
// themselves; the others are shifted to U+0100 and up, in byte order.
std::vector<int> ByteLevelDecodeTable() {
  std::vector<int> byte_of_char(512, -1);
  int shifted = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
                           (b >= 0xAE && b <= 0xFF);
    byte_of_char[printable ? b : 256 + shifted++] = b;
  }
  return byte_of_char;
}

// Maps a byte-level vocabulary string ("Ġthe") to its raw bytes (" the").
absl::StatusOr<std::string> ByteLevelToBytes(const std::string& text,
                                             const std::vector<int>& table) {
  std::string bytes;
  size_t pos = 0;
  while (pos < text.size()) {
    const auto b0 = static_cast<unsigned char>(text[pos]);
    int c;
    if (b0 < 0x80) {
      c = b0;
      pos += 1;
    } else if ((b0 & 0xE0) == 0xC0 && pos + 1 < text.size()) {
      c = ((b0 & 0x1F) << 6) | (static_cast<unsigned char>(text[pos + 1]) & 0x3F);
      pos += 2;
    } else {
      c = -1;
    }
    if (c < 0 || c >= static_cast<int>(table.size()) || table[c] < 0) {
      return Malformed(absl::StrCat("byte-level token \"", text,
                                    "\" has a character outside the byte alphabet"));
    }
    bytes.push_back(static_cast<char>(table[c]));
  }
  return bytes;
}

struct Pipeline {
  BpeTokenizer::Normalizer normalizer = BpeTokenizer::Normalizer::kNone;
  bool sentencepiece = false;  // Prepend("▁") + Replace(" ", "▁")
  bool byte_level = false;
  std::vector<std::unique_ptr<PreTokenizer>> splits;
};

absl::Status ReadNormalizer(const Json& node, Pipeline& p) {
  if (node.is_null()) return absl::OkStatus();
  const std::string type = TypeOf(node);
  if (type == "NFC") {
    p.normalizer = BpeTokenizer::Normalizer::kNfc;
    return absl::OkStatus();
  }
  if (type == "Sequence") {
    bool prepend = false, replace = false;
    for (const Json& step : node.value("normalizers", Json::array())) {
      const std::string step_type = TypeOf(step);
      if (step_type == "NFC") {
        p.normalizer = BpeTokenizer::Normalizer::kNfc;
      } else if (step_type == "Prepend" && step.value("prepend", "") == kSentencePieceSpace) {
        prepend = true;
      } else if (step_type == "Replace" && step.contains("pattern") &&
                 step["pattern"].value("String", "") == " " &&
                 step.value("content", "") == kSentencePieceSpace) {
        replace = true;
      } else {
        return Unsupported(absl::StrCat("normalizer ", step.dump()));
      }
    }
    if (prepend != replace) {
      return Unsupported("a normalizer with only one of Prepend(\"▁\") and "
                         "Replace(\" \", \"▁\")");
    }
    p.sentencepiece = prepend && replace;
    if (p.sentencepiece && p.normalizer == BpeTokenizer::Normalizer::kNfc) {
      return Unsupported("NFC together with the SentencePiece normalizer");
    }
    return absl::OkStatus();
  }
  return Unsupported(absl::StrCat("normalizer type \"", type, "\""));
}

absl::Status ReadPreTokenizerStep(const Json& node, const HfTokenizerOptions& options,
                                  Pipeline& p) {
  const std::string type = TypeOf(node);
  if (p.byte_level) return Unsupported("a pre-tokenizer step after ByteLevel");
  if (type == "ByteLevel") {
    if (node.value("add_prefix_space", false)) {
      return Unsupported("ByteLevel pre-tokenizer with add_prefix_space");
    }
    if (node.value("use_regex", true)) {
      ASSIGN_OR_RETURN(auto split, MakeSplitPreTokenizer(kGpt2Pattern,
                                                         SplitBehavior::kIsolated,
                                                         options.force_regex));
      p.splits.push_back(std::move(split));
    }
    p.byte_level = true;
    return absl::OkStatus();
  }
  if (type == "Split") {
    const Json& pattern = node.value("pattern", Json::object());
    if (!pattern.contains("Regex") || !pattern["Regex"].is_string()) {
      return Unsupported(absl::StrCat("Split pre-tokenizer pattern ", pattern.dump(),
                                      " (only Regex patterns are)"));
    }
    const std::string behavior = node.value("behavior", "");
    const bool invert = node.value("invert", false);
    SplitBehavior split_behavior;
    if (behavior == "Isolated" && !invert) {
      split_behavior = SplitBehavior::kIsolated;
    } else if (behavior == "Removed" && invert) {
      split_behavior = SplitBehavior::kMatchesOnly;
    } else {
      return Unsupported(absl::StrCat("Split pre-tokenizer behavior \"", behavior,
                                      "\" with invert ", invert ? "true" : "false"));
    }
    ASSIGN_OR_RETURN(auto split,
                     MakeSplitPreTokenizer(pattern["Regex"].get<std::string>(),
                                           split_behavior, options.force_regex));
    p.splits.push_back(std::move(split));
    return absl::OkStatus();
  }
  return Unsupported(absl::StrCat("pre-tokenizer type \"", type, "\""));
}

absl::Status ReadPreTokenizer(const Json& node, const HfTokenizerOptions& options,
                              Pipeline& p) {
  if (node.is_null()) return absl::OkStatus();
  if (TypeOf(node) == "Sequence") {
    for (const Json& step : node.value("pretokenizers", Json::array())) {
      RETURN_IF_ERROR(ReadPreTokenizerStep(step, options, p));
    }
    return absl::OkStatus();
  }
  return ReadPreTokenizerStep(node, options, p);
}

absl::StatusOr<std::vector<AddedToken>> ReadAddedTokens(const Json& node,
                                                        const Pipeline& p) {
  std::vector<AddedToken> tokens;
  if (node.is_null()) return tokens;
  if (!node.is_array()) return Malformed("added_tokens must be a list");
  for (const Json& t : node) {
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_unsigned() ||
        !t.contains("content") || !t["content"].is_string()) {
      return Malformed(absl::StrCat("added token ", t.dump(), " needs id and content"));
    }
    const std::string content = t["content"].get<std::string>();
    for (const char* flag : {"lstrip", "rstrip", "single_word"}) {
      if (t.value(flag, false)) {
        return Unsupported(absl::StrCat("added token \"", content, "\" with ", flag));
      }
    }
    if (t.value("normalized", false) && (p.normalizer != BpeTokenizer::Normalizer::kNone ||
                                         p.sentencepiece)) {
      return Unsupported(absl::StrCat("added token \"", content,
                                      "\" matched after normalization"));
    }
    tokens.push_back({content, t["id"].get<TokenId>()});
  }
  return tokens;
}

absl::Status CheckNullOrAbsent(const Json& root, const char* key) {
  if (root.contains(key) && !root[key].is_null()) {
    return Unsupported(absl::StrCat("\"", key, "\" (it would change the encoding)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizerJson(
    absl::string_view json, const HfTokenizerOptions& options) {
  Json root = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Malformed("not valid JSON");
  if (!root.is_object()) return Malformed("the top level must be an object");
  RETURN_IF_ERROR(CheckNullOrAbsent(root, "truncation"));
  RETURN_IF_ERROR(CheckNullOrAbsent(root, "padding"));

  const Json& model_json = root.value("model", Json::object());
  const std::string model_type = TypeOf(model_json);
  if (model_type != "BPE" && !(model_type.empty() && model_json.contains("merges"))) {
    return Unsupported(absl::StrCat("model type \"", model_type,
                                    "\" (convgen implements BPE)"));
  }
  if (model_json.contains("dropout") && !model_json["dropout"].is_null()) {
    return Unsupported("BPE dropout (it makes encoding random)");
  }
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model_json.contains(affix) && model_json[affix].is_string() &&
        !model_json[affix].get<std::string>().empty()) {
      return Unsupported(absl::StrCat("BPE ", affix));
    }
  }

  Pipeline p;
  RETURN_IF_ERROR(ReadNormalizer(root.value("normalizer", Json()), p));
  RETURN_IF_ERROR(ReadPreTokenizer(root.value("pre_tokenizer", Json()), options, p));
  if (p.byte_level == p.sentencepiece) {
    return Unsupported(
        p.byte_level ? "a ByteLevel pre-tokenizer with the SentencePiece normalizer"
                     : "a BPE model that is neither byte-level (ByteLevel "
                       "pre-tokenizer) nor SentencePiece style (Prepend/Replace "
                       "\"▁\" normalizer)");
  }
  if (p.sentencepiece && !p.splits.empty()) {
    return Unsupported("a Split pre-tokenizer with the SentencePiece normalizer");
  }
  ASSIGN_OR_RETURN(std::vector<AddedToken> added,
                   ReadAddedTokens(root.value("added_tokens", Json()), p));

  // Vocabulary.
  const Json& vocab = model_json.value("vocab", Json());
  if (!vocab.is_object() || vocab.empty()) return Malformed("model.vocab must be an object");
  const std::vector<int> byte_table = ByteLevelDecodeTable();
  std::vector<std::string> tokens;
  for (const auto& [text, id_json] : vocab.items()) {
    if (!id_json.is_number_unsigned() || id_json.get<uint64_t>() >= (1u << 24)) {
      return Malformed(absl::StrCat("vocab entry \"", text, "\" has a bad id"));
    }
    const auto id = id_json.get<TokenId>();
    if (id >= tokens.size()) tokens.resize(id + 1);
    if (p.byte_level) {
      ASSIGN_OR_RETURN(tokens[id], ByteLevelToBytes(text, byte_table));
    } else {
      tokens[id] = text;
    }
  }
  // Merges, either "a b" or ["a", "b"].
  absl::flat_hash_map<std::string, TokenId> ids;
  ids.reserve(tokens.size());
  for (TokenId id = 0; id < tokens.size(); ++id) {
    if (!tokens[id].empty()) ids.emplace(tokens[id], id);
  }
  const Json& merges_json = model_json.value("merges", Json::array());
  if (!merges_json.is_array()) return Malformed("model.merges must be a list");
  std::vector<BpeModel::Merge> merges;
  merges.reserve(merges_json.size());
  for (size_t rank = 0; rank < merges_json.size(); ++rank) {
    const Json& m = merges_json[rank];
    std::string left, right;
    if (m.is_string()) {
      const std::string line = m.get<std::string>();
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        return Malformed(absl::StrCat("merge \"", line, "\" is not two tokens"));
      }
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return Malformed(absl::StrCat("merge ", m.dump(), " is not two tokens"));
    }
    if (p.byte_level) {
      ASSIGN_OR_RETURN(left, ByteLevelToBytes(left, byte_table));
      ASSIGN_OR_RETURN(right, ByteLevelToBytes(right, byte_table));
    }
    const auto l = ids.find(left), r = ids.find(right), merged = ids.find(left + right);
    if (l == ids.end() || r == ids.end() || merged == ids.end()) {
      return Malformed(absl::StrCat("merge ", m.dump(),
                                    " uses or makes a token missing from the vocab"));
    }
    merges.push_back({l->second, r->second, merged->second, static_cast<uint32_t>(rank)});
  }

  BpeModel::Options model_options;
  model_options.alphabet =
      p.byte_level ? BpeModel::Alphabet::kBytes : BpeModel::Alphabet::kSentencePiece;
  model_options.ignore_merges = model_json.value("ignore_merges", false);
  model_options.byte_fallback = model_json.value("byte_fallback", false);
  model_options.fuse_unk = model_json.value("fuse_unk", false);
  if (model_json.contains("unk_token") && model_json["unk_token"].is_string()) {
    const auto it = ids.find(model_json["unk_token"].get<std::string>());
    if (it != ids.end()) model_options.unk_id = it->second;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BpeModel> model,
                   BpeModel::Create(std::move(tokens), merges, model_options));

  BpeTokenizer::Parts parts;
  parts.model = std::move(model);
  parts.pre_tokenizer = p.splits.empty() ? nullptr : MakeSequencePreTokenizer(std::move(p.splits));
  parts.normalizer = p.normalizer;
  parts.added_tokens = std::move(added);
  parts.kind = p.byte_level ? "Hugging Face byte-level BPE" : "Hugging Face SentencePiece BPE";
  return std::unique_ptr<Tokenizer>(new BpeTokenizer(std::move(parts)));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizerFile(
    const std::string& path, const HfTokenizerOptions& options) {
  ASSIGN_OR_RETURN(const std::string text, ReadFileToString(path));
  auto tokenizer = LoadHfTokenizerJson(text, options);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat(path, ": ", tokenizer.status().message()));
  }
  return tokenizer;
}

}  // namespace convgen
