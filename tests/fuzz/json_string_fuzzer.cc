// Fuzz target: arbitrary bytes through the client's JSON string escaper
// (client/json_out.h) must give exactly nlohmann's dump with
// error_handler_t::replace, the output the client wrote before.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "client/json_out.h"
#include "nlohmann/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string ours;
  convgen::AppendJsonString(ours, text);
  const std::string theirs =
      nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (ours != theirs) std::abort();
  return 0;
}
