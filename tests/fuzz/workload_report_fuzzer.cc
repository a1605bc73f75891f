// Fuzz target: the workload report over arbitrary user text and arbitrary
// streams. The input up to the first NUL is the config text, up to the
// second the tokenizer name; the rest drives a WorkloadCollector, three
// bytes per event (an opcode, a 16-bit value). Invariants: no crash; the
// user's text adds no markup (the HTML has as many '<' as the same report
// with that text empty); the JSON parses; every chart has at most
// kReportMaxBins bins that sum to its total.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/report/workload_report.h"
#include "core/stats/workload_histogram.h"
#include "nlohmann/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t first = std::min(input.find('\0'), input.size());
  const size_t second = std::min(input.find('\0', std::min(first + 1, input.size())), input.size());
  convgen::RunInfo run;
  run.config_json = input.substr(0, first);
  run.tokenizer =
      input.substr(std::min(first + 1, input.size()), second - std::min(first + 1, second));
  run.incomplete_reason = run.tokenizer;
  run.complete = run.incomplete_reason.empty();
  run.has_think_time = (size & 1) != 0;
  run.num_prefix_groups = static_cast<int64_t>(size % 7);

  convgen::WorkloadCollector collector;
  for (size_t at = std::min(second + 1, input.size()); at + 3 <= input.size(); at += 3) {
    const auto op = static_cast<uint8_t>(input[at]);
    const int64_t value =
        (static_cast<uint8_t>(input[at + 1]) << 8) | static_cast<uint8_t>(input[at + 2]);
    switch (op % 4) {
      case 0:
        collector.BeginConversation();
        break;
      case 1:
        collector.AddMessage(true, value, (op & 4) != 0 ? value * 3 : -1,
                             (op & 8) != 0 ? value % 50 : -1);
        break;
      case 2:
        collector.AddMessage(false, value, -1, -1);
        break;
      default:
        collector.EndConversation();
    }
  }

  const convgen::WorkloadReport report = convgen::BuildWorkloadReport(collector, run);
  const std::string html = convgen::RenderHtmlReport(report);
  convgen::RunInfo plain = run;
  plain.config_json.clear();
  plain.tokenizer.clear();
  plain.incomplete_reason.clear();
  const std::string reference =
      convgen::RenderHtmlReport(convgen::BuildWorkloadReport(collector, plain));
  if (std::count(html.begin(), html.end(), '<') !=
      std::count(reference.begin(), reference.end(), '<')) {
    std::abort();  // the user's text became markup
  }
  const nlohmann::json json =
      nlohmann::json::parse(convgen::RenderStatsJson(report), nullptr, false);
  if (json.is_discarded()) std::abort();
  for (const convgen::HistogramChart& chart : report.charts) {
    if (chart.bins.size() > static_cast<size_t>(convgen::kReportMaxBins)) std::abort();
    int64_t total = 0;
    for (const convgen::HistogramBin& bin : chart.bins) total += bin.count;
    if (total != chart.total) std::abort();
  }
  return 0;
}
