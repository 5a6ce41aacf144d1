#include "deepl/report/html.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdlib>

#include "deepl/core/files.h"

namespace deepl::report {

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t v = 0;
    for (size_t k = 0; k < 3; ++k) v = (v << 8) | (k < n ? static_cast<uint8_t>(bytes[i + k]) : 0u);
    for (size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

std::string png_data_uri(const std::filesystem::path& png) {
  return "data:image/png;base64," + base64_encode(read_file(png));
}

uint32_t series_color(size_t i) {
  static constexpr std::array<uint32_t, 10> kColors = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                                      0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
  return kColors[i % kColors.size()];
}

namespace {

// Where the plot area lies in the SVG and how data maps onto it.
struct Frame {
  double left, right, top, bottom;
  ChartRange r;
  double x(double v) const { return left + (v - r.xmin) / (r.xmax - r.xmin) * (right - left); }
  double y(double v) const { return bottom - (v - r.ymin) / (r.ymax - r.ymin) * (bottom - top); }
};

std::string svg_text(double x, double y, const std::string& text, const std::string& attrs = "") {
  return fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\"{}>{}</text>", x, y, attrs.empty() ? "" : " " + attrs,
                     escape_html(text));
}

// True when every x is a whole number (epochs): then x ticks are whole numbers too.
bool whole_x(const Chart& chart) {
  for (const auto& s : chart.series)
    for (double x : s.x)
      if (x != std::floor(x)) return false;
  return true;
}

std::string svg_axes(const Chart& chart, const Frame& f, int width) {
  std::string out;
  double xs = tick_step(f.r.xmax - f.r.xmin, 6);
  if (xs < 1 && whole_x(chart)) xs = 1;
  const double ys = tick_step(f.r.ymax - f.r.ymin, 6);
  for (double t = std::ceil(f.r.ymin / ys) * ys; t <= f.r.ymax + 1e-12; t += ys) {
    out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e5e5e5\"/>", f.left,
                       f.y(t), f.right, f.y(t));
    out += svg_text(f.left - 6, f.y(t) + 4, tick_label(t, ys), "text-anchor=\"end\"");
  }
  for (double t = std::ceil(f.r.xmin / xs) * xs; t <= f.r.xmax + 1e-12; t += xs) {
    out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e5e5e5\"/>", f.x(t),
                       f.top, f.x(t), f.bottom);
    out += svg_text(f.x(t), f.bottom + 16, tick_label(t, xs), "text-anchor=\"middle\"");
  }
  out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" stroke=\"#333\"/>",
                     f.left, f.top, f.right - f.left, f.bottom - f.top);
  out += svg_text(width / 2.0, 20, chart.title, "text-anchor=\"middle\" font-weight=\"bold\" font-size=\"15\"");
  out += svg_text((f.left + f.right) / 2, f.bottom + 33, chart.x_label, "text-anchor=\"middle\"");
  out += svg_text(16, (f.top + f.bottom) / 2, chart.y_label,
                  fmt::format("text-anchor=\"middle\" transform=\"rotate(-90 16 {:.1f})\"", (f.top + f.bottom) / 2));
  return out;
}

std::string svg_series(const Series& s, const Frame& f) {
  std::string points;
  size_t n = 0;
  for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
    if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
    points += fmt::format("{}{:.1f},{:.1f}", n++ ? " " : "", f.x(s.x[i]), f.y(s.y[i]));
  }
  if (n == 0) return "";
  const std::string color = fmt::format("#{:06x}", s.rgb);
  if (n == 1 || s.points) {
    std::string dots;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
        dots += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>", f.x(s.x[i]), f.y(s.y[i]), color);
      }
    }
    return dots;
  }
  return fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>",
                     color, points, escape_html(s.name));
}

constexpr double kLegendEntry = 170, kLegendRow = 18;

std::string svg_legend(const std::vector<Series>& series, double x0, double y0, int per_row) {
  std::string out;
  for (size_t i = 0; i < series.size(); ++i) {
    const double x = x0 + static_cast<double>(static_cast<int>(i) % per_row) * kLegendEntry;
    const double y = y0 + static_cast<double>(static_cast<int>(i) / per_row) * kLegendRow;
    out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"14\" height=\"4\" fill=\"#{:06x}\"/>", x, y - 6,
                       series[i].rgb);
    std::string name = series[i].name;
    if (name.size() > 22) name = name.substr(0, 21) + "~";
    out += svg_text(x + 18, y, name);
  }
  return out;
}

}  // namespace

std::string svg_line_chart(const Chart& chart, int width, int height) {
  const int per_row = std::max(1, static_cast<int>((width - 70) / kLegendEntry));
  const int legend_rows = (static_cast<int>(chart.series.size()) + per_row - 1) / per_row;
  const double total_height = height + legend_rows * kLegendRow;
  const Frame f{64, width - 16.0, 34, height - 58.0, chart_range(chart)};
  std::string out = fmt::format(
      "<svg role=\"img\" viewBox=\"0 0 {} {:.0f}\" width=\"{}\" height=\"{:.0f}\" font-family=\"sans-serif\" "
      "font-size=\"12\" aria-label=\"{}\"><title>{}</title><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>",
      width, total_height, width, total_height, escape_html(chart.title), escape_html(chart.title));
  out += svg_axes(chart, f, width);
  for (const auto& s : chart.series) out += svg_series(s, f);
  out += svg_legend(chart.series, f.left, height - 4.0, per_row);
  return out + "</svg>";
}

namespace {

bool is_number(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

constexpr const char* kStyle =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:62rem;margin:0 auto;padding:1rem;"
    "color:#222;line-height:1.45}"
    "h1{font-size:1.5rem;overflow-wrap:anywhere}h2{font-size:1.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;"
    "margin-top:2rem}"
    ".scroll{overflow-x:auto;max-width:100%}"
    "table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}"
    "th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;white-space:nowrap}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}"
    "caption{text-align:left;font-style:italic;padding:.2rem 0}"
    "img,svg{max-width:100%;height:auto}figure{margin:.5rem 0}figcaption{font-size:.85rem;color:#555}"
    "pre{overflow-x:auto;background:#f7f7f7;padding:.5rem;font-size:.8rem}";

}  // namespace

Page::Page(std::string title) : title_(std::move(title)) {}

void Page::section(const std::string& id, const std::string& heading) {
  if (in_section_) body_ += "</section>\n";
  body_ += fmt::format("<section id=\"{}\">\n<h2>{}</h2>\n", escape_html(id), escape_html(heading));
  in_section_ = true;
}

void Page::paragraph(const std::string& text) { body_ += "<p>" + escape_html(text) + "</p>\n"; }

void Page::table(const Table& table) {
  body_ += "<div class=\"scroll\"><table>";
  if (!table.caption.empty()) body_ += "<caption>" + escape_html(table.caption) + "</caption>";
  body_ += "<thead><tr>";
  for (const auto& h : table.header) body_ += "<th scope=\"col\">" + escape_html(h) + "</th>";
  body_ += "</tr></thead>\n<tbody>\n";
  for (const auto& row : table.rows) {
    body_ += "<tr>";
    for (const auto& cell : row) body_ += (is_number(cell) ? "<td class=\"num\">" : "<td>") + escape_html(cell) + "</td>";
    body_ += "</tr>\n";
  }
  body_ += "</tbody></table></div>\n";
}

void Page::facts(const std::vector<std::pair<std::string, std::string>>& rows) {
  body_ += "<div class=\"scroll\"><table><tbody>\n";
  for (const auto& [name, value] : rows) {
    body_ += "<tr><th scope=\"row\">" + escape_html(name) + "</th><td>" + escape_html(value) + "</td></tr>\n";
  }
  body_ += "</tbody></table></div>\n";
}

void Page::details(const std::string& summary, const std::string& preformatted) {
  body_ += "<details><summary>" + escape_html(summary) + "</summary><pre>" + escape_html(preformatted) +
           "</pre></details>\n";
}

void Page::image(const std::filesystem::path& png, const std::string& caption) {
  body_ += fmt::format("<figure><img src=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>\n", png_data_uri(png),
                       escape_html(caption), escape_html(caption));
}

void Page::raw(const std::string& html) { body_ += html + "\n"; }

std::string Page::html() const {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n"
      "<style>{}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n{}{}</main>\n</body>\n</html>\n",
      escape_html(title_), kStyle, escape_html(title_), body_, in_section_ ? "</section>\n" : "");
}

}  // namespace deepl::report
