#include "core/report/workload_report.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace convgen {
namespace {

HistogramChart ChartOf(std::string name, std::string title, std::string x_label,
                       std::vector<HistogramBin> bins, std::string empty_reason) {
  HistogramChart chart;
  chart.name = std::move(name);
  chart.title = std::move(title);
  chart.x_label = std::move(x_label);
  chart.bins = std::move(bins);
  for (const HistogramBin& bin : chart.bins) chart.total += bin.count;
  if (chart.total == 0) chart.bins.clear();
  chart.empty_reason = std::move(empty_reason);
  return chart;
}

// 1, 2, 5, 10, 20, ...: the smallest at least `x`.
int64_t NiceAtLeast(double x) {
  for (int64_t decade = 1;; decade *= 10) {
    for (const int64_t step : {1, 2, 5}) {
      if (static_cast<double>(step * decade) >= x) return step * decade;
    }
    if (decade > (int64_t{1} << 60) / 10) return decade * 10;
  }
}

std::string BinLabel(const HistogramBin& bin) {
  return bin.lo == bin.hi ? absl::StrCat(bin.lo) : absl::StrCat(bin.lo, "\u2013", bin.hi);
}

// Drawing constants of a chart, in SVG user units.
constexpr double kWidth = 520, kHeight = 280;
constexpr double kLeft = 56, kRight = 12, kTop = 12, kBottom = 64;

std::string RenderSvg(const HistogramChart& chart) {
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  int64_t highest = 0;
  for (const HistogramBin& bin : chart.bins) highest = std::max(highest, bin.count);
  const int64_t y_step = NiceAtLeast(static_cast<double>(highest) / 5);
  const int64_t y_max = std::max<int64_t>(1, (highest + y_step - 1) / y_step * y_step);
  const auto n = static_cast<double>(chart.bins.size());
  const double bar_w = plot_w / n;
  std::string svg = absl::StrFormat(
      "<svg role=\"img\" aria-label=\"%s\" viewBox=\"0 0 %g %g\" width=\"%g\" height=\"%g\" "
      "data-chart=\"%s\">\n",
      HtmlEscape(absl::StrCat("Histogram of ", chart.title, ": ", chart.total, " values in ",
                              chart.bins.size(), " bins from ", chart.bins.front().lo, " to ",
                              chart.bins.back().hi)),
      kWidth, kHeight, kWidth, kHeight, HtmlEscape(chart.name));
  // Y grid, ticks and labels.
  for (int64_t y = 0; y <= y_max; y += y_step) {
    const double py = kTop + plot_h - plot_h * static_cast<double>(y) / static_cast<double>(y_max);
    absl::StrAppendFormat(
        &svg,
        "<line class=\"grid\" x1=\"%g\" y1=\"%.2f\" x2=\"%g\" y2=\"%.2f\"/>"
        "<text class=\"tick\" x=\"%g\" y=\"%.2f\" text-anchor=\"end\">%d</text>\n",
        kLeft - 4, py, kLeft + plot_w, py, kLeft - 7, py + 4, y);
  }
  // Bars, each with its range and count as a tooltip.
  for (size_t b = 0; b < chart.bins.size(); ++b) {
    const HistogramBin& bin = chart.bins[b];
    if (bin.count == 0) continue;
    const double h = plot_h * static_cast<double>(bin.count) / static_cast<double>(y_max);
    absl::StrAppendFormat(
        &svg,
        "<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\">"
        "<title>%s: %d</title></rect>\n",
        kLeft + bar_w * static_cast<double>(b) + 0.5, kTop + plot_h - h, std::max(bar_w - 1, 0.5),
        h, BinLabel(bin), bin.count);
  }
  // X ticks: at most 10 labelled bins, slanted when they are ranges.
  const size_t every = (chart.bins.size() + 9) / 10;
  const bool ranges = chart.bins.front().lo != chart.bins.front().hi;
  for (size_t b = 0; b < chart.bins.size(); b += every) {
    const double cx = kLeft + bar_w * (static_cast<double>(b) + 0.5);
    const double ty = kTop + plot_h + 14;
    absl::StrAppendFormat(&svg,
                          "<line class=\"axis\" x1=\"%.2f\" y1=\"%g\" x2=\"%.2f\" y2=\"%g\"/>", cx,
                          kTop + plot_h, cx, kTop + plot_h + 4);
    if (ranges) {
      absl::StrAppendFormat(&svg,
                            "<text class=\"tick\" x=\"%.2f\" y=\"%g\" text-anchor=\"end\" "
                            "transform=\"rotate(-30 %.2f %g)\">%s</text>\n",
                            cx, ty, cx, ty, BinLabel(chart.bins[b]));
    } else {
      absl::StrAppendFormat(&svg,
                            "<text class=\"tick\" x=\"%.2f\" y=\"%g\" "
                            "text-anchor=\"middle\">%s</text>\n",
                            cx, ty, BinLabel(chart.bins[b]));
    }
  }
  // Axes and their labels.
  absl::StrAppendFormat(&svg,
                        "<line class=\"axis\" x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\"/>"
                        "<line class=\"axis\" x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\"/>\n",
                        kLeft, kTop, kLeft, kTop + plot_h, kLeft, kTop + plot_h, kLeft + plot_w,
                        kTop + plot_h);
  absl::StrAppendFormat(&svg,
                        "<text class=\"label\" x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s</text>\n"
                        "<text class=\"label\" x=\"14\" y=\"%g\" text-anchor=\"middle\" "
                        "transform=\"rotate(-90 14 %g)\">%s</text>\n</svg>\n",
                        kLeft + plot_w / 2, kHeight - 8, HtmlEscape(chart.x_label),
                        kTop + plot_h / 2, kTop + plot_h / 2, HtmlEscape(chart.y_label));
  return svg;
}

std::string RenderTable(const std::vector<StatisticRow>& rows) {
  std::string html =
      "<table>\n<thead><tr><th></th><th>count</th><th>mean</th><th>std</th><th>min</th>"
      "<th>25%</th><th>50%</th><th>75%</th><th>90%</th><th>99%</th><th>max</th></tr></thead>\n"
      "<tbody>\n";
  for (const StatisticRow& r : rows) {
    // The formats --print-stats uses.
    absl::StrAppendFormat(&html,
                          "<tr><th title=\"%s\">%s</th><td>%d</td><td>%.2f</td><td>%.2f</td>"
                          "<td>%.0f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>"
                          "<td>%.2f</td><td>%.0f</td></tr>\n",
                          HtmlEscape(r.description), HtmlEscape(r.name), r.count, r.mean, r.std,
                          r.min, r.p25, r.p50, r.p75, r.p90, r.p99, r.max);
  }
  return html + "</tbody>\n</table>\n";
}

constexpr char kStyle[] =
    R"(body{font-family:sans-serif;margin:24px;color:#222;background:#fff;max-width:1100px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:14px;margin:18px 0 4px}
.status{padding:8px 12px;border-radius:4px;margin:8px 0}
.complete{background:#e6f4ea;border:1px solid #9ccaa8}.incomplete{background:#fdecea;border:1px solid #e0a39b}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:8px 0}dt{font-weight:bold}dd{margin:0}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}th:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:8px 24px}.chart{flex:0 0 auto;margin:0}
svg{font-family:sans-serif;background:#fff}.bar{fill:#3b6fb6}.axis{stroke:#333;stroke-width:1}
.grid{stroke:#e3e3e3;stroke-width:1}.tick{font-size:10px;fill:#333}.label{font-size:12px;fill:#111}
.empty{width:480px;padding:16px;border:1px dashed #bbb;color:#555}
pre{background:#f6f6f6;padding:10px;overflow:auto;font-size:12px;max-height:480px;white-space:pre-wrap;word-break:break-all}
)";

}  // namespace

StatisticRow RowOf(std::string name, std::string description, const SummaryStatistic& s) {
  StatisticRow row;
  row.name = std::move(name);
  row.description = std::move(description);
  row.count = s.count();
  row.mean = s.mean();
  row.std = s.std();
  row.min = s.min();
  row.p25 = s.Quantile(0.25);
  row.p50 = s.Quantile(0.5);
  row.p75 = s.Quantile(0.75);
  row.p90 = s.Quantile(0.9);
  row.p99 = s.Quantile(0.99);
  row.max = s.max();
  return row;
}

WorkloadReport BuildWorkloadReport(const WorkloadCollector& collector, RunInfo run) {
  WorkloadReport report;
  const GenerationSummary& s = collector.summary();
  report.conversations = s.conversations;
  report.messages = s.messages;
  report.user_tokens = s.user_tokens;
  report.assistant_tokens = s.assistant_tokens;
  report.print_stats = {
      RowOf("conversation_turns", "messages per conversation", s.turns),
      RowOf("user_tokens", "mean user tokens per exchange, per conversation", s.mean_user_tokens),
      RowOf("assistant_tokens", "mean assistant tokens per exchange, per conversation",
            s.mean_assistant_tokens),
      RowOf("request_tokens", "tokens of each request: the history plus the user message",
            s.request_tokens),
  };
  report.per_message = {
      RowOf("user_tokens_per_message", "tokens of each user message",
            collector.user_tokens_per_message().statistic()),
      RowOf("assistant_tokens_per_message", "tokens of each assistant message",
            collector.assistant_tokens_per_message().statistic()),
  };
  // Think times the messages carry chart even if the config was not read.
  if (run.has_think_time || collector.think_time_ms().count() > 0) {
    report.per_message.push_back(RowOf("think_time_ms", "think time before each user message",
                                       collector.think_time_ms().statistic()));
  }
  // Groups: [0, num_groups) (or up to the largest seen, if the config was not
  // read), unpicked groups counting 0.
  const std::map<int64_t, int64_t>& groups = collector.prefix_groups();
  int64_t num_groups = run.num_prefix_groups;
  if (!groups.empty()) num_groups = std::max(num_groups, groups.rbegin()->first + 1);
  if (num_groups > 0) {
    SummaryStatistic per_group;
    for (int64_t g = 0; g < num_groups; ++g) {
      const auto it = groups.find(g);
      per_group.Add(static_cast<double>(it == groups.end() ? 0 : it->second));
    }
    report.per_message.push_back(
        RowOf("conversations_per_prefix_group", "conversations in each prefix group", per_group));
  }

  const bool none = s.conversations == 0;
  const std::string no_conversations = "no conversation was received";
  report.charts.push_back(ChartOf("conversation_turns", "Messages per conversation",
                                  "messages (user + assistant)",
                                  collector.turns().Bins(kReportMaxBins), no_conversations));
  report.charts.push_back(ChartOf("user_tokens_per_message", "User tokens per message", "tokens",
                                  collector.user_tokens_per_message().Bins(kReportMaxBins),
                                  no_conversations));
  report.charts.push_back(
      ChartOf("assistant_tokens_per_message", "Assistant tokens per message", "tokens",
              collector.assistant_tokens_per_message().Bins(kReportMaxBins), no_conversations));
  report.charts.push_back(
      ChartOf("request_tokens", "Request tokens (history + user message, per request)", "tokens",
              collector.request_tokens().Bins(kReportMaxBins), no_conversations));
  report.charts.push_back(ChartOf("think_time_ms", "Think time before each user message",
                                  "milliseconds", collector.think_time_ms().Bins(kReportMaxBins),
                                  !run.has_think_time
                                      ? "the config has no prompt_input.think_time_ms"
                                  : none ? no_conversations
                                         : "no user message carried a think time"));
  report.charts.push_back(ChartOf(
      "prefix_groups", "Prefix-group popularity (conversations per group)", "prefix group index",
      num_groups > 0 ? BinCounts(groups, 0, num_groups - 1, kReportMaxBins)
                     : std::vector<HistogramBin>{},
      num_groups == 0 ? "the config has no prompt_input.prefix_groups" : no_conversations));
  report.charts.back().y_label = "conversations";
  for (HistogramChart& chart : report.charts) {
    if (chart.y_label.empty())
      chart.y_label = chart.name == "conversation_turns"
                          ? "conversations"
                          : (chart.name == "request_tokens" ? "requests" : "messages");
  }
  report.run = std::move(run);
  return report;
}

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderHtmlReport(const WorkloadReport& report) {
  const RunInfo& run = report.run;
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      // Nothing may load: no script, no font, no image from anywhere.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\">\n"
      "<title>convgen workload report</title>\n<style>\n",
      kStyle, "</style>\n</head>\n<body>\n<h1>convgen workload report</h1>\n");
  if (run.complete) {
    absl::StrAppend(&html,
                    "<p class=\"status complete\" id=\"status\">Complete: ", report.conversations,
                    " conversations, ", report.messages, " messages.</p>\n");
  } else {
    absl::StrAppend(&html, "<p class=\"status incomplete\" id=\"status\">Incomplete: ",
                    HtmlEscape(run.incomplete_reason), ". This report covers the ",
                    report.conversations,
                    " conversations received complete (the ones the partial output holds), not "
                    "the whole run.</p>\n");
  }
  absl::StrAppend(
      &html, "<dl>\n<dt>server</dt><dd>", HtmlEscape(run.server), "</dd>\n<dt>tokenizer</dt><dd>",
      run.tokenizer.empty() ? "(the server's default)" : HtmlEscape(run.tokenizer),
      "</dd>\n<dt>seed</dt><dd>", run.seed, "</dd>\n<dt>shard</dt><dd>", run.shard_index, "/",
      run.shard_count, "</dd>\n<dt>start index</dt><dd>", run.start_index,
      "</dd>\n<dt>conversations</dt><dd>", report.conversations, "</dd>\n<dt>messages</dt><dd>",
      report.messages, "</dd>\n<dt>user tokens</dt><dd>", report.user_tokens,
      "</dd>\n<dt>assistant tokens</dt><dd>", report.assistant_tokens, "</dd>\n</dl>\n");
  html += "<h2>Histograms</h2>\n<div class=\"charts\">\n";
  for (const HistogramChart& chart : report.charts) {
    absl::StrAppend(&html, "<figure class=\"chart\" id=\"chart-", HtmlEscape(chart.name),
                    "\">\n<h3>", HtmlEscape(chart.title), "</h3>\n");
    if (chart.bins.empty()) {
      absl::StrAppend(&html, "<p class=\"empty\">No data: ", HtmlEscape(chart.empty_reason),
                      ".</p>\n");
    } else {
      html += RenderSvg(chart);
    }
    html += "</figure>\n";
  }
  html += "</div>\n";
  html +=
      "<h2>Statistics (as --print-stats)</h2>\n<p>Quantiles interpolate between order "
      "statistics as pandas does; exact for values below 512, within 0.4% above.</p>\n";
  html += RenderTable(report.print_stats);
  html += "<h2>Per message</h2>\n";
  html += RenderTable(report.per_message);
  absl::StrAppend(&html, "<h2>Config (as sent)</h2>\n<pre id=\"config\">",
                  HtmlEscape(run.config_json), "</pre>\n</body>\n</html>\n");
  return html;
}

std::string RenderStatsJson(const WorkloadReport& report) {
  using Json = nlohmann::ordered_json;
  const RunInfo& run = report.run;
  const auto rows = [](const std::vector<StatisticRow>& list) {
    Json out = Json::object();
    for (const StatisticRow& r : list) {
      out[r.name] = {{"count", r.count}, {"mean", r.mean}, {"std", r.std}, {"min", r.min},
                     {"p25", r.p25},     {"p50", r.p50},   {"p75", r.p75}, {"p90", r.p90},
                     {"p99", r.p99},     {"max", r.max}};
    }
    return out;
  };
  Json charts = Json::object();
  for (const HistogramChart& chart : report.charts) {
    Json bins = Json::array();
    for (const HistogramBin& bin : chart.bins) {
      bins.push_back({{"lo", bin.lo}, {"hi", bin.hi}, {"count", bin.count}});
    }
    charts[chart.name] = {{"title", chart.title},
                          {"x_label", chart.x_label},
                          {"y_label", chart.y_label},
                          {"total", chart.total},
                          {"bins", std::move(bins)}};
    if (chart.bins.empty()) charts[chart.name]["empty_reason"] = chart.empty_reason;
  }
  Json json = {
      {"schema", "convgen.workload_stats.v1"},
      {"complete", run.complete},
      {"incomplete_reason", run.incomplete_reason},
      {"run",
       {{"server", run.server},
        {"tokenizer", run.tokenizer},
        {"seed", run.seed},
        {"shard_index", run.shard_index},
        {"shard_count", run.shard_count},
        {"start_index", run.start_index},
        {"config_json", run.config_json}}},
      {"totals",
       {{"conversations", report.conversations},
        {"messages", report.messages},
        {"user_tokens", report.user_tokens},
        {"assistant_tokens", report.assistant_tokens}}},
      {"print_stats", rows(report.print_stats)},
      {"per_message", rows(report.per_message)},
      {"histograms", std::move(charts)},
  };
  // Invalid UTF-8 in the config (the server refuses it anyway) is replaced,
  // never thrown on.
  return json.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace convgen
