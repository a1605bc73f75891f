// Hand-written JSON output for the client's writer (issue 16: nlohmann's
// dump_escaped was 35% of the client's CPU). AppendJsonString writes exactly
// the bytes nlohmann::json 3.11's dump(-1, ' ', false,
// error_handler_t::replace) writes for a string, so the client's files did
// not change when the writer stopped building nlohmann objects:
//  - `"` and `\` as \" and \\; \b \f \n \r \t short; the other bytes below
//    0x20 as \u00XX with lowercase hex; `/`, DEL (0x7f) and valid UTF-8
//    as they are;
//  - invalid UTF-8 as U+FFFD (EF BF BD), one per invalid sequence, with
//    nlohmann's extent: a byte that cannot start a sequence is one; a
//    started sequence broken by a byte is one, and that byte is read again
//    as the start of the next; a sequence cut by the end of the string is
//    one. Well-formedness is decided by the same UTF-8 automaton nlohmann
//    uses (Hoehrmann's), so overlongs, surrogates (ED A0..BF) and code
//    points above U+10FFFF fail at the same byte.
// The fast path skips 8 bytes at a time while none needs attention (a
// control byte, `"`, `\` or a byte >= 0x80) and copies each such run at
// once; only non-ASCII bytes go through the automaton. Equality with
// nlohmann is tested on hostile strings (tests/unit/client/json_out_test.cc)
// and fuzzed (tests/fuzz/json_string_fuzzer.cc).
#ifndef CONVGEN_CLIENT_JSON_OUT_H_
#define CONVGEN_CLIENT_JSON_OUT_H_

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace convgen {

// Appends `s` as a JSON string, quotes included.
void AppendJsonString(std::string& out, std::string_view s);

// Appends an integer as nlohmann writes it (decimal, '-' when negative).
template <typename Int>
void AppendJsonInt(std::string& out, Int value) {
  char digits[24];
  const std::to_chars_result r = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, r.ptr);
}

}  // namespace convgen

#endif  // CONVGEN_CLIENT_JSON_OUT_H_
