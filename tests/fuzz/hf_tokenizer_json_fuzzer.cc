// Fuzz target: arbitrary bytes as a tokenizer.json. Loading must succeed or
// fail with a message, never crash; a tokenizer that loads must encode and
// decode a fixed text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/tokenizer/hf_tokenizer_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto tokenizer = convgen::LoadHfTokenizerJson(text);
  if (!tokenizer.ok()) {
    if (tokenizer.status().message().empty()) std::abort();
    return 0;
  }
  std::vector<convgen::TokenId> ids;
  (*tokenizer)->Encode("Hello, world! <|end|> 123 \xC3\xA9\xE4\xB8\xAD", &ids);
  (*tokenizer)->Decode(ids);
  return 0;
}
