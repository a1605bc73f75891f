// Golden files: outputs pinned as readable text under tests/fixtures/golden/.
// A mismatch fails with a unified diff of the pinned text against the actual
// one; with CONVGEN_UPDATE_GOLDEN=1 in the environment the files are rewritten
// instead of compared (then review them with `git diff` and commit).
#ifndef CONVGEN_TESTS_TESTING_GOLDEN_H_
#define CONVGEN_TESTS_TESTING_GOLDEN_H_

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "core/sha256.h"
#include "gtest/gtest.h"
#include "tests/testing/files.h"

namespace convgen::testing {

// True iff CONVGEN_UPDATE_GOLDEN=1: golden files are written, not compared.
inline bool UpdatingGolden() {
  const char* value = getenv("CONVGEN_UPDATE_GOLDEN");
  return value != nullptr && absl::string_view(value) == "1";
}

inline std::vector<absl::string_view> GoldenLines(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// A one-hunk diff from the first to the last differing line, with 3 lines of
// context: the fallback when `diff` cannot be run.
inline std::string LineDiff(absl::string_view expected, absl::string_view actual) {
  const std::vector<absl::string_view> a = GoldenLines(expected);
  const std::vector<absl::string_view> b = GoldenLines(actual);
  size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  const size_t begin = prefix >= 3 ? prefix - 3 : 0;
  const size_t a_end = std::min(a.size(), a.size() - suffix + 3);
  const size_t b_end = std::min(b.size(), b.size() - suffix + 3);
  std::string out = absl::StrCat("@@ -", begin + 1, ",", a_end - begin, " +", begin + 1, ",",
                                 b_end - begin, " @@\n");
  for (size_t i = begin; i < prefix; ++i) absl::StrAppend(&out, " ", a[i], "\n");
  for (size_t i = prefix; i < a.size() - suffix; ++i) absl::StrAppend(&out, "-", a[i], "\n");
  for (size_t i = prefix; i < b.size() - suffix; ++i) absl::StrAppend(&out, "+", b[i], "\n");
  for (size_t i = a.size() - suffix; i < a_end; ++i) absl::StrAppend(&out, " ", a[i], "\n");
  return out;
}

// Returns `diff -u` of expected against actual (labelled with the golden
// file's path), cut to its first `max_lines` lines.
inline std::string UnifiedDiff(const std::string& expected, const std::string& actual,
                               const std::string& label, size_t max_lines = 80) {
  std::string diff;
  const std::string dir = ::testing::TempDir();
  std::string paths[2] = {dir + "golden-expected-XXXXXX", dir + "golden-actual-XXXXXX"};
  const std::string* texts[2] = {&expected, &actual};
  bool written = true;
  for (int i = 0; i < 2; ++i) {
    const int fd = mkstemp(paths[i].data());
    if (fd < 0) {
      written = false;
      continue;
    }
    written =
        write(fd, texts[i]->data(), texts[i]->size()) == static_cast<ssize_t>(texts[i]->size()) &&
        written;
    close(fd);
  }
  if (written) {
    const std::string command =
        absl::StrCat("diff -u --label '", label, " (golden)' --label '", label, " (actual)' '",
                     paths[0], "' '", paths[1], "' 2>&1");
    if (FILE* pipe = popen(command.c_str(), "r")) {
      char buffer[4096];
      size_t n;
      while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) diff.append(buffer, n);
      const int status = pclose(pipe);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 1) diff.clear();  // 1: they differ
    }
  }
  for (const std::string& path : paths) unlink(path.c_str());
  if (diff.empty())
    diff = absl::StrCat("--- ", label, " (golden)\n+++ ", label, " (actual)\n",
                        LineDiff(expected, actual));
  const std::vector<absl::string_view> lines = GoldenLines(diff);
  if (lines.size() <= max_lines) return diff;
  std::string cut;
  for (size_t i = 0; i < max_lines; ++i) absl::StrAppend(&cut, lines[i], "\n");
  absl::StrAppend(&cut, "... ", lines.size() - max_lines, " more diff lines\n");
  return cut;
}

// Compares `actual` with the golden file at `relative_path` (under the source
// tree); with CONVGEN_UPDATE_GOLDEN=1, writes `actual` there instead.
inline ::testing::AssertionResult MatchesGoldenFile(const std::string& relative_path,
                                                    const std::string& actual) {
  const std::string path = std::string(CONVGEN_SOURCE_DIR) + "/" + relative_path;
  if (UpdatingGolden()) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << actual;
    out.close();
    if (!out) return ::testing::AssertionFailure() << "cannot write " << path;
    std::cerr << "CONVGEN_UPDATE_GOLDEN=1: wrote " << relative_path << "\n";
    return ::testing::AssertionSuccess();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ::testing::AssertionFailure()
           << "no golden file " << relative_path
           << "; create it with CONVGEN_UPDATE_GOLDEN=1 in the environment";
  }
  const std::string expected = ReadSourceFile(relative_path);
  if (expected == actual) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "the output differs from " << relative_path << ":\n"
         << UnifiedDiff(expected, actual, relative_path)
         << "If the change is intended (it changes users' workloads), rewrite "
            "the golden "
            "files with CONVGEN_UPDATE_GOLDEN=1 and review them with git diff.";
}

// The first `max_chars` characters of `text`, quoted, with newlines, tabs,
// quotes, backslashes and other control bytes escaped.
inline std::string QuotedPrefix(absl::string_view text, size_t max_chars) {
  std::string out = "\"";
  size_t chars = 0;
  size_t i = 0;
  while (i < text.size() && chars < max_chars) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const size_t length = byte < 0x80           ? 1
                          : (byte >> 5) == 0x6  ? 2
                          : (byte >> 4) == 0xE  ? 3
                          : (byte >> 3) == 0x1E ? 4
                                                : 0;
    if (length == 0 || i + length > text.size()) {  // not UTF-8: show the byte
      absl::StrAppend(&out, "\\x", absl::Hex(byte, absl::kZeroPad2));
      ++i;
    } else if (byte == '\n') {
      out += "\\n", ++i;
    } else if (byte == '\t') {
      out += "\\t", ++i;
    } else if (byte == '\\' || byte == '"') {
      out += '\\', out += text[i++];
    } else if (byte < 0x20 || byte == 0x7F) {
      absl::StrAppend(&out, "\\x", absl::Hex(byte, absl::kZeroPad2));
      ++i;
    } else {
      out.append(text.data() + i, length);
      i += length;
    }
    ++chars;
  }
  out += i < text.size() ? "\"..." : "\"";
  return out;
}

// One serialized message of testing::Serialize: the first five tab-separated
// fields (id, turn/turns, role, num_tokens, max_tokens), then the content.
struct SerializedMessage {
  std::vector<absl::string_view> fields;
  std::string content;
};

// True iff `line` starts a message:
// "CONV_ID_<i>\t<k>/<n>\t<role>\t<int>\t<int>\t".
inline bool StartsSerializedMessage(absl::string_view line) {
  if (line.substr(0, 8) != "CONV_ID_") return false;
  const std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits('\t', 5));
  if (fields.size() < 6) return false;
  const auto is_int = [](absl::string_view s) {
    if (!s.empty() && s[0] == '-') s.remove_prefix(1);
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  const size_t slash = fields[1].find('/');
  return slash != absl::string_view::npos && is_int(fields[1].substr(0, slash)) &&
         is_int(fields[1].substr(slash + 1)) && (fields[2] == "user" || fields[2] == "assistant") &&
         is_int(fields[3]) && is_int(fields[4]);
}

// Splits testing::Run::serialized back into messages. A content line that
// happens to look like a message start would split a message in two; the
// golden file's whole-run digest still pins the bytes.
inline std::vector<SerializedMessage> ParseSerializedRun(absl::string_view serialized) {
  std::vector<SerializedMessage> messages;
  for (absl::string_view line : GoldenLines(serialized)) {
    if (StartsSerializedMessage(line)) {
      std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits('\t', 5));
      SerializedMessage message;
      message.content = std::string(fields[5]);
      fields.pop_back();
      message.fields = std::move(fields);
      messages.push_back(std::move(message));
    } else if (!messages.empty()) {
      absl::StrAppend(&messages.back().content, "\n", line);
    } else {
      messages.push_back({{}, std::string(line)});  // not in the expected form
    }
  }
  // Serialize ends every message with one newline of its own, so the content
  // is exactly the lines between two message starts, joined by newlines.
  return messages;
}

// The readable golden text of a run: a header with the sha256 of the whole
// serialized run (the byte-for-byte pin), then one line per message (id,
// turn/turns, role, num_tokens, max_tokens, content bytes, the first 16 hex
// digits of the content's sha256, its first 60 characters), a blank line
// between conversations.
inline std::string DescribeSerializedRun(const std::string& title, const std::string& serialized) {
  const std::vector<SerializedMessage> messages = ParseSerializedRun(serialized);
  std::string out =
      absl::StrCat("# ", title, "\n",
                   "# Rewrite: CONVGEN_UPDATE_GOLDEN=1 build/dev/tests/golden_test. A "
                   "change here changes\n"
                   "# every workload users have generated with this config and seed.\n",
                   "run sha256=", Sha256Hex(serialized), " bytes=", serialized.size(),
                   " messages=", messages.size(), "\n",
                   "# "
                   "id\tturn/turns\trole\tnum_tokens\tmax_tokens\tbytes\tsha256[:16]\tfirst "
                   "60 characters\n");
  absl::string_view previous_id;
  for (const SerializedMessage& m : messages) {
    const absl::string_view id = m.fields.empty() ? absl::string_view() : m.fields[0];
    if (!previous_id.empty() && id != previous_id) out += "\n";
    previous_id = id;
    absl::StrAppend(&out, absl::StrJoin(m.fields, "\t"), m.fields.empty() ? "" : "\t",
                    m.content.size(), "\t", Sha256Hex(m.content).substr(0, 16), "\t",
                    QuotedPrefix(m.content, 60), "\n");
  }
  return out;
}

}  // namespace convgen::testing

#endif  // CONVGEN_TESTS_TESTING_GOLDEN_H_
