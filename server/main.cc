// convgen-server: parses flags and wires the workspace, the service, health,
// reflection, metrics and signal handling together. All logic lives in the
// libraries the tests link.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "prometheus/exposer.h"
#include "server/conversation_service.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, corpus_dir, "", "Directory whose files requests may name in text_files");
ABSL_FLAG(std::string, data_dir, "",
          "convgen's data/ directory (embedded tokenizer and corpus); default: "
          "$CONVGEN_DATA_DIR, else the build's source tree");
ABSL_FLAG(std::string, metrics_listen, "", "host:port for Prometheus metrics (text format)");
ABSL_FLAG(int64_t, max_conversations_per_request, 1000000, "Limit per request");
ABSL_FLAG(int64_t, max_concurrent_streams, 256, "Generate streams served at once");
ABSL_FLAG(int64_t, max_inline_corpus_bytes, 64 << 20, "Largest inline corpus per request");
ABSL_FLAG(int64_t, max_message_bytes, 16 << 20,
          "Largest generated message text; token targets above it are refused up front");
ABSL_FLAG(int64_t, max_messages_per_conversation, 65536, "Messages (num_turns) per conversation");
ABSL_FLAG(double, drain_seconds, 25, "On SIGTERM/SIGINT, how long open streams may finish");
ABSL_FLAG(std::string, log_format, "text", "text or json");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error");
ABSL_FLAG(std::string, tls_cert, "", "PEM server certificate (enables TLS)");
ABSL_FLAG(std::string, tls_key, "", "PEM server private key");
ABSL_FLAG(std::string, tls_client_ca, "", "PEM CA that client certificates must chain to (mTLS)");
ABSL_FLAG(bool, version, false, "Print the version and exit");

namespace {

// After the drain deadline, how long stopped streams get to deliver their
// UNAVAILABLE status (behind the message already in flight) before Shutdown
// cancels the rest.
constexpr std::chrono::milliseconds kStopGrace(2000);

// --listen and --tokenizer may be given several times; absl keeps only the
// last, so they are taken out of argv first.
std::vector<std::string> TakeRepeatedFlag(std::vector<char*>& args, const std::string& name) {
  std::vector<std::string> values;
  const std::string eq = "--" + name + "=", bare = "--" + name;
  for (size_t i = 1; i < args.size();) {
    const std::string arg = args[i];
    if (absl::StartsWith(arg, eq)) {
      values.push_back(arg.substr(eq.size()));
      args.erase(args.begin() + i);
    } else if (arg == bare && i + 1 < args.size()) {
      values.push_back(args[i + 1]);
      args.erase(args.begin() + i, args.begin() + i + 2);
    } else {
      ++i;
    }
  }
  return values;
}

// Flags are spelled with dashes (--metrics-listen); absl names them with
// underscores.
void UnderscoreFlagNames(std::vector<char*>& args, std::vector<std::string>& storage) {
  storage.reserve(args.size());
  for (size_t i = 1; i < args.size(); ++i) {
    std::string arg = args[i];
    if (!absl::StartsWith(arg, "--")) continue;
    const size_t end = std::min(arg.find('='), arg.size());
    for (size_t c = 2; c < end; ++c) {
      if (arg[c] == '-') arg[c] = '_';
    }
    storage.push_back(std::move(arg));
    args[i] = storage.back().data();
  }
}

std::string ReadPem(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void SetUpLogging() {
  // Logs go to stderr; stdout carries only the "listening on" lines.
  spdlog::set_default_logger(spdlog::stderr_color_mt("convgen"));
  if (absl::GetFlag(FLAGS_log_format) == "json") {
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","message":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  }
  spdlog::set_level(spdlog::level::from_str(absl::GetFlag(FLAGS_log_level)));
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by a dedicated thread (sigwait), so block them before
  // any other thread exists.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::vector<char*> args(argv, argv + argc);
  std::vector<std::string> renamed;
  UnderscoreFlagNames(args, renamed);
  std::vector<std::string> listen = TakeRepeatedFlag(args, "listen");
  const std::vector<std::string> tokenizer_flags = TakeRepeatedFlag(args, "tokenizer");
  absl::SetProgramUsageMessage(
      "convgen-server [--listen HOST:PORT|unix:PATH]... [--tokenizer NAME=PATH]... "
      "[--corpus-dir DIR] [--metrics-listen HOST:PORT] [limits] [--drain-seconds S]");
  int parsed_argc = static_cast<int>(args.size());
  absl::ParseCommandLine(parsed_argc, args.data());
  if (absl::GetFlag(FLAGS_version)) {
    std::printf("convgen-server %s (gRPC %s)\n", CONVGEN_VERSION, grpc::Version().c_str());
    return 0;
  }
  SetUpLogging();
  if (listen.empty()) listen.push_back("0.0.0.0:50051");

  convgen::WorkspaceOptions workspace_options;
  workspace_options.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (workspace_options.data_dir.empty()) {
    const char* env = std::getenv("CONVGEN_DATA_DIR");
    workspace_options.data_dir = env != nullptr ? env : CONVGEN_DEFAULT_DATA_DIR;
  }
  workspace_options.corpus_dir = absl::GetFlag(FLAGS_corpus_dir);
  for (const std::string& flag : tokenizer_flags) {
    const std::vector<std::string> parts = absl::StrSplit(flag, absl::MaxSplits('=', 1));
    if (parts.size() != 2) {
      std::fprintf(stderr, "convgen-server: --tokenizer %s: expected NAME=PATH\n", flag.c_str());
      return 2;
    }
    workspace_options.tokenizers.emplace_back(parts[0], parts[1]);
  }
  auto workspace = convgen::Workspace::Create(workspace_options);
  if (!workspace.ok()) {
    std::fprintf(stderr, "convgen-server: %s\n", std::string(workspace.status().message()).c_str());
    return 2;
  }
  // Every tokenizer is loaded and checked before the server listens.
  if (const absl::Status loaded = (*workspace)->LoadAllTokenizers(); !loaded.ok()) {
    std::fprintf(stderr, "convgen-server: %s\n", std::string(loaded.message()).c_str());
    return 2;
  }

  convgen::ServiceMetrics metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  if (const std::string address = absl::GetFlag(FLAGS_metrics_listen); !address.empty()) {
    exposer = std::make_unique<prometheus::Exposer>(address);
    exposer->RegisterCollectable(metrics.registry());
    spdlog::info("metrics on http://{}/metrics", address);
  }

  convgen::ServiceLimits limits;
  limits.max_conversations_per_request = absl::GetFlag(FLAGS_max_conversations_per_request);
  limits.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  limits.max_inline_corpus_bytes = absl::GetFlag(FLAGS_max_inline_corpus_bytes);
  limits.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  limits.max_messages_per_conversation = absl::GetFlag(FLAGS_max_messages_per_conversation);
  convgen::ConversationServiceImpl service(workspace->get(), limits, &metrics);

  // Keep the health descriptor linked in, for reflection.
  (void)grpc::health::v1::HealthCheckResponse::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!absl::GetFlag(FLAGS_tls_cert).empty()) {
    grpc::SslServerCredentialsOptions ssl(
        absl::GetFlag(FLAGS_tls_client_ca).empty()
            ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_key_cert_pairs.push_back(
        {ReadPem(absl::GetFlag(FLAGS_tls_key)), ReadPem(absl::GetFlag(FLAGS_tls_cert))});
    if (!absl::GetFlag(FLAGS_tls_client_ca).empty()) {
      ssl.pem_root_certs = ReadPem(absl::GetFlag(FLAGS_tls_client_ca));
    }
    credentials = grpc::SslServerCredentials(ssl);
  }

  grpc::ServerBuilder builder;
  std::vector<int> ports(listen.size(), 0);
  for (size_t i = 0; i < listen.size(); ++i) {
    builder.AddListeningPort(listen[i], credentials, absl::StartsWith(listen[i], "unix:") ? nullptr : &ports[i]);
  }
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<int64_t>(limits.max_inline_corpus_bytes + (1 << 20), INT32_MAX)));
  builder.SetMaxSendMessageSize(
      static_cast<int>(std::min<int64_t>(limits.max_message_bytes + (1 << 16), INT32_MAX)));
  // Drivers may ping every 10 s on long, slow streams.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    std::fprintf(stderr, "convgen-server: cannot listen on the given addresses\n");
    return 2;
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  for (const char* name : {"", "liveness", "readiness", "convgen.v1.ConversationService"}) {
    health->SetServingStatus(name, true);
  }
  for (size_t i = 0; i < listen.size(); ++i) {
    const std::string address =
        absl::StartsWith(listen[i], "unix:")
            ? listen[i]
            : absl::StrCat(listen[i].substr(0, listen[i].rfind(':')), ":", ports[i]);
    std::printf("listening on %s\n", address.c_str());
    spdlog::info("listening on {}", address);
  }
  std::fflush(stdout);

  const double drain_seconds = absl::GetFlag(FLAGS_drain_seconds);
  std::thread signal_thread([&] {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    spdlog::info("signal {}: not ready; draining {} open streams for up to {} s", signal_number,
                 service.active_streams(), drain_seconds);
    health->SetServingStatus("readiness", false);
    health->SetServingStatus("", false);
    service.StartDraining();
    // Open streams may finish until the deadline.
    const auto wait_for_streams = [&service](std::chrono::milliseconds limit) {
      const auto deadline = std::chrono::steady_clock::now() + limit;
      while (service.active_streams() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    };
    wait_for_streams(std::chrono::milliseconds(static_cast<int64_t>(drain_seconds * 1000)));
    spdlog::info("{} streams still open; stopping", service.active_streams());
    // Each stream ends with UNAVAILABLE and its resume index once its message
    // in flight is delivered; a stream whose reader is gone or stalled is
    // cancelled by Shutdown after the grace.
    service.StopStreams();
    wait_for_streams(kStopGrace);
    server->Shutdown(std::chrono::system_clock::now());
  });
  server->Wait();
  signal_thread.join();
  spdlog::info("stopped");
  return 0;
}
