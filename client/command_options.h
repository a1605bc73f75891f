// CommandOptions: what a convgen command was asked to do, and the flag types
// it is parsed from (absl flags in client/main.cc; each type parses itself
// with AbslParseFlag, so a bad value is refused naming the flag).
#ifndef CONVGEN_CLIENT_COMMAND_OPTIONS_H_
#define CONVGEN_CLIENT_COMMAND_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/tls_files.h"

namespace convgen {

// --shard K/N: the conversations i with i % N == K; 0 <= K < N.
struct Shard {
  uint64_t index = 0;
  uint64_t count = 1;
};
bool AbslParseFlag(absl::string_view text, Shard* shard, std::string* error);
std::string AbslUnparseFlag(const Shard& shard);

// --format: the output format; kJsonlIds is kJsonl with each message's token
// ids.
enum class Format { kJson, kJsonl, kJsonlIds, kOpenAiJsonl, kShareGpt };
bool AbslParseFlag(absl::string_view text, Format* format, std::string* error);
std::string AbslUnparseFlag(Format format);

// --rng: overrides the config's random number generator; kConfig keeps it.
enum class RngChoice { kConfig, kPhilox, kNumpyLegacy };
bool AbslParseFlag(absl::string_view text, RngChoice* rng, std::string* error);
std::string AbslUnparseFlag(RngChoice rng);

struct CommandOptions {
  std::string command;  // generate, validate, describe, describe-shape, health
  std::string server = "localhost:50051";
  std::string input_file;
  std::string output = "-";
  uint64_t seed = 0;
  Shard shard;
  uint64_t start_index = 0;
  std::string tokenizer;
  std::string tokenizer_file;  // a tokenizer.json sent with the request
  RngChoice rng = RngChoice::kConfig;
  Format format = Format::kJson;
  // openai-jsonl only: each body's model (see ModelOf), "stream", "min_tokens"
  // and "ignore_eos".
  std::string model;
  bool stream = false;
  bool min_tokens = false;
  bool ignore_eos = false;
  bool print_stats = false;
  // generate: the workload report (HTML) and its numbers (JSON); "" for none.
  std::string report, stats_json;
  std::string health_service;  // for health
  std::string tls_ca, tls_cert, tls_key;
  double timeout_seconds = 0;          // 0: no deadline
  double wait_for_server_seconds = 0;  // how long to wait for the server to be reachable
  // Read text_files that are absolute or climb out of the config's directory.
  bool allow_outside_files = false;
  double idle_timeout_seconds = 60;  // generate: longest wait for a message; 0: none
};

// The usage text printed on a usage error and with --help.
extern const char kUsage[];

// A command's synopsis and the flags it takes (absl names, with
// underscores), for `convgen COMMAND --help`. Null if there is no such
// command.
struct CommandHelp {
  absl::string_view name;
  absl::string_view synopsis;
  std::vector<absl::string_view> flags;
};
const CommandHelp* FindCommandHelp(absl::string_view command);

// Checks --server: host:port (port 1..65535; [v6]:port), unix:/path,
// unix-abstract:name, or a gRPC dns:/ipv4:/ipv6: target. InvalidArgument
// says the rule; for http:// and https:// it says to drop the scheme.
absl::Status CheckServerAddress(absl::string_view address);

// Seconds for a deadline or a wait: 0 is none; otherwise finite, at least
// 1 ms and at most a year. InvalidArgument naming `flag` says the rule.
absl::Status CheckSeconds(absl::string_view flag, double seconds);

// The largest --tokenizer-file read (the largest known tokenizer.json files
// are tens of MiB; the server's --max-request-tokenizer-bytes bounds it too).
inline constexpr int64_t kMaxTokenizerFileBytes = int64_t{1} << 30;

// Reads the PEM file given to `flag` (--tls-ca, --tls-cert: a CERTIFICATE;
// --tls-key: a PRIVATE KEY; see ReadPemFile); InvalidArgument naming the
// flag, the file and why otherwise (a FIFO or /dev/zero must not hang or
// exhaust the client).
absl::StatusOr<PemFile> ReadPemFlag(absl::string_view flag, const std::string& path);

// The model of each openai-jsonl body: --model, or else the --tokenizer when
// it is a Hugging Face model id (ORG/NAME, an @REVISION dropped), the name
// vLLM and SGLang serve a model under by default; else "" (no "model" key:
// vLLM then uses the model it serves).
std::string ModelOf(const CommandOptions& options);

// Whether paths a and b name the same file: equal, the same existing file
// (links included), or the same path once "." and ".." are resolved.
bool SameFile(const std::string& a, const std::string& b);

// Refuses a flag given on the command line that `command` does not take
// (`describe --seed 3` would be silently ignored). `given` are absl names.
absl::Status CheckFlagsOfCommand(absl::string_view command, const std::vector<std::string>& given);

// Checks what single flags cannot: a known command, the flags it needs, flags
// that go together, the server address, durations, readable TLS files.
// InvalidArgument says what is wrong.
absl::Status CheckOptions(const CommandOptions& options);

}  // namespace convgen

#endif  // CONVGEN_CLIENT_COMMAND_OPTIONS_H_
