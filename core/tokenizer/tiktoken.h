// Loads a tiktoken rank file (cl100k_base.tiktoken, o200k_base.tiktoken:
// lines of "<base64 token> <rank>") as a byte-level BPE tokenizer with the
// encoding's split pattern and special tokens. Merging follows tiktoken: the
// adjacent pair whose concatenation has the lowest rank goes first, leftmost
// among equals.
#ifndef CONVGEN_CORE_TOKENIZER_TIKTOKEN_H_
#define CONVGEN_CORE_TOKENIZER_TIKTOKEN_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/tokenizer/tokenizer.h"

namespace convgen {

// `encoding` names the pattern and special tokens: "cl100k_base" or
// "o200k_base".
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTiktoken(absl::string_view ranks,
                                                        absl::string_view encoding);

// Reads a rank file; the encoding is its file name without ".tiktoken".
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTiktokenFile(const std::string& path);

}  // namespace convgen

#endif  // CONVGEN_CORE_TOKENIZER_TIKTOKEN_H_
