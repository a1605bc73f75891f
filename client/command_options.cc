#include "client/command_options.h"

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/files.h"

namespace convgen {

const char kUsage[] =
    "usage: convgen <command> [flags]\n"
    "  convgen generate --server ADDR --input-file CONFIG [--output FILE|-] "
    "[--seed N]\n"
    "                   [--shard K/N] [--start-index J] [--tokenizer NAME]\n"
    "                   [--format json|jsonl|jsonl-ids|openai-jsonl] [--model "
    "NAME]\n"
    "                   [--print-stats] [--timeout SECONDS]\n"
    "                   [--rng philox|numpy_legacy]\n"
    "  convgen validate --server ADDR --input-file CONFIG [--seed N] [--shard "
    "K/N]\n"
    "                   [--start-index J] [--tokenizer NAME] [--rng "
    "philox|numpy_legacy]\n"
    "  convgen describe --server ADDR\n"
    "  convgen health   --server ADDR [--service NAME]\n"
    "TLS: --tls-ca FILE (server CA), --tls-cert FILE --tls-key FILE (client "
    "certificate)\n"
    "--wait-for-server SECONDS: wait that long for the server to be reachable "
    "(pod start)\n"
    "convgen --help, convgen <command> --help: this text and every flag; "
    "convgen --version\n";

bool AbslParseFlag(absl::string_view text, Shard* shard, std::string* error) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '/');
  Shard parsed;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &parsed.index) ||
      !absl::SimpleAtoi(parts[1], &parsed.count) || parsed.index >= parsed.count) {
    *error = "must be K/N with 0 <= K < N, e.g. 0/4";
    return false;
  }
  *shard = parsed;
  return true;
}

std::string AbslUnparseFlag(const Shard& shard) {
  return absl::StrCat(shard.index, "/", shard.count);
}

namespace {

constexpr std::pair<Format, absl::string_view> kFormats[] = {
    {Format::kJson, "json"},
    {Format::kJsonl, "jsonl"},
    {Format::kJsonlIds, "jsonl-ids"},
    {Format::kOpenAiJsonl, "openai-jsonl"}};

// "" keeps the config's rng, so that the flag's default prints as empty.
constexpr std::pair<RngChoice, absl::string_view> kRngs[] = {
    {RngChoice::kConfig, ""},
    {RngChoice::kPhilox, "philox"},
    {RngChoice::kNumpyLegacy, "numpy_legacy"}};

// An enum flag's value by its name in `table`, and back.
template <class E, size_t N>
bool FindByName(const std::pair<E, absl::string_view> (&table)[N], absl::string_view name,
                E* value) {
  for (const auto& [v, n] : table) {
    if (n == name) {
      *value = v;
      return true;
    }
  }
  return false;
}

template <class E, size_t N>
std::string NameOf(const std::pair<E, absl::string_view> (&table)[N], E value) {
  for (const auto& [v, n] : table) {
    if (v == value) return std::string(n);
  }
  return "";
}

}  // namespace

bool AbslParseFlag(absl::string_view text, Format* format, std::string* error) {
  if (FindByName(kFormats, text, format)) return true;
  *error = "must be json, jsonl, jsonl-ids or openai-jsonl";
  return false;
}

std::string AbslUnparseFlag(Format format) { return NameOf(kFormats, format); }

bool AbslParseFlag(absl::string_view text, RngChoice* rng, std::string* error) {
  if (FindByName(kRngs, text, rng)) return true;
  *error = "must be philox or numpy_legacy";
  return false;
}

std::string AbslUnparseFlag(RngChoice rng) { return NameOf(kRngs, rng); }

absl::Status CheckOptions(const CommandOptions& o) {
  if (o.command.empty()) return absl::InvalidArgumentError("no command");
  if (o.command != "generate" && o.command != "validate" && o.command != "describe" &&
      o.command != "health") {
    return absl::InvalidArgumentError(absl::StrCat("unknown command \"", o.command, "\""));
  }
  if ((o.command == "generate" || o.command == "validate") && o.input_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(o.command, " needs --input-file CONFIG"));
  }
  if (o.wait_for_server_seconds < 0) {
    return absl::InvalidArgumentError("--wait-for-server must be seconds (>= 0)");
  }
  if (!(o.idle_timeout_seconds >= 0 && o.idle_timeout_seconds <= 1e6)) {
    return absl::InvalidArgumentError("--idle-timeout must be seconds in [0, 1e6] (0: no limit)");
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key go together (the client certificate and its "
        "key)");
  }
  for (const auto& [flag, path] : {std::pair<const char*, const std::string&>{"--tls-ca", o.tls_ca},
                                   {"--tls-cert", o.tls_cert},
                                   {"--tls-key", o.tls_key}}) {
    if (path.empty()) continue;
    if (const auto read = ReadFileToString(path); !read.ok()) {
      // The message is "PATH: reason".
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read ", flag, " ", read.status().message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace convgen
