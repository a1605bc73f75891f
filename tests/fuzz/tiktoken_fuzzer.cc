// Fuzz target: arbitrary bytes as a tiktoken rank file (cl100k_base
// pattern). Loading succeeds or fails with a message; a loaded tokenizer
// encodes a fixed text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/tokenizer/tiktoken.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto tokenizer = convgen::LoadTiktoken(text, "cl100k_base");
  if (!tokenizer.ok()) {
    if (tokenizer.status().message().empty()) std::abort();
    return 0;
  }
  std::vector<convgen::TokenId> ids;
  (*tokenizer)->Encode("Hello, world! <|endoftext|> 12345", &ids);
  return 0;
}
