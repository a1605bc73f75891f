#include "client/workload_report_writer.h"

#include <cstdio>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/output_file.h"

namespace convgen {

WorkloadReportWriter::WorkloadReportWriter(const CommandOptions& o,
                                           const v1::GenerateRequest& request,
                                           const std::optional<v1::GenerationConfig>& config)
    : report_path_(o.report), stats_path_(o.stats_json) {
  run_.config_json = request.config_json();
  run_.seed = o.seed;
  run_.shard_index = o.shard.index;
  run_.shard_count = o.shard.count;
  run_.start_index = o.start_index;
  run_.tokenizer = o.tokenizer_file.empty()
                       ? o.tokenizer
                       : absl::StrCat(o.tokenizer_file, " (sent with --tokenizer-file)");
  run_.server = o.server;
  if (config && config->has_prompt_input()) {
    run_.has_think_time = config->prompt_input().has_think_time_ms();
    if (config->prompt_input().has_prefix_groups()) {
      run_.num_prefix_groups = config->prompt_input().prefix_groups().num_groups();
    }
  }
}

void WorkloadReportWriter::Add(const v1::GenerateResponse& response) {
  if (response.has_conversation_start()) {
    collector_.BeginConversation();
  } else if (response.has_turn()) {
    const v1::TurnMessage& turn = response.turn();
    collector_.AddMessage(turn.role() == v1::ROLE_USER, turn.num_tokens(),
                          turn.has_think_time_ms() ? turn.think_time_ms() : -1,
                          turn.has_prefix_group() ? turn.prefix_group() : -1);
  } else if (response.has_conversation_end()) {
    collector_.EndConversation();
  }
}

bool WorkloadReportWriter::Write(const std::string& incomplete_reason) {
  RunInfo run = run_;
  run.complete = incomplete_reason.empty();
  run.incomplete_reason = incomplete_reason;
  const WorkloadReport report = BuildWorkloadReport(collector_, std::move(run));
  for (const auto& [flag, path] :
       {std::pair<const char*, const std::string&>{"--report", report_path_},
        {"--stats-json", stats_path_}}) {
    if (path.empty()) continue;
    absl::StatusOr<std::unique_ptr<OutputFile>> file = OutputFile::Open(path);
    absl::Status status = file.status();
    if (status.ok()) {
      (*file)->stream() << (std::string(flag) == "--report" ? RenderHtmlReport(report)
                                                            : RenderStatsJson(report));
      status = (*file)->status();
      if (status.ok()) status = (*file)->Commit();
      if (!status.ok()) (*file)->Discard();
    }
    if (!status.ok()) {
      std::fprintf(stderr, "convgen: cannot write %s %s\n", flag,
                   std::string(status.message()).c_str());
      return false;
    }
  }
  return true;
}

}  // namespace convgen
