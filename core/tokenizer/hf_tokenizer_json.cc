#include "core/tokenizer/hf_tokenizer_json.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/files.h"
#include "core/json/tree_builder.h"
#include "core/status_macros.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "nlohmann/json.hpp"

namespace convgen {
namespace {

using Json = nlohmann::json;

absl::Status Unsupported(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("tokenizer.json: ", what, " is not supported by convgen"));
}

std::string UnsupportedModelType(absl::string_view type) {
  return absl::StrCat("model type \"", type,
                      "\" is not supported by convgen, which implements BPE models only "
                      "(byte-level, tiktoken and SentencePiece-style BPE); use a BPE "
                      "tokenizer.json");
}

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: ", what));
}

// Returns node[key] by reference (json::value() would copy it), or null.
const Json& Member(const Json& node, const char* key) {
  static const Json* const kNull = new Json();
  if (!node.is_object()) return *kNull;
  const auto it = node.find(key);
  return it == node.end() ? *kNull : *it;
}

// node[key] as a bool: `fallback` if absent or null, an error if not a bool.
absl::StatusOr<bool> BoolField(const Json& node, const char* key, bool fallback) {
  const Json& value = Member(node, key);
  if (value.is_null()) return fallback;
  if (!value.is_boolean()) {
    return Malformed(absl::StrCat("\"", key, "\" must be true or false, not ", value.dump()));
  }
  return value.get<bool>();
}

// node[key] as a string; "" if absent or not a string.
std::string StringField(const Json& node, const char* key) {
  const Json& value = Member(node, key);
  return value.is_string() ? value.get<std::string>() : std::string();
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
    const bool printable =
        (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    byte_of_char[printable ? b : 256 + shifted++] = b;
  }
  return byte_of_char;
}

// Appends the raw bytes of a byte-level vocabulary string ("Ġthe" -> " the").
absl::Status AppendByteLevelBytes(absl::string_view text, const std::vector<int>& table,
                                  std::string* bytes) {
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
    bytes->push_back(static_cast<char>(table[c]));
  }
  return absl::OkStatus();
}

// A merge rule as written: left and right token texts.
struct MergeText {
  std::string left;
  std::string right;
};

// Resolves the merge rules against the model's vocabulary; rank = position.
absl::StatusOr<std::vector<BpeModel::Merge>> ResolveMerges(
    const std::vector<MergeText>& texts, bool byte_level, const std::vector<int>& table,
    const absl::flat_hash_set<std::string>& unreachable, const BpeModel& model) {
  std::vector<BpeModel::Merge> merges;
  merges.reserve(texts.size());
  std::string left, right;  // reused: most tokens fit without allocating
  for (size_t rank = 0; rank < texts.size(); ++rank) {
    const MergeText& m = texts[rank];
    left.clear();
    right.clear();
    if (byte_level) {
      // A merge of a token that bytes never make can never fire.
      if (unreachable.contains(m.left) || unreachable.contains(m.right)) continue;
      CONVGEN_RETURN_IF_ERROR(AppendByteLevelBytes(m.left, table, &left));
      CONVGEN_RETURN_IF_ERROR(AppendByteLevelBytes(m.right, table, &right));
    } else {
      left = m.left;
      right = m.right;
    }
    const auto l = model.Find(left), r = model.Find(right);
    left.append(right);
    const auto merged = model.Find(left);
    if (!l || !r || !merged) {
      return Malformed(absl::StrCat("merge \"", m.left, " ", m.right,
                                    "\" uses or makes a token missing from the vocab"));
    }
    merges.push_back({*l, *r, *merged, static_cast<uint32_t>(rank)});
  }
  return merges;
}

// tokenizer.json parsed with model.vocab and model.merges (nearly all of the
// file) streamed into vectors instead of a DOM, which halves loading time.
struct ParsedTokenizerJson {
  Json root;  // everything else
  bool has_vocab = false;
  std::vector<std::pair<std::string, TokenId>> vocab;
  bool has_merges = false;
  std::vector<MergeText> merges;
};

// Builds a document from SAX events (nlohmann's own builder is in its
// detail namespace, not its API).
class DomBuilder {
 public:
  explicit DomBuilder(Json& root) : tree_(root) {}

  bool null() { return Put(Json(nullptr)); }
  bool boolean(bool v) { return Put(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return Put(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return Put(Json(v)); }
  bool number_float(Json::number_float_t v, const Json::string_t&) { return Put(Json(v)); }
  bool string(Json::string_t& v) { return Put(Json(std::move(v))); }
  bool binary(Json::binary_t& v) { return Put(Json::binary(std::move(v))); }
  bool start_object(std::size_t) { return Open(Json::object()); }
  bool key(Json::string_t& k) {
    tree_.SetKey(k);
    return true;
  }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) { return Open(Json::array()); }
  bool end_array() { return Close(); }

 private:
  bool Put(Json value) {
    tree_.Store(std::move(value));
    return true;
  }
  bool Open(Json container) {
    tree_.Open(std::move(container));
    return true;
  }
  bool Close() {
    tree_.Close();
    return true;
  }

  JsonTreeBuilder<Json> tree_;
};

class TokenizerJsonReader : public nlohmann::json_sax<Json> {
 public:
  explicit TokenizerJsonReader(ParsedTokenizerJson& out) : out_(out), dom_(out.root) {}

  const std::string& error() const { return error_; }

  bool null() override {
    return Value([&] { return dom_.null(); });
  }
  bool boolean(bool v) override {
    return Value([&] { return dom_.boolean(v); });
  }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::kVocab) return v >= 0 ? VocabId(static_cast<uint64_t>(v)) : BadId();
    return Value([&] { return dom_.number_integer(v); });
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::kVocab) return VocabId(v);
    return Value([&] { return dom_.number_unsigned(v); });
  }
  bool number_float(number_float_t v, const string_t& raw) override {
    if (mode_ == Mode::kVocab) return BadId();
    return Value([&] { return dom_.number_float(v, raw); });
  }
  bool string(string_t& v) override {
    switch (mode_) {
      case Mode::kVocab:
        return BadId();
      case Mode::kMerges: {
        const size_t space = v.find(' ');
        if (space == std::string::npos || v.find(' ', space + 1) != std::string::npos) {
          return Fail(absl::StrCat("merge \"", v, "\" is not two tokens"));
        }
        out_.merges.push_back({v.substr(0, space), v.substr(space + 1)});
        return true;
      }
      case Mode::kMergePair:
        pair_.push_back(std::move(v));
        return true;
      case Mode::kDom:
        return Value([&] { return dom_.string(v); });
    }
    return false;
  }
  bool binary(binary_t& v) override {
    return Value([&] { return dom_.binary(v); });
  }

  bool start_object(std::size_t n) override {
    if (mode_ != Mode::kDom) {
      return Fail(mode_ == Mode::kVocab ? "model.vocab values must be token ids"
                                        : "model.merges must hold strings or pairs");
    }
    if (pending_ == Mode::kVocab) {
      mode_ = Mode::kVocab;
      pending_ = Mode::kDom;
      out_.has_vocab = true;
      return true;
    }
    if (pending_ == Mode::kMerges) return Fail("model.merges must be a list");
    keys_.emplace_back();
    return dom_.start_object(n);
  }
  bool key(string_t& k) override {
    if (mode_ == Mode::kVocab) {
      vocab_key_ = std::move(k);
      return true;
    }
    if (mode_ != Mode::kDom) return Fail("model.merges must hold strings or pairs");
    // model.vocab and model.merges are the members of the object at depth 2
    // whose parent key is "model".
    if (keys_.size() == 2 && keys_[0] == "model" && (k == "vocab" || k == "merges")) {
      pending_ = k == "vocab" ? Mode::kVocab : Mode::kMerges;
      return true;
    }
    keys_.back() = k;
    return dom_.key(k);
  }
  bool end_object() override {
    if (mode_ == Mode::kVocab) {
      mode_ = Mode::kDom;
      return true;
    }
    keys_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) override {
    if (pending_ == Mode::kVocab) {
      // A list is a Unigram vocabulary ([token, score] pairs); "type" comes
      // before "vocab" in files HF writes, so it can be named here.
      const std::string type = TypeOf(Member(out_.root, "model"));
      return Fail(type.empty() || type == "BPE" ? "model.vocab must be an object"
                                                : UnsupportedModelType(type));
    }
    if (pending_ == Mode::kMerges) {
      mode_ = Mode::kMerges;
      pending_ = Mode::kDom;
      out_.has_merges = true;
      return true;
    }
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kMergePair;
      pair_.clear();
      return true;
    }
    if (mode_ != Mode::kDom) {
      return Fail(mode_ == Mode::kVocab ? "model.vocab values must be token ids"
                                        : "a merge pair must hold two strings");
    }
    keys_.emplace_back();
    return dom_.start_array(n);
  }
  bool end_array() override {
    if (mode_ == Mode::kMergePair) {
      if (pair_.size() != 2) {
        return Fail(absl::StrCat("merge with ", pair_.size(), " parts is not two tokens"));
      }
      out_.merges.push_back({std::move(pair_[0]), std::move(pair_[1])});
      mode_ = Mode::kMerges;
      return true;
    }
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kDom;
      return true;
    }
    keys_.pop_back();
    return dom_.end_array();
  }
  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& ex) override {
    return Fail(absl::StrCat("not valid JSON: ", ex.what()));
  }

 private:
  enum class Mode { kDom, kVocab, kMerges, kMergePair };

  // A scalar value: in the DOM, or (for vocab/merges members that are not
  // containers) an error.
  template <class Forward>
  bool Value(Forward forward) {
    if (pending_ == Mode::kVocab) return Fail("model.vocab must be an object");
    if (pending_ == Mode::kMerges) return Fail("model.merges must be a list");
    if (mode_ == Mode::kMergePair || mode_ == Mode::kMerges) {
      return Fail("model.merges must hold strings or pairs of strings");
    }
    if (mode_ == Mode::kVocab) return BadId();
    return forward();
  }
  bool VocabId(uint64_t id) {
    if (id >= (1u << 24)) return BadId();
    out_.vocab.emplace_back(std::move(vocab_key_), static_cast<TokenId>(id));
    return true;
  }
  bool BadId() { return Fail(absl::StrCat("vocab entry \"", vocab_key_, "\" has a bad id")); }
  bool Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  ParsedTokenizerJson& out_;
  DomBuilder dom_;
  std::vector<std::string> keys_;  // current key per open DOM container
  Mode mode_ = Mode::kDom;
  Mode pending_ = Mode::kDom;  // the next value is model.vocab or model.merges
  std::string vocab_key_;
  std::vector<std::string> pair_;
  std::string error_;
};

// What the normalizer and pre-tokenizer of a file ask for, as read.
struct Pipeline {
  std::vector<BpeTokenizer::NormalizerStep> normalizers;
  bool prepend = false;        // Prepend("▁") normalizer
  bool replace_space = false;  // Replace(" ", "▁") normalizer
  bool metaspace = false;      // Metaspace pre-tokenizer
  BpeTokenizer::SpacePrefix metaspace_prefix = BpeTokenizer::SpacePrefix::kNone;
  bool metaspace_split = false;
  bool byte_level = false;
  std::vector<std::unique_ptr<PreTokenizer>> splits;

  bool sentencepiece() const { return replace_space || metaspace; }
};

// A JSON node for an error message, cut to a readable length.
std::string Shown(const Json& node) {
  std::string text = node.dump();
  if (text.size() > 200) text = absl::StrCat(text.substr(0, 200), "...");
  return text;
}

absl::Status ReadNormalizer(const Json& node, Pipeline& p) {
  if (node.is_null()) return absl::OkStatus();
  const std::string type = TypeOf(node);
  if (type == "Sequence") {
    const Json& steps = Member(node, "normalizers");
    if (!steps.is_array()) return Malformed("a Sequence normalizer needs a normalizers list");
    for (const Json& step : steps) CONVGEN_RETURN_IF_ERROR(ReadNormalizer(step, p));
    return absl::OkStatus();
  }
  using Step = BpeTokenizer::NormalizerStep;
  using Form = unicode::NormalizationForm;
  std::optional<Step> step;
  if (type == "NFC") step = Step{Step::Kind::kForm, Form::kNfc};
  if (type == "NFD") step = Step{Step::Kind::kForm, Form::kNfd};
  if (type == "NFKC") step = Step{Step::Kind::kForm, Form::kNfkc};
  if (type == "NFKD") step = Step{Step::Kind::kForm, Form::kNfkd};
  if (type == "Lowercase") step = Step{Step::Kind::kLowercase, Form::kNfc};
  if (step) {
    // convgen reads spaces as "▁" after the other steps; a Unicode step
    // after Replace would see "▁" where convgen sees a space (NFKC maps a
    // no-break space to a space, which Replace would then not see).
    if (p.prepend || p.replace_space) {
      return Unsupported(
          absl::StrCat("normalizer ", type, " after the SentencePiece Prepend/Replace steps"));
    }
    p.normalizers.push_back(*step);
    return absl::OkStatus();
  }
  if (type == "Prepend" && StringField(node, "prepend") == kSentencePieceSpace) {
    p.prepend = true;
    return absl::OkStatus();
  }
  if (type == "Replace" && StringField(Member(node, "pattern"), "String") == " " &&
      StringField(node, "content") == kSentencePieceSpace) {
    p.replace_space = true;
    return absl::OkStatus();
  }
  return Unsupported(absl::StrCat("normalizer ", Shown(node)));
}

absl::Status ReadMetaspace(const Json& node, Pipeline& p) {
  if (StringField(node, "replacement") != kSentencePieceSpace) {
    return Unsupported(absl::StrCat("Metaspace pre-tokenizer with replacement ",
                                    Member(node, "replacement").dump(), " (only \"▁\" is)"));
  }
  // As HF: prepend_scheme defaults to "always"; the older add_prefix_space
  // false means "never".
  std::string scheme = StringField(node, "prepend_scheme");
  const Json& add_prefix_space = Member(node, "add_prefix_space");
  if (scheme.empty()) {
    scheme = add_prefix_space.is_boolean() && !add_prefix_space.get<bool>() ? "never" : "always";
  }
  if (scheme == "always") {
    p.metaspace_prefix = BpeTokenizer::SpacePrefix::kUnlessSpace;
  } else if (scheme == "first") {
    p.metaspace_prefix = BpeTokenizer::SpacePrefix::kFirstUnlessSpace;
  } else if (scheme == "never") {
    p.metaspace_prefix = BpeTokenizer::SpacePrefix::kNone;
  } else {
    return Malformed(absl::StrCat("Metaspace prepend_scheme \"", scheme,
                                  "\" (HF knows first, always and never)"));
  }
  CONVGEN_ASSIGN_OR_RETURN(p.metaspace_split, BoolField(node, "split", true));
  p.metaspace = true;
  return absl::OkStatus();
}

// A Split pre-tokenizer step: a regex, isolated or (inverted) kept alone.
absl::Status ReadSplit(const Json& node, const HfTokenizerOptions& options, Pipeline& p) {
  const Json& pattern = Member(node, "pattern");
  const std::string behavior = StringField(node, "behavior");
  CONVGEN_ASSIGN_OR_RETURN(const bool invert, BoolField(node, "invert", false));
  if (p.replace_space && StringField(pattern, "String") == " ") {
    // Gemma: the Replace normalizer has already turned every space into
    // "▁", so a split on " " never matches (HF pre-tokenizes normalized
    // text): it is a no-op whatever its behavior.
    return absl::OkStatus();
  }
  if (!pattern.contains("Regex") || !pattern["Regex"].is_string()) {
    return Unsupported(
        absl::StrCat("Split pre-tokenizer pattern ", Shown(pattern), " (only Regex patterns are)"));
  }
  SplitBehavior split_behavior;
  if (behavior == "Isolated" && !invert) {
    split_behavior = SplitBehavior::kIsolated;
  } else if (behavior == "Removed" && invert) {
    split_behavior = SplitBehavior::kMatchesOnly;
  } else {
    return Unsupported(absl::StrCat("Split pre-tokenizer behavior \"", behavior, "\" with invert ",
                                    invert ? "true" : "false"));
  }
  CONVGEN_ASSIGN_OR_RETURN(auto split, MakeSplitPreTokenizer(pattern["Regex"].get<std::string>(),
                                                             split_behavior, options.force_regex));
  p.splits.push_back(std::move(split));
  return absl::OkStatus();
}

absl::Status ReadPreTokenizerStep(const Json& node, const HfTokenizerOptions& options,
                                  Pipeline& p) {
  const std::string type = TypeOf(node);
  if (p.byte_level) return Unsupported("a pre-tokenizer step after ByteLevel");
  if (p.metaspace) return Unsupported("a pre-tokenizer step after Metaspace");
  if (type == "ByteLevel") {
    CONVGEN_ASSIGN_OR_RETURN(const bool add_prefix_space,
                             BoolField(node, "add_prefix_space", false));
    CONVGEN_ASSIGN_OR_RETURN(const bool use_regex, BoolField(node, "use_regex", true));
    if (add_prefix_space) {
      return Unsupported("ByteLevel pre-tokenizer with add_prefix_space");
    }
    if (use_regex) {
      CONVGEN_ASSIGN_OR_RETURN(
          auto split,
          MakeSplitPreTokenizer(kGpt2Pattern, SplitBehavior::kIsolated, options.force_regex));
      p.splits.push_back(std::move(split));
    }
    p.byte_level = true;
    return absl::OkStatus();
  }
  if (type == "Metaspace") {
    if (!p.splits.empty()) return Unsupported("a pre-tokenizer step before Metaspace");
    return ReadMetaspace(node, p);
  }
  if (type == "Digits") {
    CONVGEN_ASSIGN_OR_RETURN(const bool individual, BoolField(node, "individual_digits", false));
    p.splits.push_back(MakeDigitsPreTokenizer(individual));
    return absl::OkStatus();
  }
  if (type == "Split") return ReadSplit(node, options, p);
  return Unsupported(absl::StrCat("pre-tokenizer type \"", type, "\""));
}

absl::Status ReadPreTokenizer(const Json& node, const HfTokenizerOptions& options, Pipeline& p) {
  if (node.is_null()) return absl::OkStatus();
  if (TypeOf(node) == "Sequence") {
    for (const Json& step : Member(node, "pretokenizers")) {
      CONVGEN_RETURN_IF_ERROR(ReadPreTokenizerStep(step, options, p));
    }
    return absl::OkStatus();
  }
  return ReadPreTokenizerStep(node, options, p);
}

// Checks that the steps read make one of the two pipelines convgen implements.
absl::Status CheckPipeline(const Pipeline& p) {
  if (p.byte_level) {
    if (p.prepend || p.replace_space || p.metaspace) {
      return Unsupported("a ByteLevel pre-tokenizer with SentencePiece's \"▁\" steps");
    }
    return absl::OkStatus();
  }
  if (!p.sentencepiece()) {
    return Unsupported(p.prepend
                           ? "a Prepend(\"▁\") normalizer without Replace(\" \", \"▁\")"
                           : "a BPE model that is neither byte-level (ByteLevel pre-tokenizer) nor "
                             "SentencePiece style (Replace(\" \", \"▁\") normalizer or Metaspace "
                             "pre-tokenizer)");
  }
  if (p.metaspace && (p.prepend || p.replace_space)) {
    return Unsupported("a Metaspace pre-tokenizer after Prepend/Replace(\"▁\") normalizers");
  }
  if (!p.splits.empty()) {
    return Unsupported("Split or Digits pre-tokenizers in a SentencePiece-style pipeline");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AddedToken>> ReadAddedTokens(const Json& node, const Pipeline& p) {
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
      CONVGEN_ASSIGN_OR_RETURN(const bool set, BoolField(t, flag, false));
      if (set) {
        return Unsupported(absl::StrCat("added token \"", content, "\" with ", flag));
      }
    }
    CONVGEN_ASSIGN_OR_RETURN(const bool normalized, BoolField(t, "normalized", false));
    if (normalized && (!p.normalizers.empty() || p.sentencepiece())) {
      return Unsupported(absl::StrCat("added token \"", content, "\" matched after normalization"));
    }
    // HF reads ids as u32; a larger one must not wrap around to a small id.
    const uint64_t id = t["id"].get<uint64_t>();
    if (id > UINT32_MAX) {
      return Malformed(absl::StrCat("added token \"", content, "\" has id ", id,
                                    ", beyond the 32-bit ids tokenizers use"));
    }
    tokens.push_back({content, static_cast<TokenId>(id)});
  }
  return tokens;
}

absl::Status CheckNullOrAbsent(const Json& root, const char* key) {
  if (root.contains(key) && !root[key].is_null()) {
    return Unsupported(absl::StrCat("\"", key, "\" (it would change the encoding)"));
  }
  return absl::OkStatus();
}

// The model must be a deterministic BPE without affixes.
absl::Status CheckModel(const Json& model_json, bool has_merges) {
  const std::string model_type = TypeOf(model_json);
  if (model_type != "BPE" && !(model_type.empty() && has_merges)) {
    return Malformed(UnsupportedModelType(model_type.empty() ? "(none)" : model_type));
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
  return absl::OkStatus();
}

// The vocabulary as token texts by id (byte-level tokens as their bytes);
// tokens that bytes can never make are left empty and named in
// *unreachable. Consumes parsed.vocab.
absl::StatusOr<std::vector<std::string>> ReadVocab(ParsedTokenizerJson& parsed, bool byte_level,
                                                   const std::vector<int>& byte_table,
                                                   const std::vector<AddedToken>& added,
                                                   absl::flat_hash_set<std::string>* unreachable) {
  absl::flat_hash_set<TokenId> unreachable_ids;
  if (parsed.vocab.empty()) return Malformed("model.vocab must be a non-empty object");
  // Ids are dense in real vocabularies; a bound keeps a corrupt file from
  // allocating gigabytes.
  const size_t max_id = 2 * parsed.vocab.size() + 1024;
  std::vector<std::string> tokens;
  for (auto& [text, id] : parsed.vocab) {
    if (id >= max_id) {
      return Malformed(absl::StrCat("vocab entry \"", text, "\" has id ", id,
                                    ", far beyond the vocabulary's ", parsed.vocab.size(),
                                    " entries"));
    }
    if (id >= tokens.size()) tokens.resize(id + 1);
    if (!tokens[id].empty() || (byte_level && unreachable_ids.contains(id))) {
      return Malformed(
          absl::StrCat("vocab entry \"", text, "\" has id ", id, ", which another entry has too"));
    }
    if (byte_level) {
      if (!AppendByteLevelBytes(text, byte_table, &tokens[id]).ok()) {
        // A token with a character outside the byte alphabet (DeepSeek-V3's
        // <｜begin▁of▁sentence｜>, Command-R's lone U+200D) can never be
        // made from bytes: HF loads it and never produces it (an added
        // token of that text is found by the added-token matcher), and no
        // merge that uses it can fire. It stays without text here.
        tokens[id].clear();
        unreachable->insert(text);
        unreachable_ids.insert(id);
      }
    } else {
      tokens[id] = std::move(text);
    }
  }
  parsed.vocab = {};
  for (const AddedToken& token : added) {
    if (token.id >= max_id + added.size()) {
      return Malformed(absl::StrCat("added token \"", token.content, "\" has id ", token.id,
                                    ", far beyond the vocabulary"));
    }
  }

  return tokens;
}

absl::StatusOr<BpeModel::Options> ModelOptions(const Json& model_json, bool byte_level) {
  BpeModel::Options model_options;
  model_options.alphabet =
      byte_level ? BpeModel::Alphabet::kBytes : BpeModel::Alphabet::kSentencePiece;
  CONVGEN_ASSIGN_OR_RETURN(model_options.ignore_merges,
                           BoolField(model_json, "ignore_merges", false));
  CONVGEN_ASSIGN_OR_RETURN(model_options.byte_fallback,
                           BoolField(model_json, "byte_fallback", false));
  CONVGEN_ASSIGN_OR_RETURN(model_options.fuse_unk, BoolField(model_json, "fuse_unk", false));
  if (model_json.contains("unk_token") && model_json["unk_token"].is_string()) {
    model_options.unk_text = model_json["unk_token"].get<std::string>();
  }
  return model_options;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizerJson(absl::string_view json,
                                                               const HfTokenizerOptions& options) {
  ParsedTokenizerJson parsed;
  {
    TokenizerJsonReader reader(parsed);
    if (!Json::sax_parse(json.begin(), json.end(), &reader)) {
      return Malformed(reader.error().empty() ? "not valid JSON" : reader.error());
    }
  }
  const Json& root = parsed.root;
  if (!root.is_object()) return Malformed("the top level must be an object");
  CONVGEN_RETURN_IF_ERROR(CheckNullOrAbsent(root, "truncation"));
  CONVGEN_RETURN_IF_ERROR(CheckNullOrAbsent(root, "padding"));

  const Json& model_json = Member(root, "model");
  CONVGEN_RETURN_IF_ERROR(CheckModel(model_json, parsed.has_merges));

  Pipeline p;
  CONVGEN_RETURN_IF_ERROR(ReadNormalizer(Member(root, "normalizer"), p));
  CONVGEN_RETURN_IF_ERROR(ReadPreTokenizer(Member(root, "pre_tokenizer"), options, p));
  CONVGEN_RETURN_IF_ERROR(CheckPipeline(p));
  CONVGEN_ASSIGN_OR_RETURN(std::vector<AddedToken> added,
                           ReadAddedTokens(Member(root, "added_tokens"), p));

  absl::flat_hash_set<std::string> unreachable;
  const std::vector<int> byte_table = ByteLevelDecodeTable();
  CONVGEN_ASSIGN_OR_RETURN(std::vector<std::string> tokens,
                           ReadVocab(parsed, p.byte_level, byte_table, added, &unreachable));
  CONVGEN_ASSIGN_OR_RETURN(const BpeModel::Options model_options,
                           ModelOptions(model_json, p.byte_level));
  CONVGEN_ASSIGN_OR_RETURN(std::unique_ptr<BpeModel> model, BpeModel::Create(
                                                                std::move(tokens),
                                                                [&](const BpeModel& m) {
                                                                  return ResolveMerges(
                                                                      parsed.merges, p.byte_level,
                                                                      byte_table, unreachable, m);
                                                                },
                                                                model_options));

  BpeTokenizer::Parts parts;
  parts.model = std::move(model);
  parts.pre_tokenizer = p.splits.empty() ? nullptr : MakeSequencePreTokenizer(std::move(p.splits));
  parts.normalizers = std::move(p.normalizers);
  parts.space_prefix = p.prepend     ? BpeTokenizer::SpacePrefix::kAlways
                       : p.metaspace ? p.metaspace_prefix
                                     : BpeTokenizer::SpacePrefix::kNone;
  parts.split_at_spaces = p.metaspace && p.metaspace_split;
  parts.added_tokens = std::move(added);
  parts.kind = p.byte_level ? "Hugging Face byte-level BPE" : "Hugging Face SentencePiece BPE";
  return std::unique_ptr<Tokenizer>(new BpeTokenizer(std::move(parts)));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizerFile(const std::string& path,
                                                               const HfTokenizerOptions& options) {
  CONVGEN_ASSIGN_OR_RETURN(const std::string text, ReadFileToString(path));
  auto tokenizer = LoadHfTokenizerJson(text, options);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat(path, ": ", tokenizer.status().message()));
  }
  return tokenizer;
}

}  // namespace convgen
