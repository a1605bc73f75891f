// convgen: the command-line client. Parses flags into CommandOptions and runs
// the command (client/commands.h); `convgen <command> [flags]`.
#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "client/command_options.h"
#include "client/commands.h"
#include "core/cli/flags.h"

ABSL_FLAG(std::string, server, "localhost:50051", "host:port or unix:/path of convgen-server");
ABSL_FLAG(std::string, input_file, "", "The config (vLLM's generate_multi_turn.json format)");
ABSL_FLAG(std::string, output, "-", "Where generate writes; - is stdout");
ABSL_FLAG(uint64_t, seed, 0, "Seed of every random draw");
ABSL_FLAG(convgen::Shard, shard, convgen::Shard(),
          "K/N: only the conversations i with i % N == K (0 <= K < N)");
ABSL_FLAG(uint64_t, start_index, 0, "First conversation index (to resume a broken stream)");
ABSL_FLAG(std::string, tokenizer, "",
          "Server tokenizer name, or a Hugging Face model id in the server's cache; empty: the "
          "server's default");
ABSL_FLAG(std::string, tokenizer_file, "",
          "A local tokenizer.json to send with the request (instead of --tokenizer)");
ABSL_FLAG(convgen::RngChoice, rng, convgen::RngChoice::kConfig,
          "philox or numpy_legacy, overriding the config's rng");
ABSL_FLAG(convgen::Format, format, convgen::Format::kJson,
          "json, jsonl, jsonl-ids, openai-jsonl or sharegpt");
ABSL_FLAG(std::string, model, "",
          "openai-jsonl: model of each request body; empty: the --tokenizer if it is a "
          "Hugging Face model id (ORG/NAME), else none (the server's model)");
ABSL_FLAG(bool, stream, false,
          "openai-jsonl: \"stream\": true and \"stream_options\": {\"include_usage\": true}");
ABSL_FLAG(bool, min_tokens, false,
          "openai-jsonl: \"min_tokens\" = max_tokens (vLLM), so answers have their length");
ABSL_FLAG(bool, ignore_eos, false, "openai-jsonl: \"ignore_eos\": true (vLLM)");
ABSL_FLAG(bool, print_stats, false, "Print the statistics tables to stderr");
ABSL_FLAG(std::string, report, "",
          "generate: write the workload report (one self-contained HTML file: histograms, "
          "statistics, config) to this file");
ABSL_FLAG(std::string, stats_json, "",
          "generate: write the report's statistics and histogram bins as JSON to this file");
ABSL_FLAG(std::string, service, "", "Service name health asks about; empty: the server");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA of the server's certificate (enables TLS)");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate (with --tls-key)");
ABSL_FLAG(std::string, tls_key, "", "PEM client private key (with --tls-cert)");
ABSL_FLAG(double, timeout, 0, "Deadline of the call in seconds (0.001 to a year); 0: none");
ABSL_FLAG(double, wait_for_server, 0,
          "Seconds to wait for the server to be reachable (0.001 to a year); 0: don't wait");
ABSL_FLAG(bool, allow_outside_files, false,
          "Read text_files that are absolute paths or climb out of the config's directory "
          "with ..");
ABSL_FLAG(double, idle_timeout, 60,
          "Give up (exit 1) when no message came for this many seconds (0.001 to a year): "
          "generate prints the resume index; validate, describe and health use it as their "
          "deadline when --timeout is 0; 0: never");
ABSL_FLAG(bool, version, false, "Print the version and exit");

namespace {

// The reason, then one line pointing at the help (the whole usage would bury
// the reason).
int UsageError(const std::string& why) {
  std::fprintf(stderr,
               "convgen: %s\nusage: convgen <command> [flags]; convgen --help lists the commands, "
               "convgen <command> --help that command's flags\n",
               why.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const auto command_line = convgen::cli::ParseFlags(argc, argv, /*max_positional=*/1);
  if (!command_line.ok()) {
    return UsageError(std::string(command_line.status().message()));
  }
  if (command_line->help) {
    // `convgen COMMAND --help`: that command's flags; otherwise every flag.
    const convgen::CommandHelp* command =
        command_line->positional.empty() ? nullptr
                                         : convgen::FindCommandHelp(command_line->positional[0]);
    if (command != nullptr) {
      std::printf("usage: %s\nflags:\n%s", std::string(command->synopsis).c_str(),
                  convgen::cli::FlagsHelp("client/main.cc", command->flags).c_str());
    } else {
      std::printf("%sflags:\n%s", convgen::kUsage,
                  convgen::cli::FlagsHelp("client/main.cc").c_str());
    }
    return 0;
  }
  if (absl::GetFlag(FLAGS_version)) {
    std::printf("convgen %s\n", CONVGEN_VERSION);
    return 0;
  }

  convgen::CommandOptions options;
  if (!command_line->positional.empty()) {
    options.command = command_line->positional[0];
  }
  options.server = absl::GetFlag(FLAGS_server);
  options.input_file = absl::GetFlag(FLAGS_input_file);
  options.output = absl::GetFlag(FLAGS_output);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.shard = absl::GetFlag(FLAGS_shard);
  options.start_index = absl::GetFlag(FLAGS_start_index);
  options.tokenizer = absl::GetFlag(FLAGS_tokenizer);
  options.tokenizer_file = absl::GetFlag(FLAGS_tokenizer_file);
  options.rng = absl::GetFlag(FLAGS_rng);
  options.format = absl::GetFlag(FLAGS_format);
  options.model = absl::GetFlag(FLAGS_model);
  options.stream = absl::GetFlag(FLAGS_stream);
  options.min_tokens = absl::GetFlag(FLAGS_min_tokens);
  options.ignore_eos = absl::GetFlag(FLAGS_ignore_eos);
  options.print_stats = absl::GetFlag(FLAGS_print_stats);
  options.report = absl::GetFlag(FLAGS_report);
  options.stats_json = absl::GetFlag(FLAGS_stats_json);
  options.health_service = absl::GetFlag(FLAGS_service);
  options.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.timeout_seconds = absl::GetFlag(FLAGS_timeout);
  options.wait_for_server_seconds = absl::GetFlag(FLAGS_wait_for_server);
  options.allow_outside_files = absl::GetFlag(FLAGS_allow_outside_files);
  options.idle_timeout_seconds = absl::GetFlag(FLAGS_idle_timeout);
  if (const absl::Status checked =
          convgen::CheckFlagsOfCommand(options.command, command_line->given);
      !checked.ok()) {
    return UsageError(std::string(checked.message()));
  }
  // A flag given an empty value would be taken as not given.
  for (const auto& [flag, value] :
       {std::pair<const char*, const std::string&>{"model", options.model},
        {"tokenizer_file", options.tokenizer_file},
        {"report", options.report},
        {"stats_json", options.stats_json}}) {
    if (value.empty() && std::find(command_line->given.begin(), command_line->given.end(), flag) !=
                             command_line->given.end()) {
      return UsageError(absl::StrCat("--", absl::StrReplaceAll(flag, {{"_", "-"}}),
                                     " is empty: give a value, or leave the flag out"));
    }
  }
  if (const absl::Status checked = convgen::CheckOptions(options); !checked.ok()) {
    return UsageError(std::string(checked.message()));
  }
  return convgen::RunCommand(options);
}
