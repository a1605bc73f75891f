// WorkloadReportWriter: generate's --report and --stats-json. Feeds the
// stream's events to core's WorkloadCollector as they arrive (no
// conversation is kept) and writes the files at the end, each as
// PATH.partial renamed to PATH (OutputFile), so that a file is whole or
// absent. Not thread-safe.
#ifndef CONVGEN_CLIENT_WORKLOAD_REPORT_WRITER_H_
#define CONVGEN_CLIENT_WORKLOAD_REPORT_WRITER_H_

#include <optional>
#include <string>

#include "client/command_options.h"
#include "convgen/v1/service.pb.h"
#include "core/report/workload_report.h"
#include "core/stats/workload_histogram.h"

namespace convgen {

class WorkloadReportWriter {
 public:
  // `config`: the config as the client read it, if it did (for the prefix
  // groups' count and whether think time is set).
  WorkloadReportWriter(const CommandOptions& o, const v1::GenerateRequest& request,
                       const std::optional<v1::GenerationConfig>& config);

  // Whether --report or --stats-json was given.
  bool enabled() const { return !report_path_.empty() || !stats_path_.empty(); }
  void Add(const v1::GenerateResponse& response);
  // Writes the files for the conversations received complete; on a broken
  // stream `incomplete_reason` says why (shown in the report). Returns false,
  // having said why on stderr, if a file could not be written.
  bool Write(const std::string& incomplete_reason);

 private:
  std::string report_path_, stats_path_;
  RunInfo run_;
  WorkloadCollector collector_;
};

}  // namespace convgen

#endif  // CONVGEN_CLIENT_WORKLOAD_REPORT_WRITER_H_
