#include "client/commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/conversation_writer.h"
#include "client/output_file.h"
#include "client/progress.h"
#include "client/stream_guard.h"
#include "client/workload_report_writer.h"
#include "convgen/v1/service.grpc.pb.h"
#include "core/config/config_json.h"
#include "core/files.h"
#include "core/json/config_errors.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace convgen {
namespace {

// The flag (and its value) of a file generate would write that is `path`
// (a file it sends), or {nullptr, nullptr}.
std::pair<const char*, const std::string*> WrittenOver(const CommandOptions& o,
                                                       const std::string& path) {
  if (o.command != "generate") return {nullptr, nullptr};
  for (const auto& [flag, written] :
       {std::pair<const char*, const std::string*>{"--output", &o.output},
        {"--report", &o.report},
        {"--stats-json", &o.stats_json}}) {
    if (!written->empty() && *written != "-" && SameFile(path, *written)) return {flag, written};
  }
  return {nullptr, nullptr};
}

// The options of the command this process runs (RunCommand sets it), for
// the hints ServerError gives.
const CommandOptions* running_options = nullptr;

// The TLS files were checked by CheckOptions.
std::shared_ptr<grpc::ChannelCredentials> MakeCredentials(const CommandOptions& o) {
  if (o.tls_ca.empty() && o.tls_cert.empty()) return grpc::InsecureChannelCredentials();
  // An empty path gives "", which gRPC takes as "none".
  const auto pem = [](const char* flag, const std::string& path) {
    if (path.empty()) return std::string();
    absl::StatusOr<PemFile> file = ReadPemFlag(flag, path);
    return file.ok() ? std::move(file->text) : std::string();
  };
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = pem("--tls-ca", o.tls_ca);
  ssl.pem_cert_chain = pem("--tls-cert", o.tls_cert);
  ssl.pem_private_key = pem("--tls-key", o.tls_key);
  return grpc::SslCredentials(ssl);
}

// `seconds` from now; CheckSeconds bounded it to [1 ms, a year].
std::chrono::system_clock::time_point SecondsFromNow(double seconds) {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000)));
}

// With --wait-for-server, waits (bounded) until the server is reachable, e.g.
// while its pod starts; if it never is, the call fails as it would have.
std::shared_ptr<grpc::Channel> MakeChannel(const CommandOptions& o) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  auto channel = grpc::CreateCustomChannel(o.server, MakeCredentials(o), args);
  if (o.wait_for_server_seconds > 0) {
    channel->WaitForConnected(SecondsFromNow(o.wait_for_server_seconds));
  }
  return channel;
}

void SetDeadline(const CommandOptions& o, grpc::ClientContext* context) {
  if (o.timeout_seconds > 0) context->set_deadline(SecondsFromNow(o.timeout_seconds));
}

// validate, describe and health wait for one answer: without --timeout,
// --idle-timeout bounds that wait, so that a stopped server cannot hang them.
void SetUnaryDeadline(const CommandOptions& o, grpc::ClientContext* context) {
  const double seconds = o.timeout_seconds > 0 ? o.timeout_seconds : o.idle_timeout_seconds;
  if (seconds > 0) context->set_deadline(SecondsFromNow(seconds));
}

// The directory a config's text_files are looked up in.
std::string ConfigDirectory(const std::string& input_file) {
  std::string dir = std::filesystem::path(input_file).parent_path().string();
  return dir.empty() ? "." : dir;
}

int ServerError(const grpc::Status& status) {
  // gRPC and absl share the canonical codes and their names.
  std::fprintf(stderr, "convgen: server error %s: %s\n",
               absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())).c_str(),
               status.error_message().c_str());
  bool config_error = status.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
  if (running_options != nullptr) {
    const ConnectionHint hint = HintFor(status, *running_options);
    if (!hint.text.empty()) std::fprintf(stderr, "convgen: hint: %s\n", hint.text.c_str());
    config_error = config_error || hint.config_error;
  }
  return config_error ? 2 : 1;
}

// A text_files entry that is absolute or climbs out of the config's
// directory (lexically; a symlink out is caught by its real path).
bool LeavesDirectory(const std::string& name) {
  const std::filesystem::path path(name);
  if (path.is_absolute()) return true;
  const std::filesystem::path normal = path.lexically_normal();
  return !normal.empty() && *normal.begin() == "..";
}

// Whether `path` resolves (symlinks followed) to a place below `dir`.
bool ResolvesBelow(const std::string& path, const std::string& dir) {
  std::error_code error;
  const std::filesystem::path real = std::filesystem::canonical(path, error);
  if (error) return false;
  const std::filesystem::path root = std::filesystem::canonical(dir, error);
  if (error) return false;
  const std::filesystem::path relative = real.lexically_relative(root);
  return !relative.empty() && *relative.begin() != "..";
}

// Reads the config's text_files found next to it (or below its directory)
// for sending inline; the others name server corpora. Returns false, having
// said why on stderr, for a file that is outside the directory without
// --allow-outside-files, not a regular file, or over the size limit.
bool ReadLocalTextFiles(const CommandOptions& o, const v1::GenerationConfig& config,
                        v1::GenerateRequest* request) {
  const std::string dir = ConfigDirectory(o.input_file);
  std::vector<std::string> sent, by_name;
  std::set<std::string> sent_names;
  int64_t total = 0;
  for (int i = 0; i < config.text_files_size(); ++i) {
    const std::string& name = config.text_files(i);
    // Sent once: the server names a repeated entry (and mixes inline texts
    // with its files only when each inline text is a distinct entry).
    if (sent_names.count(name) != 0) continue;
    // A NUL would cut the path short at lstat and open (the server refuses
    // such names too).
    if (std::any_of(name.begin(), name.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; })) {
      std::fprintf(stderr,
                   "convgen: text_files[%d]: a file name cannot contain a NUL or control "
                   "character\n",
                   i);
      return false;
    }
    const std::string path =
        std::filesystem::path(name).is_absolute() ? name : absl::StrCat(dir, "/", name);
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      // Not here: a server corpus, unless it could only have been a local path.
      if (LeavesDirectory(name) && !o.allow_outside_files) {
        std::fprintf(stderr,
                     "convgen: text_files[%d] \"%s\" is outside the config's directory %s "
                     "(and not found: %s)\n",
                     i, name.c_str(), dir.c_str(), std::strerror(errno));
        return false;
      }
      by_name.push_back(name);
      continue;
    }
    if (!o.allow_outside_files && (LeavesDirectory(name) || !ResolvesBelow(path, dir))) {
      std::fprintf(stderr,
                   "convgen: text_files[%d] \"%s\" is outside the config's directory %s; the "
                   "client sends only files next to the config or below it (pass "
                   "--allow-outside-files to send it)\n",
                   i, name.c_str(), dir.c_str());
      return false;
    }
    if (const auto [flag, written] = WrittenOver(o, path); flag != nullptr) {
      std::fprintf(stderr,
                   "convgen: %s %s is text_files[%d] \"%s\": writing would destroy the "
                   "corpus; choose another %s\n",
                   flag, written->c_str(), i, name.c_str(), flag);
      return false;
    }
    absl::StatusOr<std::string> text = ReadRegularFile(path, kMaxInlineTextBytes - total);
    if (!text.ok()) {
      std::fprintf(stderr, "convgen: text_files[%d]: %s%s\n", i,
                   std::string(text.status().message()).c_str(),
                   text.status().code() == absl::StatusCode::kResourceExhausted
                       ? " (the text files sent inline, together; put larger corpora in the "
                         "server's --corpus-dir)"
                       : "");
      return false;
    }
    total += static_cast<int64_t>(text->size());
    v1::InlineCorpus* corpus = request->add_inline_corpus();
    corpus->set_name(name);
    corpus->set_text(std::move(*text));
    sent.push_back(absl::StrCat(name, " (", corpus->text().size(), " bytes)"));
    sent_names.insert(name);
  }
  if (!sent.empty()) {
    std::fprintf(stderr, "convgen: sending from %s: %s%s%s\n", dir.c_str(),
                 absl::StrJoin(sent, ", ").c_str(),
                 by_name.empty() ? "" : "; server corpora: ", absl::StrJoin(by_name, ", ").c_str());
  }
  return true;
}

// Reads the config's shape_source file when it is next to the config (or
// below its directory) for sending inline, under the rules of text_files;
// otherwise it names a file of the server's corpus directory. A name with
// ".." or a leading "/" is left to the server, which refuses it. Returns
// false, having said why on stderr naming the config and the file, for a
// symlink out of the directory without --allow-outside-files, a file that is
// not a regular file, or one over what is left of the inline limit after
// the text files.
bool ReadLocalShape(const CommandOptions& o, const v1::GenerationConfig& config,
                    v1::GenerateRequest* request) {
  if (!config.has_shape_source() || config.shape_source().path().empty()) return true;
  const std::string& name = config.shape_source().path();
  const std::string dir = ConfigDirectory(o.input_file);
  const char* config_path = o.input_file.c_str();
  if (std::any_of(name.begin(), name.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; })) {
    std::fprintf(stderr,
                 "convgen: %s: shape_source.path: a file name cannot contain a NUL or control "
                 "character\n",
                 config_path);
    return false;
  }
  // The server takes only names below the config's directory (no "..", no
  // leading "/") and says so, naming the field.
  if (LeavesDirectory(name)) return true;
  const std::string path = absl::StrCat(dir, "/", name);
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    // Not here: a file of the server's corpus directory.
    std::fprintf(stderr,
                 "convgen: shape_source.path \"%s\" is not in %s: asking the server for its "
                 "corpus file of that name\n",
                 name.c_str(), dir.c_str());
    return true;
  }
  if (!o.allow_outside_files && !ResolvesBelow(path, dir)) {
    std::fprintf(stderr,
                 "convgen: %s: shape_source.path \"%s\" leads out of the config's directory %s "
                 "(a symlink); the client sends only files next to the config or below it (pass "
                 "--allow-outside-files to send it)\n",
                 config_path, name.c_str(), dir.c_str());
    return false;
  }
  if (const auto [flag, written] = WrittenOver(o, path); flag != nullptr) {
    std::fprintf(stderr,
                 "convgen: %s %s is the shape_source.path \"%s\" of %s: writing would "
                 "destroy it; choose another %s\n",
                 flag, written->c_str(), name.c_str(), config_path, flag);
    return false;
  }
  int64_t sent = 0;
  for (const v1::InlineCorpus& corpus : request->inline_corpus()) {
    sent += static_cast<int64_t>(corpus.text().size());
  }
  absl::StatusOr<std::string> text = ReadRegularFile(path, kMaxInlineTextBytes - sent);
  if (!text.ok()) {
    // The message is "PATH: reason".
    std::fprintf(stderr, "convgen: %s: shape_source.path: %s%s\n", config_path,
                 std::string(text.status().message()).c_str(),
                 text.status().code() == absl::StatusCode::kResourceExhausted
                     ? " (the shape file and the text files sent inline, together; put a larger "
                       "shape file in the server's --corpus-dir and name it there)"
                     : "");
    return false;
  }
  v1::InlineCorpus* shape = request->mutable_inline_shape();
  shape->set_name(name);
  shape->set_text(std::move(*text));
  std::fprintf(stderr, "convgen: sending shape_source %s (%zu bytes) from %s\n", name.c_str(),
               shape->text().size(), dir.c_str());
  return true;
}

// The config: a regular file of at most kMaxConfigBytes (a FIFO or
// /dev/zero named by mistake must not hang or exhaust the client), or a
// stream the user pipes in on purpose: -, /dev/stdin, /dev/fd/N (bash's
// <(...)), read to the same bound.
absl::StatusOr<std::string> ReadConfigFile(const std::string& path) {
  const bool stream = path == "-" || path == "/dev/stdin" || absl::StartsWith(path, "/dev/fd/");
  if (!stream) return ReadRegularFile(path, kMaxConfigBytes);
  std::FILE* file = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (file == nullptr) return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  std::string text;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    text.append(buffer, n);
    if (static_cast<int64_t>(text.size()) > kMaxConfigBytes) break;
  }
  const bool failed = std::ferror(file) != 0;
  if (file != stdin) std::fclose(file);
  if (failed) return absl::FailedPreconditionError(absl::StrCat(path, ": read failed"));
  if (static_cast<int64_t>(text.size()) > kMaxConfigBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(path, ": over the limit of ", kMaxConfigBytes, " bytes"));
  }
  return text;
}

// Builds the request from the config file: text_files found next to the
// config are sent inline, the others name server corpora. `config` gets
// the config as core reads it, or stays empty if it does not read: the
// config is then sent as it is, and the server names its problems.
bool BuildRequest(const CommandOptions& o, v1::GenerateRequest* request,
                  std::optional<v1::GenerationConfig>* config) {
  absl::StatusOr<std::string> text = ReadConfigFile(o.input_file);
  if (!text.ok()) {
    // The message is "PATH: reason".
    std::fprintf(stderr, "convgen: cannot read --input-file %s\n",
                 std::string(text.status().message()).c_str());
    return false;
  }
  request->set_seed(o.seed);
  request->mutable_shard()->set_index(o.shard.index);
  request->mutable_shard()->set_count(o.shard.count);
  request->set_start_index(o.start_index);
  request->set_tokenizer(o.tokenizer);
  if (!o.tokenizer_file.empty()) {
    absl::StatusOr<std::string> tokenizer =
        ReadRegularFile(o.tokenizer_file, kMaxTokenizerFileBytes);
    if (!tokenizer.ok()) {
      // The message is "PATH: reason".
      std::fprintf(stderr, "convgen: cannot read --tokenizer-file %s\n",
                   std::string(tokenizer.status().message()).c_str());
      return false;
    }
    request->set_tokenizer_json(std::move(*tokenizer));
  }
  request->set_include_token_ids(o.format == Format::kJsonlIds);
  if (o.rng == RngChoice::kPhilox) request->set_rng(v1::RNG_PHILOX);
  if (o.rng == RngChoice::kNumpyLegacy) request->set_rng(v1::RNG_NUMPY_LEGACY);
  ConfigErrors errors;
  v1::GenerationConfig parsed = ConfigFromJson(*text, errors);
  request->set_config_json(std::move(*text));
  if (!errors.empty()) return true;
  if (!ReadLocalTextFiles(o, parsed, request)) return false;
  if (!ReadLocalShape(o, parsed, request)) return false;
  *config = std::move(parsed);
  return true;
}

void PrintStatistic(const char* name, const v1::Statistic& s) {
  std::fprintf(stderr, "%-22s %8lld %9.2f %9.2f %8.0f %8.2f %8.2f %8.2f %8.2f %8.2f %8.0f\n", name,
               static_cast<long long>(s.count()), s.mean(), s.std(), s.min(), s.p25(), s.p50(),
               s.p75(), s.p90(), s.p99(), s.max());
}

void PrintStats(const v1::Summary& s) {
  const char* header = "%-22s %8s %9s %9s %8s %8s %8s %8s %8s %8s %8s\n";
  std::fprintf(stderr, "Conversations statistics:\n");
  std::fprintf(stderr, header, "", "count", "mean", "std", "min", "25%", "50%", "75%", "90%", "99%",
               "max");
  PrintStatistic("conversation_turns", s.turns());
  PrintStatistic("user_tokens", s.user_tokens_per_conversation());
  PrintStatistic("assistant_tokens", s.assistant_tokens_per_conversation());
  std::fprintf(stderr, "Request statistics:\n");
  std::fprintf(stderr, header, "", "count", "mean", "std", "min", "25%", "50%", "75%", "90%", "99%",
               "max");
  PrintStatistic("request_tokens", s.request_tokens());
  std::fprintf(
      stderr,
      "conversations %lld, messages %lld, user tokens %lld, assistant tokens %lld, "
      "raised targets %lld, corpus wraps %lld\n",
      static_cast<long long>(s.conversations()), static_cast<long long>(s.messages()),
      static_cast<long long>(s.user_tokens()), static_cast<long long>(s.assistant_tokens()),
      static_cast<long long>(s.raised_targets()), static_cast<long long>(s.corpus_wraps()));
}

// The conversations a run writes: i in [start, n) with i % shards == shard.
int64_t ConversationsToWrite(const CommandOptions& o, int64_t n) {
  const uint64_t k = o.shard.index, count = o.shard.count;
  if (n <= 0 || o.start_index >= static_cast<uint64_t>(n)) return 0;
  const uint64_t first = o.start_index + (k + count - o.start_index % count) % count;
  if (first >= static_cast<uint64_t>(n)) return 0;
  return static_cast<int64_t>((n - 1 - first) / count + 1);
}

// True if stderr is a terminal that the output is not also being written to
// (`--output -` on the same terminal would interleave the bar with the JSON).
bool ShowProgressBar(const CommandOptions& o) {
  if (isatty(STDERR_FILENO) != 1) return false;
  if (o.output != "-" || isatty(STDOUT_FILENO) != 1) return true;
  struct stat out, err;
  if (fstat(STDOUT_FILENO, &out) != 0 || fstat(STDERR_FILENO, &err) != 0) return false;
  return out.st_rdev != err.st_rdev;
}

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// What Generate asks for as GenerateRequest.max_batch_bytes: 64 KiB, the
// server's default bound, holds hundreds of short events.
constexpr uint32_t kMaxBatchBytes = 64 << 10;

// Generate's call, read as raw messages: a message that is not a
// GenerateResponse is then the client's to report, not a Read that returns
// false like the end of the stream (after which Finish would wait for a
// server that is still sending).
std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> StartGenerate(
    grpc::Channel* channel, grpc::ClientContext* context, const v1::GenerateRequest& request) {
  static const std::string method =
      std::string("/") + v1::ConversationService::service_full_name() + "/Generate";
  static const grpc::internal::RpcMethod rpc(method.c_str(),
                                             grpc::internal::RpcMethod::SERVER_STREAMING);
  // What the generated stub does, with ByteBuffer as the response type.
  return std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>>(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(channel, rpc, context,
                                                                    request));
}

int Generate(const CommandOptions& o) {
  v1::GenerateRequest request;
  std::optional<v1::GenerationConfig> config;
  if (!BuildRequest(o, &request, &config)) return 2;
  // Only for the progress line and the stats switch; the server checks the config.
  const bool print_stats = o.print_stats || (config && config->print_stats());
  const int64_t total = config ? ConversationsToWrite(o, config->num_conversations()) : 0;
  if (config && config->num_conversations() > 0) {
    const auto n = static_cast<uint64_t>(config->num_conversations());
    // The server refuses an index past the end; the end itself is an empty run.
    if (o.start_index > n) {
      std::fprintf(stderr,
                   "convgen: --start-index %llu is beyond the config's %llu conversations "
                   "(indices 0 to %llu; %llu gives an empty output)\n",
                   static_cast<unsigned long long>(o.start_index),
                   static_cast<unsigned long long>(n), static_cast<unsigned long long>(n - 1),
                   static_cast<unsigned long long>(n));
      return 2;
    }
    if (o.start_index == n) {
      std::fprintf(stderr,
                   "convgen: warning: --start-index %llu is the end of the config's %llu "
                   "conversations: there is nothing to generate\n",
                   static_cast<unsigned long long>(o.start_index),
                   static_cast<unsigned long long>(n));
    }
  }

  auto channel = MakeChannel(o);
  grpc::ClientContext context;
  SetDeadline(o, &context);
  // From here a Ctrl-C cancels the call (even one not started yet) instead
  // of killing the client, which then writes out what it has.
  StreamGuard guard(&context, o.idle_timeout_seconds);
  absl::StatusOr<std::unique_ptr<OutputFile>> opened = OutputFile::Open(o.output);
  if (!opened.ok()) {
    std::fprintf(stderr, "convgen: cannot write --output %s\n",
                 std::string(opened.status().message()).c_str());
    return 2;
  }
  OutputFile& output = **opened;
  const OutputFormat format = o.format == Format::kJson          ? OutputFormat::kJson
                              : o.format == Format::kOpenAiJsonl ? OutputFormat::kOpenAiJsonl
                              : o.format == Format::kShareGpt    ? OutputFormat::kShareGpt
                                                                 : OutputFormat::kJsonl;
  ConversationWriter writer(output.stream(), format,
                            {ModelOf(o), o.stream, o.min_tokens, o.ignore_eos});
  Progress progress(total, MonotonicSeconds);
  WorkloadReportWriter report(o, request, config);
  const bool bar = ShowProgressBar(o);

  v1::Summary summary;
  bool have_summary = false;
  bool started = false;  // a message came: the output and a resume index mean something
  std::string failure;   // the client's own reason to stop: a bad message, a write error
  bool write_failed = false;
  grpc::Status status;
  int stop_signal = 0;
  bool idle = false;
  const auto handle = [&](const v1::GenerateResponse& response) {
    if (report.enabled()) report.Add(response);
    if (response.has_conversation_start()) {
      writer.Begin(response.conversation_start());
    } else if (response.has_turn()) {
      writer.Add(response.turn());
      progress.AddTokens(response.turn().num_tokens());
    } else if (response.has_conversation_end()) {
      writer.End(response.conversation_end());
      const std::string line = progress.Update(writer.conversations_written());
      if (bar && !line.empty()) std::fputs(line.c_str(), stderr);
    } else if (response.has_summary()) {
      summary = response.summary();
      have_summary = true;
    }
  };
  {
    // Events come in batches of up to this many bytes (the server may cap
    // it): one gRPC message per event costs the server about 17 us of CPU.
    request.set_max_batch_bytes(kMaxBatchBytes);
    auto reader = StartGenerate(channel.get(), &context, request);
    grpc::ByteBuffer buffer;
    int64_t received = 0;
    while (true) {
      guard.Waiting();
      if (!reader->Read(&buffer)) break;
      guard.Handling();
      ++received;
      v1::GenerateResponse response;
      grpc::ProtoBufferReader bytes(&buffer);
      if (!response.ParseFromZeroCopyStream(&bytes)) {
        failure = "message " + std::to_string(received) + " from the server (" +
                  std::to_string(buffer.Length()) + " bytes) is not a GenerateResponse";
        context.TryCancel();
        break;
      }
      started = true;
      // A batch's events, in order, are what single messages would have been.
      if (response.has_batch()) {
        for (const v1::GenerateResponse& event : response.batch().events()) handle(event);
      } else {
        handle(response);
      }
      if (!output.status().ok()) {
        write_failed = true;
        context.TryCancel();
        break;
      }
    }
    status = reader->Finish();
    stop_signal = guard.signal();
    idle = guard.idle();
  }
  if (bar) std::fputs("\n", stderr);
  // A stream that never started wrote nothing, and leaves nothing.
  if (started && !write_failed) writer.Finish();
  if (write_failed || !output.status().ok()) {
    std::fprintf(stderr, "convgen: cannot write --output %s\n",
                 std::string(output.status().message()).c_str());
    output.Discard();
    return 1;
  }

  if (status.ok() && failure.empty() && stop_signal == 0) {
    if (const absl::Status committed = output.Commit(); !committed.ok()) {
      std::fprintf(stderr, "convgen: cannot write --output %s\n",
                   std::string(committed.message()).c_str());
      return 1;
    }
    std::fputs(progress.Summary().c_str(), stderr);
    if (print_stats && have_summary) PrintStats(summary);
    if (report.enabled() && !report.Write("")) return 1;
    return 0;
  }

  int code = 1;
  std::string why;  // for the report's header
  if (stop_signal != 0) {
    std::fprintf(stderr, "convgen: stopped by %s\n", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    code = 128 + stop_signal;
    why = stop_signal == SIGINT ? "stopped by SIGINT" : "stopped by SIGTERM";
  } else if (!failure.empty()) {
    std::fprintf(stderr, "convgen: %s\n", failure.c_str());
    why = failure;
  } else if (idle) {
    std::fprintf(stderr, "convgen: no message from the server for %g s (--idle-timeout)\n",
                 o.idle_timeout_seconds);
    why = "no message from the server within --idle-timeout";
  } else {
    code = ServerError(status);
    why = absl::StrCat("server error ",
                       absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
                       ": ", status.error_message());
  }
  if (!started) {
    output.Discard();
    return code;
  }
  // The output holds exactly the conversations before this index.
  const uint64_t resume = writer.next_index().value_or(o.start_index);
  const absl::StatusOr<std::string> kept = output.KeepPartial(
      "." + std::to_string(o.start_index) + "-" + std::to_string(resume) + ".partial");
  if (!kept.ok()) {
    std::fprintf(stderr, "convgen: cannot write --output %s\n",
                 std::string(kept.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr,
               "convgen: the stream broke after %lld complete conversations; %s holds exactly "
               "the conversations from index %llu before index %llu; resume with --start-index "
               "%llu\n",
               static_cast<long long>(writer.conversations_written()), kept->c_str(),
               static_cast<unsigned long long>(o.start_index),
               static_cast<unsigned long long>(resume), static_cast<unsigned long long>(resume));
  // The report covers the conversations the partial output holds, and says so.
  if (report.enabled()) {
    report.Write(absl::StrCat("the stream broke (", why, ") after ", writer.conversations_written(),
                              " complete conversations"));
  }
  return code;
}

// Calls Validate: 0 with *response valid, else the exit code (the server's
// error, or 2 after printing every config problem).
int CallValidate(const CommandOptions& o, const v1::GenerateRequest& request,
                 v1::ValidateResponse* response) {
  auto stub = v1::ConversationService::NewStub(MakeChannel(o));
  grpc::ClientContext context;
  SetUnaryDeadline(o, &context);
  const grpc::Status status = stub->Validate(&context, request, response);
  if (!status.ok()) return ServerError(status);
  if (!response->valid()) {
    for (const auto& p : response->problems()) {
      std::fprintf(stderr, "%s%s%s\n", p.path().c_str(), p.path().empty() ? "" : ": ",
                   p.message().c_str());
    }
    return 2;
  }
  return 0;
}

int Validate(const CommandOptions& o) {
  v1::GenerateRequest request;
  std::optional<v1::GenerationConfig> config;
  if (!BuildRequest(o, &request, &config)) return 2;
  v1::ValidateResponse response;
  if (const int code = CallValidate(o, request, &response); code != 0) return code;
  std::printf(
      "valid: %lld conversations, tokenizer %s, corpus %lld tokens, common prefix %lld "
      "tokens\n%s",
      static_cast<long long>(response.conversations()), response.tokenizer().c_str(),
      static_cast<long long>(response.corpus_tokens()),
      static_cast<long long>(response.common_prefix_tokens()),
      response.normalized_config_json().c_str());
  return 0;
}

// describe-shape: Validate's shape_summary, the shape the server read from
// the config's shape_source (and, in fit mode, the distributions it fitted).
int DescribeShape(const CommandOptions& o) {
  v1::GenerateRequest request;
  std::optional<v1::GenerationConfig> config;
  if (!BuildRequest(o, &request, &config)) return 2;
  // A config that reads but has no shape has nothing to describe; one that
  // does not read goes to the server, which names its problems.
  if (config && !config->has_shape_source()) {
    std::fprintf(stderr,
                 "convgen: %s has no shape_source: describe-shape prints the shape of the "
                 "traffic a config replays; add \"shape_source\": {\"format\": "
                 "\"sharegpt\"|\"mooncake\", \"path\": FILE, \"mode\": \"replay\"|\"fit\"}\n",
                 o.input_file.c_str());
    return 2;
  }
  v1::ValidateResponse response;
  if (const int code = CallValidate(o, request, &response); code != 0) return code;
  if (response.shape_summary().empty()) {
    std::fprintf(stderr,
                 "convgen: the server at %s described no shape for %s (a server older than "
                 "shape sources ignores shape_source)\n",
                 o.server.c_str(), o.input_file.c_str());
    return 1;
  }
  std::fputs(response.shape_summary().c_str(), stdout);
  if (response.shape_summary().back() != '\n') std::fputs("\n", stdout);
  return 0;
}

int Describe(const CommandOptions& o) {
  auto stub = v1::ConversationService::NewStub(MakeChannel(o));
  grpc::ClientContext context;
  SetUnaryDeadline(o, &context);
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
  // Every field of Limits, by reflection, so that a limit the server adds is
  // printed without a client change; named as the server's flags are.
  std::printf("limits:\n");
  const google::protobuf::Message& limits = response.limits();
  const google::protobuf::Descriptor* descriptor = limits.GetDescriptor();
  const google::protobuf::Reflection* reflection = limits.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    std::string value;
    switch (field->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
        value = std::to_string(reflection->GetInt64(limits, field));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE: {
        char number[32];
        std::snprintf(number, sizeof(number), "%g", reflection->GetDouble(limits, field));
        value = number;
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_BOOL:
        value = reflection->GetBool(limits, field) ? "true" : "false";
        break;
      default:
        continue;
    }
    std::string name = field->name();
    std::replace(name.begin(), name.end(), '_', '-');
    std::printf("  %s: %s\n", name.c_str(), value.c_str());
  }
  return 0;
}

int Health(const CommandOptions& o) {
  auto stub = grpc::health::v1::Health::NewStub(MakeChannel(o));
  grpc::ClientContext context;
  SetUnaryDeadline(o, &context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(o.health_service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return ServerError(status);
  std::printf("%s\n",
              grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()).c_str());
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

}  // namespace

ConnectionHint HintFor(const grpc::Status& status, const CommandOptions& o) {
  const std::string& message = status.error_message();
  const auto has = [&](absl::string_view part) { return absl::StrContains(message, part); };
  const bool tls = !o.tls_ca.empty() || !o.tls_cert.empty();
  ConnectionHint hint;
  if (status.error_code() == grpc::StatusCode::NOT_FOUND &&
      absl::StartsWith(message, "shape_source.path")) {
    hint.text = absl::StrCat(
        "the config's shape_source.path is sent when it is a file next to the config (in ",
        ConfigDirectory(o.input_file),
        ") or below it, else asked of the server by name; put the file there, or in the "
        "server's --corpus-dir");
    hint.config_error = true;
    return hint;
  }
  if (status.error_code() == grpc::StatusCode::NOT_FOUND && has("no such corpus")) {
    hint.text = absl::StrCat(
        "text_files not found next to the config (in ", ConfigDirectory(o.input_file),
        ") are asked of the server by name; put the file there, or use one of the server's "
        "corpora");
    return hint;
  }
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
      !has("failed to connect to all addresses")) {
    return hint;
  }
  // The call never reached the server: nothing was generated.
  hint.connect_failure = true;
  if (has("Failed parsing HTTP/2") || has("http1.x server")) {
    hint.text = absl::StrCat(o.server,
                             " is an HTTP server (an OpenAI-compatible API?), not convgen's gRPC "
                             "port; give --server the address convgen-server listens on");
  } else if (tls && (has("wrong version number") || has("WRONG_VERSION_NUMBER"))) {
    hint.text = absl::StrCat("the server at ", o.server,
                             " does not speak TLS: drop --tls-ca (and --tls-cert/--tls-key), "
                             "or start convgen-server with --tls-cert/--tls-key");
  } else if (tls && has("certificate verify failed")) {
    hint.text = absl::StrCat("the certificate of ", o.server, " is not signed by --tls-ca ",
                             o.tls_ca, " (or does not name the host)");
  } else if (tls && (has("Ssl handshake failed") || has("Handshake"))) {
    hint.text = absl::StrCat("the TLS handshake with ", o.server,
                             " failed: check --tls-ca, and --tls-cert/--tls-key if the server "
                             "asks for a client certificate");
  } else if (!tls && (has("Socket closed") || has("Connection reset"))) {
    hint.text = absl::StrCat(o.server,
                             " closed the connection: if it serves TLS, pass --tls-ca CA.pem "
                             "(the CA of its certificate)");
  } else if (has("Connection refused") || has("No such file or directory")) {
    hint.text = absl::StrCat("is convgen-server running at ", o.server,
                             "? (--wait-for-server SECONDS waits for it to start)");
  } else if (has("DNS resolution failed")) {
    hint.text = absl::StrCat("cannot resolve the host of ", o.server);
  } else {
    hint.text = absl::StrCat("cannot connect to ", o.server);
  }
  return hint;
}

int RunCommand(const CommandOptions& o) {
  running_options = &o;
  if (o.command == "generate") return Generate(o);
  if (o.command == "validate") return Validate(o);
  if (o.command == "describe") return Describe(o);
  if (o.command == "describe-shape") return DescribeShape(o);
  return Health(o);
}

}  // namespace convgen
