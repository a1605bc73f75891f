// The workload report of a generation run (convgen generate --report,
// --stats-json): plain structs built from a WorkloadCollector, rendered as
// one self-contained HTML page (inline CSS and SVG, no script, no network
// reference) or as JSON. Everything that came from the user (the config
// text, names) is HTML-escaped. Pure functions; thread-compatible.
#ifndef CONVGEN_CORE_REPORT_WORKLOAD_REPORT_H_
#define CONVGEN_CORE_REPORT_WORKLOAD_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/stats/summary_stats.h"
#include "core/stats/workload_histogram.h"

namespace convgen {

// At most this many bars per chart.
inline constexpr int kReportMaxBins = 40;

// One row of a statistics table: the columns --print-stats prints.
struct StatisticRow {
  std::string name;
  std::string description;
  int64_t count = 0;
  double mean = 0, std = 0, min = 0, p25 = 0, p50 = 0, p75 = 0, p90 = 0, p99 = 0, max = 0;
};
StatisticRow RowOf(std::string name, std::string description, const SummaryStatistic& s);

// A histogram; bins empty means no data, and `empty_reason` says why.
struct HistogramChart {
  std::string name;  // key in the JSON, id in the HTML
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<HistogramBin> bins;
  int64_t total = 0;  // sum of the bins' counts
  std::string empty_reason;
};

// What the run was: shown in the header, never interpreted.
struct RunInfo {
  std::string config_json;  // as sent
  uint64_t seed = 0;
  uint64_t shard_index = 0;
  uint64_t shard_count = 1;
  uint64_t start_index = 0;
  std::string tokenizer;  // empty: the server's default
  std::string server;
  // Conversations received but not all that were asked for: why it stopped.
  bool complete = true;
  std::string incomplete_reason;
  // prompt_input.prefix_groups.num_groups, 0 if none: the groups axis runs
  // over all of them, so that unpicked groups show as gaps.
  int64_t num_prefix_groups = 0;
  bool has_think_time = false;  // prompt_input.think_time_ms is set
};

struct WorkloadReport {
  RunInfo run;
  int64_t conversations = 0;
  int64_t messages = 0;
  int64_t user_tokens = 0;
  int64_t assistant_tokens = 0;
  // conversation_turns, user_tokens, assistant_tokens, request_tokens: the
  // rows --print-stats prints, same numbers.
  std::vector<StatisticRow> print_stats;
  // Per message: user and assistant tokens, think time; conversations per
  // prefix group (over all groups, unpicked ones counting 0).
  std::vector<StatisticRow> per_message;
  std::vector<HistogramChart> charts;
};

WorkloadReport BuildWorkloadReport(const WorkloadCollector& collector, RunInfo run);

// & < > " ' as character references.
std::string HtmlEscape(absl::string_view text);

// The HTML page.
std::string RenderHtmlReport(const WorkloadReport& report);

// The same numbers as JSON (schema in README.md, "Workload report").
std::string RenderStatsJson(const WorkloadReport& report);

}  // namespace convgen

#endif  // CONVGEN_CORE_REPORT_WORKLOAD_REPORT_H_
