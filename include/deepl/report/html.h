#pragma once
// Self-contained HTML pages: escaping, PNGs embedded as data: URIs, inline SVG line charts and a
// small page builder (inline CSS, no JavaScript, no network references). Pages read well on a
// phone (viewport, max-width, tables scroll in a wrapper) and in a terminal browser (headings,
// tables, alt texts).
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deepl/report/plot.h"

namespace deepl::report {

/// Escapes &, <, >, " and ' for text and attribute values.
std::string escape_html(std::string_view text);
/// Standard base64 (RFC 4648, with padding).
std::string base64_encode(std::string_view bytes);
/// "data:image/png;base64,..." of a PNG file; throws a data error naming the file when unreadable.
std::string png_data_uri(const std::filesystem::path& png);
/// A distinct colour (0xRRGGBB) for series i of a chart (a 10-colour cycle).
uint32_t series_color(size_t i);

/// An SVG line chart: axes with ticks and labels, grid, one polyline per series (points where a
/// series has a single point), a legend. `chart.title` becomes the SVG's accessible title.
std::string svg_line_chart(const Chart& chart, int width = 640, int height = 340);

/// A table of plain-text cells (escaped when rendered).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string caption;  // optional
};

/// Builds one HTML page, section by section.
class Page {
 public:
  explicit Page(std::string title);
  /// Starts `<section id=id>` with an `<h2>` (closing the previous section).
  void section(const std::string& id, const std::string& heading);
  void paragraph(const std::string& text);
  /// A table in a horizontally scrolling wrapper.
  void table(const Table& table);
  /// Two-column table of name/value facts.
  void facts(const std::vector<std::pair<std::string, std::string>>& rows);
  /// A collapsible `<details>` holding preformatted text.
  void details(const std::string& summary, const std::string& preformatted);
  /// A PNG file embedded as a data: URI, as a figure with its caption (alt text = caption).
  void image(const std::filesystem::path& png, const std::string& caption);
  /// Trusted markup (e.g. svg_line_chart's output), inserted as is.
  void raw(const std::string& html);
  /// The whole document.
  std::string html() const;

 private:
  std::string title_, body_;
  bool in_section_ = false;
};

}  // namespace deepl::report
