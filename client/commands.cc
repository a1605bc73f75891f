#include "client/commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "client/conversation_writer.h"
#include "convgen/v1/service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"

namespace convgen {
namespace {

constexpr char kUsage[] =
    "usage:\n"
    "  convgen generate --server ADDR --input-file CONFIG [--output FILE|-] [--seed N]\n"
    "                   [--shard K/N] [--start-index J] [--tokenizer NAME]\n"
    "                   [--format json|jsonl|jsonl-ids|openai-jsonl] [--model NAME]\n"
    "                   [--print-stats] [--timeout SECONDS]\n"
    "                   [--rng philox|numpy_legacy]\n"
    "  convgen validate --server ADDR --input-file CONFIG [--seed N] [--shard K/N]\n"
    "                   [--start-index J] [--tokenizer NAME] [--rng philox|numpy_legacy]\n"
    "  convgen describe --server ADDR\n"
    "  convgen health   --server ADDR [--service NAME]\n"
    "TLS: --tls-ca FILE (server CA), --tls-cert FILE --tls-key FILE (client certificate)\n"
    "--wait-for-server SECONDS: wait that long for the server to be reachable (pod start)\n";

std::string ReadFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The TLS files were checked to be readable by ParseCommandLine.
std::shared_ptr<grpc::ChannelCredentials> MakeCredentials(const CommandOptions& o) {
  if (o.tls_ca.empty() && o.tls_cert.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  bool ok = true;
  if (!o.tls_ca.empty()) ssl.pem_root_certs = ReadFile(o.tls_ca, &ok);
  if (!o.tls_cert.empty()) ssl.pem_cert_chain = ReadFile(o.tls_cert, &ok);
  if (!o.tls_key.empty()) ssl.pem_private_key = ReadFile(o.tls_key, &ok);
  return grpc::SslCredentials(ssl);
}

// With --wait-for-server, waits (bounded) until the server is reachable, e.g.
// while its pod starts; if it never is, the call fails as it would have.
std::shared_ptr<grpc::Channel> MakeChannel(const CommandOptions& o) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  auto channel = grpc::CreateCustomChannel(o.server, MakeCredentials(o), args);
  if (o.wait_for_server_seconds > 0) {
    channel->WaitForConnected(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(o.wait_for_server_seconds * 1000)));
  }
  return channel;
}

void SetDeadline(const CommandOptions& o, grpc::ClientContext* context) {
  if (o.timeout_seconds > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1000)));
  }
}

int ServerError(const grpc::Status& status) {
  // gRPC and absl share the canonical codes and their names.
  std::fprintf(stderr, "convgen: server error %s: %s\n",
               absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())).c_str(),
               status.error_message().c_str());
  return status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? 2 : 1;
}

// Builds the request from the config file: text_files found next to the
// config are sent inline; otherwise they name server corpora.
bool BuildRequest(const CommandOptions& o, v1::GenerateRequest* request) {
  bool ok = true;
  const std::string config = ReadFile(o.input_file, &ok);
  if (!ok) {
    std::fprintf(stderr, "convgen: cannot read --input-file %s\n", o.input_file.c_str());
    return false;
  }
  request->set_config_json(config);
  request->set_seed(o.seed);
  request->mutable_shard()->set_index(o.shard_index);
  request->mutable_shard()->set_count(o.shard_count);
  request->set_start_index(o.start_index);
  request->set_tokenizer(o.tokenizer);
  request->set_include_token_ids(o.format == "jsonl-ids");
  if (o.rng == "philox") request->set_rng(v1::RNG_PHILOX);
  if (o.rng == "numpy_legacy") request->set_rng(v1::RNG_NUMPY_LEGACY);
  const nlohmann::json parsed = nlohmann::json::parse(config, nullptr, false);
  if (parsed.is_object() && parsed.contains("text_files") && parsed["text_files"].is_array()) {
    const size_t slash = o.input_file.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : o.input_file.substr(0, slash);
    std::vector<v1::InlineCorpus> inline_files;
    for (const auto& file : parsed["text_files"]) {
      if (!file.is_string()) return true;  // the server will name the problem
      bool found = false;
      std::string text = ReadFile(dir + "/" + file.get<std::string>(), &found);
      if (!found) return true;  // not all local: the server's corpora
      v1::InlineCorpus c;
      c.set_name(file.get<std::string>());
      c.set_text(std::move(text));
      inline_files.push_back(std::move(c));
    }
    for (auto& c : inline_files) *request->add_inline_corpus() = std::move(c);
  }
  return true;
}

void PrintStatistic(const char* name, const v1::Statistic& s) {
  std::fprintf(stderr, "%-22s %8lld %9.2f %9.2f %8.0f %8.2f %8.2f %8.2f %8.2f %8.2f %8.0f\n",
               name, static_cast<long long>(s.count()), s.mean(), s.std(), s.min(), s.p25(),
               s.p50(), s.p75(), s.p90(), s.p99(), s.max());
}

void PrintStats(const v1::Summary& s) {
  const char* header = "%-22s %8s %9s %9s %8s %8s %8s %8s %8s %8s %8s\n";
  std::fprintf(stderr, "Conversations statistics:\n");
  std::fprintf(stderr, header, "", "count", "mean", "std", "min", "25%", "50%", "75%", "90%",
               "99%", "max");
  PrintStatistic("conversation_turns", s.turns());
  PrintStatistic("user_tokens", s.user_tokens_per_conversation());
  PrintStatistic("assistant_tokens", s.assistant_tokens_per_conversation());
  std::fprintf(stderr, "Request statistics:\n");
  std::fprintf(stderr, header, "", "count", "mean", "std", "min", "25%", "50%", "75%", "90%",
               "99%", "max");
  PrintStatistic("request_tokens", s.request_tokens());
  std::fprintf(stderr,
               "conversations %lld, messages %lld, user tokens %lld, assistant tokens %lld, "
               "raised targets %lld, corpus wraps %lld\n",
               static_cast<long long>(s.conversations()), static_cast<long long>(s.messages()),
               static_cast<long long>(s.user_tokens()),
               static_cast<long long>(s.assistant_tokens()),
               static_cast<long long>(s.raised_targets()), static_cast<long long>(s.corpus_wraps()));
}

int Generate(const CommandOptions& o) {
  v1::GenerateRequest request;
  if (!BuildRequest(o, &request)) return 2;
  const nlohmann::json parsed = nlohmann::json::parse(request.config_json(), nullptr, false);
  // Only for the progress bar and the stats switch; the server checks the config.
  const auto member = [&](const char* key) {
    return parsed.is_object() && parsed.contains(key) ? parsed[key] : nlohmann::json();
  };
  const bool print_stats = o.print_stats || member("print_stats") == true;
  const int64_t total =
      member("num_conversations").is_number_integer() ? member("num_conversations").get<int64_t>() : 0;

  std::ofstream file;
  std::ostream* out = &std::cout;
  if (o.output != "-") {
    file.open(o.output, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::fprintf(stderr, "convgen: cannot write --output %s\n", o.output.c_str());
      return 2;
    }
    out = &file;
  }
  const OutputFormat format = o.format == "json"           ? OutputFormat::kJson
                              : o.format == "openai-jsonl" ? OutputFormat::kOpenAiJsonl
                                                           : OutputFormat::kJsonl;
  ConversationWriter writer(*out, format, o.model);
  auto stub = v1::ConversationService::NewStub(MakeChannel(o));
  grpc::ClientContext context;
  SetDeadline(o, &context);
  auto reader = stub->Generate(&context, request);
  v1::GenerateResponse response;
  v1::Summary summary;
  bool have_summary = false;
  const bool progress = isatty(STDERR_FILENO) == 1 && total > 0;
  while (reader->Read(&response)) {
    if (response.has_conversation_start()) {
      writer.Begin(response.conversation_start());
    } else if (response.has_turn()) {
      writer.Add(response.turn());
    } else if (response.has_conversation_end()) {
      writer.End(response.conversation_end());
      if (progress) {
        const int64_t done = response.conversation_end().conversation_index() + 1;
        const int width = 40;
        const int filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
        std::fprintf(stderr, "\r[%s%s] %lld/%lld", std::string(filled, '#').c_str(),
                     std::string(width - filled, ' ').c_str(), static_cast<long long>(done),
                     static_cast<long long>(total));
      }
    } else if (response.has_summary()) {
      summary = response.summary();
      have_summary = true;
    }
  }
  if (progress) std::fprintf(stderr, "\n");
  writer.Finish();
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    const int code = ServerError(status);
    const grpc::StatusCode c = status.error_code();
    const bool broke = c == grpc::StatusCode::UNAVAILABLE || c == grpc::StatusCode::CANCELLED ||
                       c == grpc::StatusCode::DEADLINE_EXCEEDED ||
                       c == grpc::StatusCode::ABORTED || c == grpc::StatusCode::INTERNAL ||
                       c == grpc::StatusCode::UNKNOWN;
    // The output holds exactly the conversations before this index.
    const uint64_t resume = writer.next_index().value_or(o.start_index);
    if (broke || writer.conversations_written() > 0) {
      std::fprintf(stderr,
                   "convgen: the stream broke after %lld complete conversations; resume with "
                   "--start-index %llu\n",
                   static_cast<long long>(writer.conversations_written()),
                   static_cast<unsigned long long>(resume));
    }
    return code;
  }
  if (print_stats && have_summary) PrintStats(summary);
  return 0;
}

int Validate(const CommandOptions& o) {
  v1::GenerateRequest request;
  if (!BuildRequest(o, &request)) return 2;
  auto stub = v1::ConversationService::NewStub(MakeChannel(o));
  grpc::ClientContext context;
  SetDeadline(o, &context);
  v1::ValidateResponse response;
  const grpc::Status status = stub->Validate(&context, request, &response);
  if (!status.ok()) return ServerError(status);
  if (!response.valid()) {
    for (const auto& p : response.problems()) {
      std::fprintf(stderr, "%s%s%s\n", p.path().c_str(), p.path().empty() ? "" : ": ",
                   p.message().c_str());
    }
    return 2;
  }
  std::printf("valid: %lld conversations, tokenizer %s, corpus %lld tokens, common prefix %lld "
              "tokens\n%s",
              static_cast<long long>(response.conversations()), response.tokenizer().c_str(),
              static_cast<long long>(response.corpus_tokens()),
              static_cast<long long>(response.common_prefix_tokens()),
              response.normalized_config_json().c_str());
  return 0;
}

int Describe(const CommandOptions& o) {
  auto stub = v1::ConversationService::NewStub(MakeChannel(o));
  grpc::ClientContext context;
  SetDeadline(o, &context);
  v1::DescribeResponse response;
  const grpc::Status status = stub->Describe(&context, v1::DescribeRequest(), &response);
  if (!status.ok()) return ServerError(status);
  std::printf("convgen-server %s\ntokenizers:\n", response.version().c_str());
  for (const auto& t : response.tokenizers()) {
    std::printf("  %s%s: %s\n", t.name().c_str(), t.is_default() ? " (default)" : "",
                t.description().c_str());
  }
  std::printf("corpora:\n");
  for (const auto& c : response.corpora()) std::printf("  %s\n", c.c_str());
  const auto& l = response.limits();
  std::printf("limits: %lld conversations per request, %lld concurrent streams, %lld inline "
              "corpus bytes, %lld message bytes\n",
              static_cast<long long>(l.max_conversations_per_request()),
              static_cast<long long>(l.max_concurrent_streams()),
              static_cast<long long>(l.max_inline_corpus_bytes()),
              static_cast<long long>(l.max_message_bytes()));
  return 0;
}

int Health(const CommandOptions& o) {
  auto stub = grpc::health::v1::Health::NewStub(MakeChannel(o));
  grpc::ClientContext context;
  SetDeadline(o, &context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(o.health_service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return ServerError(status);
  std::printf("%s\n", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()).c_str());
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

}  // namespace

int RunCommand(const CommandOptions& o) {
  if (o.command == "generate") return Generate(o);
  if (o.command == "validate") return Validate(o);
  if (o.command == "describe") return Describe(o);
  return Health(o);
}

std::optional<CommandOptions> ParseCommandLine(int argc, char** argv) {
  CommandOptions o;
  const auto fail = [](const std::string& why) -> std::optional<CommandOptions> {
    std::fprintf(stderr, "convgen: %s\n%s", why.c_str(), kUsage);
    return std::nullopt;
  };
  if (argc < 2) return fail("no command");
  o.command = argv[1];
  if (o.command != "generate" && o.command != "validate" && o.command != "describe" &&
      o.command != "health") {
    return fail(absl::StrCat("unknown command \"", o.command, "\""));
  }
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    if (const size_t eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    } else if (flag != "--print-stats") {
      if (i + 1 >= argc) return fail(absl::StrCat(flag, " needs a value"));
      value = argv[++i];
    }
    const auto number = [&](uint64_t* out) {
      return absl::SimpleAtoi(value, out);
    };
    if (flag == "--server") {
      o.server = value;
    } else if (flag == "--input-file") {
      o.input_file = value;
    } else if (flag == "--output") {
      o.output = value;
    } else if (flag == "--seed") {
      if (!number(&o.seed)) return fail("--seed must be a non-negative integer");
    } else if (flag == "--start-index") {
      if (!number(&o.start_index)) return fail("--start-index must be a non-negative integer");
    } else if (flag == "--shard") {
      const std::vector<std::string> parts = absl::StrSplit(value, '/');
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &o.shard_index) ||
          !absl::SimpleAtoi(parts[1], &o.shard_count) || o.shard_count == 0 ||
          o.shard_index >= o.shard_count) {
        return fail("--shard must be K/N with 0 <= K < N, e.g. 0/4");
      }
    } else if (flag == "--tokenizer") {
      o.tokenizer = value;
    } else if (flag == "--format") {
      if (value != "json" && value != "jsonl" && value != "jsonl-ids" && value != "openai-jsonl") {
        return fail("--format must be json, jsonl, jsonl-ids or openai-jsonl");
      }
      o.format = value;
    } else if (flag == "--model") {
      o.model = value;
    } else if (flag == "--print-stats") {
      o.print_stats = true;
    } else if (flag == "--service") {
      o.health_service = value;
    } else if (flag == "--timeout") {
      if (!absl::SimpleAtod(value, &o.timeout_seconds)) return fail("--timeout must be seconds");
    } else if (flag == "--rng") {
      if (value != "philox" && value != "numpy_legacy") {
        return fail("--rng must be philox or numpy_legacy");
      }
      o.rng = value;
    } else if (flag == "--wait-for-server") {
      if (!absl::SimpleAtod(value, &o.wait_for_server_seconds) || o.wait_for_server_seconds < 0) {
        return fail("--wait-for-server must be seconds");
      }
    } else if (flag == "--tls-ca") {
      o.tls_ca = value;
    } else if (flag == "--tls-cert") {
      o.tls_cert = value;
    } else if (flag == "--tls-key") {
      o.tls_key = value;
    } else {
      return fail(absl::StrCat("unknown flag ", flag));
    }
  }
  if ((o.command == "generate" || o.command == "validate") && o.input_file.empty()) {
    return fail(absl::StrCat(o.command, " needs --input-file CONFIG"));
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return fail("--tls-cert and --tls-key go together (the client certificate and its key)");
  }
  for (const auto& [flag, path] : {std::pair<const char*, const std::string&>{"--tls-ca", o.tls_ca},
                                   {"--tls-cert", o.tls_cert}, {"--tls-key", o.tls_key}}) {
    bool readable = true;
    if (!path.empty()) ReadFile(path, &readable);
    if (!readable) return fail(absl::StrCat("cannot read ", flag, " ", path));
  }
  return o;
}

}  // namespace convgen
