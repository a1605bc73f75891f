#include "client/command_options.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/files.h"
#include "core/status_macros.h"
#include "core/tls_files.h"
#include "core/tokenizer/tokenizer_locator.h"
#include "core/tokenizer/unicode.h"

namespace convgen {

const char kUsage[] =
    "usage: convgen <command> [flags]\n"
    "  convgen generate --server ADDR --input-file CONFIG [--output FILE|-] "
    "[--seed N]\n"
    "                   [--shard K/N] [--start-index J] [--tokenizer NAME]\n"
    "                   [--format json|jsonl|jsonl-ids|openai-jsonl|sharegpt]\n"
    "                   [--model NAME] [--stream] [--min-tokens] [--ignore-eos] "
    "(openai-jsonl)\n"
    "                   [--print-stats] [--timeout SECONDS]\n"
    "                   [--report REPORT.html] [--stats-json STATS.json]\n"
    "                   [--rng philox|numpy_legacy] [--allow-outside-files]\n"
    "  convgen validate --server ADDR --input-file CONFIG [--seed N] [--shard "
    "K/N]\n"
    "                   [--start-index J] [--tokenizer NAME] [--rng "
    "philox|numpy_legacy]\n"
    "  convgen describe --server ADDR\n"
    "  convgen describe-shape --server ADDR --input-file CONFIG [--tokenizer NAME]\n"
    "                   [--tokenizer-file FILE] (the config's shape_source, as read)\n"
    "  convgen health   --server ADDR [--service NAME]\n"
    "ADDR: host:port, [v6]:port, unix:/path, or a gRPC dns:/ipv4:/ipv6: target "
    "(not http://)\n"
    "TLS: --tls-ca FILE (server CA), --tls-cert FILE --tls-key FILE (client "
    "certificate)\n"
    "--wait-for-server SECONDS: wait that long for the server to be reachable "
    "(pod start)\n"
    "convgen --help: this text and every flag; convgen <command> --help: that "
    "command's flags; convgen --version\n";

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

// A problem with a file the user named is a usage error (exit 2), as the
// other flag checks are.
absl::Status AsUsageError(const absl::Status& status) {
  return status.ok() ? status : absl::InvalidArgumentError(status.message());
}

constexpr std::pair<Format, absl::string_view> kFormats[] = {{Format::kJson, "json"},
                                                             {Format::kJsonl, "jsonl"},
                                                             {Format::kJsonlIds, "jsonl-ids"},
                                                             {Format::kOpenAiJsonl, "openai-jsonl"},
                                                             {Format::kShareGpt, "sharegpt"}};

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
  *error = "must be json, jsonl, jsonl-ids, openai-jsonl or sharegpt";
  return false;
}

std::string AbslUnparseFlag(Format format) { return NameOf(kFormats, format); }

bool AbslParseFlag(absl::string_view text, RngChoice* rng, std::string* error) {
  if (FindByName(kRngs, text, rng)) return true;
  *error = "must be philox or numpy_legacy";
  return false;
}

std::string AbslUnparseFlag(RngChoice rng) { return NameOf(kRngs, rng); }

namespace {

// Flags every command that calls the server takes.
#define CONVGEN_CONNECTION_FLAGS \
  "server", "tls_ca", "tls_cert", "tls_key", "timeout", "wait_for_server", "idle_timeout"

const CommandHelp kCommands[] = {
    {"generate",
     "convgen generate --server ADDR --input-file CONFIG [flags]: streams the config's "
     "conversations to --output",
     {CONVGEN_CONNECTION_FLAGS, "input_file", "output", "seed", "shard", "start_index", "tokenizer",
      "tokenizer_file", "rng", "format", "model", "stream", "min_tokens", "ignore_eos",
      "print_stats", "allow_outside_files", "report", "stats_json"}},
    {"validate",
     "convgen validate --server ADDR --input-file CONFIG [flags]: checks the config on the "
     "server and prints it normalised, or every problem",
     {CONVGEN_CONNECTION_FLAGS, "input_file", "seed", "shard", "start_index", "tokenizer",
      "tokenizer_file", "rng", "allow_outside_files"}},
    {"describe",
     "convgen describe --server ADDR: the server's version, tokenizers, corpora and limits",
     {CONVGEN_CONNECTION_FLAGS}},
    {"describe-shape",
     "convgen describe-shape --server ADDR --input-file CONFIG [flags]: the shape of the "
     "config's shape_source as the server reads it (records, sizes, fitted distributions)",
     {CONVGEN_CONNECTION_FLAGS, "input_file", "tokenizer", "tokenizer_file",
      "allow_outside_files"}},
    {"health",
     "convgen health --server ADDR [--service NAME]: the server's health (exit 0 if SERVING)",
     {CONVGEN_CONNECTION_FLAGS, "service"}},
};

#undef CONVGEN_CONNECTION_FLAGS

// gRPC target schemes passed on as they are.
constexpr absl::string_view kGrpcSchemes[] = {"dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:"};

constexpr double kMinSeconds = 0.001;
constexpr double kMaxSeconds = 365.0 * 24 * 3600;

}  // namespace

const CommandHelp* FindCommandHelp(absl::string_view command) {
  for (const CommandHelp& help : kCommands) {
    if (help.name == command) return &help;
  }
  return nullptr;
}

absl::Status CheckServerAddress(absl::string_view address) {
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("--server \"", address, "\": ", why));
  };
  if (address.empty()) {
    return absl::InvalidArgumentError("--server is empty: give host:port or unix:/path");
  }
  const std::string lower = absl::AsciiStrToLower(address);
  if (absl::StartsWith(lower, "http://") || absl::StartsWith(lower, "https://")) {
    return invalid("drop the scheme: --server host:port (gRPC, not HTTP)");
  }
  for (absl::string_view scheme : kGrpcSchemes) {
    if (!absl::StartsWith(lower, scheme)) continue;
    if (address.size() == scheme.size()) return invalid(absl::StrCat("nothing after ", scheme));
    return absl::OkStatus();
  }
  if (absl::StrContains(address, "://")) {
    return invalid("unknown scheme; use host:port, unix:/path or a gRPC dns:/ipv4:/ipv6: target");
  }
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return invalid("needs a port: host:port, e.g. localhost:50051");
  }
  const absl::string_view host = address.substr(0, colon);
  const absl::string_view port = address.substr(colon + 1);
  if (host.empty()) return invalid("needs a host before the port: host:port");
  // An IPv6 address is bracketed: [::1]:50051.
  if ((host.front() == '[') != (host.back() == ']') ||
      (host.front() != '[' && absl::StrContains(host, ':'))) {
    return invalid("an IPv6 address goes in brackets: [::1]:50051");
  }
  int port_number = 0;
  if (port.empty() || !absl::c_all_of(port, absl::ascii_isdigit) || port.size() > 5 ||
      !absl::SimpleAtoi(port, &port_number) || port_number < 1 || port_number > 65535) {
    return invalid("the port must be a number from 1 to 65535");
  }
  return absl::OkStatus();
}

absl::Status CheckSeconds(absl::string_view flag, double seconds) {
  if (seconds == 0) return absl::OkStatus();
  if (!std::isfinite(seconds) || seconds < kMinSeconds || seconds > kMaxSeconds) {
    char shown[32];  // as typed, not rounded to 6 digits as StrCat would
    std::snprintf(shown, sizeof(shown), "%.15g", seconds);
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " ", shown, ": must be 0 (none) or seconds from 0.001 (1 ms) to ",
                     static_cast<int64_t>(kMaxSeconds), " (a year)"));
  }
  return absl::OkStatus();
}

namespace {}  // namespace

bool SameFile(const std::string& a, const std::string& b) {
  if (a == b) return true;
  std::error_code error;
  if (std::filesystem::equivalent(a, b, error)) return true;
  // Files not made yet: the same path once "." and ".." are resolved.
  const auto canonical_a = std::filesystem::weakly_canonical(a, error);
  if (error) return false;
  const auto canonical_b = std::filesystem::weakly_canonical(b, error);
  return !error && canonical_a == canonical_b;
}

namespace {

// --report and --stats-json: files of their own (not stdout, not --output,
// not the config, not each other).
absl::Status CheckReportPaths(const CommandOptions& o) {
  for (const auto& [flag, path] : {std::pair<const char*, const std::string&>{"--report", o.report},
                                   {"--stats-json", o.stats_json}}) {
    if (path.empty()) continue;
    if (path == "-") {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " -: give a file name (stdout is --output's)"));
    }
    // Written after the whole generation: a path that cannot be written is
    // said now, not after minutes of work.
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (parent.empty()) parent = ".";
    if (!IsDirectory(parent.string())) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " ", path, ": the directory ", parent.string(), " does not exist"));
    }
    if (IsDirectory(path)) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " ", path, ": is a directory; give a file name"));
    }
    if (::access(parent.c_str(), W_OK) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": cannot write in ",
                                                     parent.string(), ": ", std::strerror(errno)));
    }
    for (const auto& [other_flag, other] :
         {std::pair<const char*, const std::string&>{"--output", o.output},
          {"--input-file", o.input_file}}) {
      if (SameFile(path, other)) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, " ", path, " is also ", other_flag, "; give it a file of its own"));
      }
    }
  }
  if (!o.report.empty() && !o.stats_json.empty() && SameFile(o.report, o.stats_json)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--report and --stats-json are both ", o.report, "; give each its own file"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckOptions(const CommandOptions& o) {
  if (o.command.empty()) return absl::InvalidArgumentError("no command");
  if (FindCommandHelp(o.command) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown command \"", o.command, "\""));
  }
  if ((o.command == "generate" || o.command == "validate" || o.command == "describe-shape") &&
      o.input_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(o.command, " needs --input-file CONFIG"));
  }
  if (o.command == "generate" && o.output.empty()) {
    return absl::InvalidArgumentError("--output is empty: give a file, or - for stdout");
  }
  if (std::error_code error; o.command == "generate" && o.output != "-" &&
                             std::filesystem::equivalent(o.input_file, o.output, error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--output ", o.output, " is the --input-file: writing would destroy the config"));
  }
  if (!o.tokenizer.empty() && !o.tokenizer_file.empty()) {
    return absl::InvalidArgumentError(
        "--tokenizer and --tokenizer-file: give one (a server tokenizer, or a file to send)");
  }
  CONVGEN_RETURN_IF_ERROR(CheckReportPaths(o));
  for (const auto& [flag, value] :
       {std::pair<const char*, const std::string&>{"--tokenizer", o.tokenizer},
        {"--model", o.model},
        {"--service", o.health_service}}) {
    if (const auto bad = unicode::FindInvalidUtf8(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": not valid UTF-8 at byte ", *bad, " (gRPC sends only UTF-8)"));
    }
  }
  if (o.format != Format::kOpenAiJsonl) {
    for (const auto& [flag, given] : {std::pair<const char*, bool>{"--model", !o.model.empty()},
                                      {"--stream", o.stream},
                                      {"--min-tokens", o.min_tokens},
                                      {"--ignore-eos", o.ignore_eos}}) {
      if (given) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, " shapes openai-jsonl request bodies; --format is ",
                         AbslUnparseFlag(o.format), " (add --format openai-jsonl)"));
      }
    }
  }
  CONVGEN_RETURN_IF_ERROR(CheckServerAddress(o.server));
  CONVGEN_RETURN_IF_ERROR(CheckSeconds("timeout", o.timeout_seconds));
  CONVGEN_RETURN_IF_ERROR(CheckSeconds("wait-for-server", o.wait_for_server_seconds));
  CONVGEN_RETURN_IF_ERROR(CheckSeconds("idle-timeout", o.idle_timeout_seconds));
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key go together (the client certificate and its "
        "key)");
  }
  // Each file as OpenSSL reads it: gRPC would take any bytes and fail at
  // the first call as "empty address list", naming no file.
  if (!o.tls_ca.empty()) {
    CONVGEN_ASSIGN_OR_RETURN(PemFile ca, ReadPemFlag("--tls-ca", o.tls_ca));
    CONVGEN_RETURN_IF_ERROR(AsUsageError(CheckCertificates(ca)));
  }
  if (!o.tls_cert.empty()) {
    CONVGEN_ASSIGN_OR_RETURN(PemFile cert, ReadPemFlag("--tls-cert", o.tls_cert));
    CONVGEN_ASSIGN_OR_RETURN(PemFile key, ReadPemFlag("--tls-key", o.tls_key));
    CONVGEN_RETURN_IF_ERROR(AsUsageError(CheckKeyPair(cert, key)));
  }
  return absl::OkStatus();
}

absl::StatusOr<PemFile> ReadPemFlag(absl::string_view flag, const std::string& path) {
  const absl::string_view kind = flag == "--tls-key" ? "PRIVATE KEY" : "CERTIFICATE";
  absl::StatusOr<PemFile> file = ReadPemFile(flag, path, kind);
  if (!file.ok()) return AsUsageError(file.status());
  return file;
}

std::string ModelOf(const CommandOptions& o) {
  if (!o.model.empty()) return o.model;
  // Only an ORG/NAME id is the name vLLM and SGLang serve the model under;
  // a bare NAME is as likely one of the server's own tokenizer names.
  if (std::count(o.tokenizer.begin(), o.tokenizer.end(), '/') != 1 ||
      !LooksLikeHfModelId(o.tokenizer)) {
    return "";
  }
  return std::string(absl::string_view(o.tokenizer).substr(0, o.tokenizer.find('@')));
}

absl::Status CheckFlagsOfCommand(absl::string_view command, const std::vector<std::string>& given) {
  const CommandHelp* help = FindCommandHelp(command);
  if (help == nullptr) return absl::OkStatus();  // CheckOptions names the command
  for (const std::string& flag : given) {
    if (flag == "version") continue;
    if (std::find(help->flags.begin(), help->flags.end(), flag) != help->flags.end()) continue;
    return absl::InvalidArgumentError(absl::StrCat("--", absl::StrReplaceAll(flag, {{"_", "-"}}),
                                                   " is not a flag of ", command, " (convgen ",
                                                   command, " --help lists its flags)"));
  }
  return absl::OkStatus();
}

}  // namespace convgen
