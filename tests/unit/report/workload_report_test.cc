#include "core/report/workload_report.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "core/stats/workload_histogram.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace convgen {
namespace {

constexpr char kHostile[] = "</script><svg onload=alert(1)>\"'&";

int Occurrences(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// Two conversations: 4 messages (group 0) and 2 messages (group 2) of 3 groups.
WorkloadCollector TwoConversations() {
  WorkloadCollector c;
  c.BeginConversation();
  c.AddMessage(true, 10, 300, 0);
  c.AddMessage(false, 20, -1, 0);
  c.AddMessage(true, 5, 100, 0);
  c.AddMessage(false, 7, -1, 0);
  c.EndConversation();
  c.BeginConversation();
  c.AddMessage(true, 10, 300, 2);
  c.AddMessage(false, 40, -1, 2);
  c.EndConversation();
  return c;
}

RunInfo HostileRun() {
  RunInfo run;
  run.config_json = std::string("{\"text_files\": [\"") + kHostile + "\"]}";
  run.tokenizer = kHostile;
  run.server = "localhost:1";
  run.seed = 42;
  run.has_think_time = true;
  run.num_prefix_groups = 3;
  return run;
}

TEST(HtmlEscapeTest, EscapesMarkupAndQuotes) {
  EXPECT_EQ(HtmlEscape(kHostile), "&lt;/script&gt;&lt;svg onload=alert(1)&gt;&quot;&#39;&amp;");
  EXPECT_EQ(HtmlEscape("plain text 1.5"), "plain text 1.5");
}

TEST(WorkloadReportTest, UserTextIsEscapedAndNothingLoadsOrRuns) {
  const std::string html = RenderHtmlReport(BuildWorkloadReport(TwoConversations(), HostileRun()));
  EXPECT_EQ(html.find("<svg onload"), std::string::npos);
  EXPECT_EQ(html.find("</script>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(Occurrences(html, "&lt;/script&gt;&lt;svg onload=alert(1)&gt;"),
            2);  // config, tokenizer
  for (const char* network : {"http://", "https://", "src=", "href=", "url(", "@import"}) {
    EXPECT_EQ(html.find(network), std::string::npos) << network;
  }
}

TEST(WorkloadReportTest, EveryChartHasBarsAxesAndALabel) {
  const WorkloadReport report = BuildWorkloadReport(TwoConversations(), HostileRun());
  const std::string html = RenderHtmlReport(report);
  ASSERT_EQ(report.charts.size(), 6u);
  EXPECT_EQ(Occurrences(html, "<svg role=\"img\" aria-label=\"Histogram of "), 6);
  int bars = 0;
  for (const HistogramChart& chart : report.charts) {
    for (const HistogramBin& bin : chart.bins) bars += bin.count > 0 ? 1 : 0;
  }
  EXPECT_EQ(Occurrences(html, "<rect class=\"bar\""), bars);
  // Turns 2 and 4 (one each), as two bins of width 1 with 3 between (empty).
  const HistogramChart& turns = report.charts[0];
  EXPECT_EQ(turns.name, "conversation_turns");
  ASSERT_EQ(turns.bins.size(), 3u);
  EXPECT_EQ(turns.total, 2);
  // Prefix groups run over all 3 groups; group 1 had none.
  const HistogramChart& groups = report.charts[5];
  ASSERT_EQ(groups.bins.size(), 3u);
  EXPECT_EQ(groups.bins[0].count, 1);
  EXPECT_EQ(groups.bins[1].count, 0);
  EXPECT_EQ(groups.bins[2].count, 1);
}

TEST(WorkloadReportTest, BarHeightsAreProportionalToCounts) {
  WorkloadCollector c;  // turns: 2 once, 4 three times
  for (int i = 0; i < 4; ++i) {
    c.BeginConversation();
    for (int m = 0; m < (i == 0 ? 2 : 4); ++m) c.AddMessage(m % 2 == 0, 5, -1, -1);
    c.EndConversation();
  }
  const std::string html = RenderHtmlReport(BuildWorkloadReport(c, RunInfo()));
  const size_t chart = html.find("data-chart=\"conversation_turns\"");
  ASSERT_NE(chart, std::string::npos);
  std::vector<double> heights;
  for (size_t at = html.find("<rect class=\"bar\"", chart);
       at != std::string::npos && heights.size() < 2;
       at = html.find("<rect class=\"bar\"", at + 1)) {
    const size_t h = html.find("height=\"", at) + 8;
    heights.push_back(std::atof(html.c_str() + h));
  }
  ASSERT_EQ(heights.size(), 2u);
  EXPECT_GT(heights[0], 10);
  EXPECT_NEAR(heights[1], 3 * heights[0], 0.02);  // printed to 0.01
}

TEST(WorkloadReportTest, AChartWithoutDataSaysWhy) {
  RunInfo run;  // no think time, no prefix groups in the config
  WorkloadCollector plain;
  plain.BeginConversation();
  plain.AddMessage(true, 10, -1, -1);
  plain.AddMessage(false, 20, -1, -1);
  plain.EndConversation();
  const std::string html = RenderHtmlReport(BuildWorkloadReport(plain, run));
  EXPECT_NE(html.find("No data: the config has no prompt_input.think_time_ms."), std::string::npos);
  EXPECT_NE(html.find("No data: the config has no prompt_input.prefix_groups."), std::string::npos);
  EXPECT_EQ(Occurrences(html, "<svg "), 4);
  // Think times and groups the messages carry chart even if the config was
  // not read.
  EXPECT_EQ(Occurrences(RenderHtmlReport(BuildWorkloadReport(TwoConversations(), run)), "<svg "),
            6);
  const std::string none = RenderHtmlReport(BuildWorkloadReport(WorkloadCollector(), run));
  EXPECT_EQ(Occurrences(none, "<svg "), 0);
  EXPECT_EQ(Occurrences(none, "No data: no conversation was received."), 4);
}

TEST(WorkloadReportTest, AnIncompleteRunSaysSoInTheHeader) {
  RunInfo run = HostileRun();
  run.complete = false;
  run.incomplete_reason = "the stream broke (server error UNAVAILABLE: <gone>) after 2 complete";
  const std::string html = RenderHtmlReport(BuildWorkloadReport(TwoConversations(), run));
  EXPECT_NE(html.find("Incomplete: the stream broke (server error UNAVAILABLE: &lt;gone&gt;)"),
            std::string::npos);
  EXPECT_NE(html.find("covers the 2 conversations"), std::string::npos);
  const auto json =
      nlohmann::json::parse(RenderStatsJson(BuildWorkloadReport(TwoConversations(), run)));
  EXPECT_FALSE(json["complete"].get<bool>());
}

TEST(WorkloadReportTest, StatsJsonHoldsTheTableNumbersAndTheBins) {
  const WorkloadCollector c = TwoConversations();
  const auto json = nlohmann::json::parse(RenderStatsJson(BuildWorkloadReport(c, HostileRun())));
  EXPECT_EQ(json["schema"], "convgen.workload_stats.v1");
  EXPECT_TRUE(json["complete"].get<bool>());
  EXPECT_EQ(json["run"]["tokenizer"], kHostile);  // JSON keeps the text as it is
  EXPECT_EQ(json["totals"]["conversations"], 2);
  EXPECT_EQ(json["totals"]["user_tokens"], 25);
  const auto& request = json["print_stats"]["request_tokens"];
  EXPECT_EQ(request["count"], 3);  // 10, 35, 10
  EXPECT_EQ(request["p50"].get<double>(), c.summary().request_tokens.Quantile(0.5));
  EXPECT_EQ(request["max"].get<double>(), 35);
  EXPECT_EQ(json["print_stats"]["user_tokens"]["mean"].get<double>(),
            c.summary().mean_user_tokens.mean());
  EXPECT_EQ(json["per_message"]["think_time_ms"]["count"], 3);
  EXPECT_EQ(json["per_message"]["conversations_per_prefix_group"]["count"], 3);
  for (const auto& [name, chart] : json["histograms"].items()) {
    int64_t sum = 0;
    for (const auto& bin : chart["bins"]) sum += bin["count"].get<int64_t>();
    EXPECT_EQ(sum, chart["total"].get<int64_t>()) << name;
  }
  EXPECT_EQ(json["histograms"]["request_tokens"]["total"], 3);
  EXPECT_EQ(json["histograms"]["prefix_groups"]["total"], 2);
}

}  // namespace
}  // namespace convgen
