#include "deepl/report/plot.h"

#include <cairo.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "deepl/core/error.h"
#include "deepl/core/files.h"

namespace deepl::report {

namespace {

using SurfacePtr = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;
using ContextPtr = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;

struct Canvas {
  SurfacePtr surface;
  ContextPtr cr;
  Canvas(int w, int h)
      : surface(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h), cairo_surface_destroy),
        cr(cairo_create(surface.get()), cairo_destroy) {
    cairo_set_source_rgb(cr.get(), 1, 1, 1);
    cairo_paint(cr.get());
    cairo_select_font_face(cr.get(), "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  }
};

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void save_png(Canvas& canvas, const std::filesystem::path& path) {
  std::string bytes;
  cairo_surface_flush(canvas.surface.get());
  if (cairo_surface_write_to_png_stream(canvas.surface.get(), append_to_string, &bytes) != CAIRO_STATUS_SUCCESS) {
    throw_failure(path.string() + ": PNG encoding failed");
  }
  write_file_atomic(path, bytes);
}

void set_rgb(cairo_t* cr, uint32_t rgb) {
  cairo_set_source_rgb(cr, ((rgb >> 16) & 0xFF) / 255.0, ((rgb >> 8) & 0xFF) / 255.0, (rgb & 0xFF) / 255.0);
}

// Draws text with its anchor at (x, y): ax/ay in {0, 0.5, 1} pick left/centre/right, top/middle/bottom.
void text(cairo_t* cr, const std::string& s, double x, double y, double size, double ax = 0.5, double ay = 0.5,
          bool bold = false, double angle = 0.0) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t ext;
  cairo_text_extents(cr, s.c_str(), &ext);
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, -ext.x_bearing - ext.width * ax, -ext.y_bearing - ext.height * ay);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

// Blues colormap, t in [0, 1].
void heat_color(cairo_t* cr, double t) {
  const double r = 0.97 - 0.9 * t, g = 0.98 - 0.6 * t, b = 1.0 - 0.35 * t;
  cairo_set_source_rgb(cr, std::clamp(r, 0.0, 1.0), std::clamp(g, 0.0, 1.0), std::clamp(b, 0.0, 1.0));
}

void draw_chart(cairo_t* cr, const Chart& chart, double x0, double y0, double w, double h) {
  const double left = x0 + 70, right = x0 + w - 20, top = y0 + 40, bottom = y0 + h - 55;
  const ChartRange range = chart_range(chart);
  const double xmin = range.xmin, xmax = range.xmax, ymin = range.ymin, ymax = range.ymax;
  auto px = [&](double x) { return left + (x - xmin) / (xmax - xmin) * (right - left); };
  auto py = [&](double y) { return bottom - (y - ymin) / (ymax - ymin) * (bottom - top); };

  cairo_set_source_rgb(cr, 0, 0, 0);
  text(cr, chart.title, (left + right) / 2, y0 + 18, 15, 0.5, 0.5, true);
  text(cr, chart.x_label, (left + right) / 2, y0 + h - 15, 12);
  text(cr, chart.y_label, x0 + 14, (top + bottom) / 2, 12, 0.5, 0.5, false, -M_PI / 2);

  cairo_set_line_width(cr, 1);
  const double xs = tick_step(xmax - xmin, 6), ys = tick_step(ymax - ymin, 6);
  for (double t = std::ceil(ymin / ys) * ys; t <= ymax + 1e-12; t += ys) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, left, py(t));
    cairo_line_to(cr, right, py(t));
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    text(cr, tick_label(t, ys), left - 6, py(t), 11, 1.0, 0.5);
  }
  for (double t = std::ceil(xmin / xs) * xs; t <= xmax + 1e-12; t += xs) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, px(t), top);
    cairo_line_to(cr, px(t), bottom);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    text(cr, tick_label(t, xs), px(t), bottom + 12, 11);
  }
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_rectangle(cr, left, top, right - left, bottom - top);
  cairo_stroke(cr);

  cairo_save(cr);
  cairo_rectangle(cr, left, top, right - left, bottom - top);
  cairo_clip(cr);
  for (const auto& s : chart.series) {
    set_rgb(cr, s.rgb);
    cairo_set_line_width(cr, 2);
    bool pen_down = false;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) {
        pen_down = false;
        continue;
      }
      if (s.points || s.x.size() == 1) {
        cairo_arc(cr, px(s.x[i]), py(s.y[i]), 3, 0, 2 * M_PI);
        cairo_fill(cr);
        continue;
      }
      if (pen_down) {
        cairo_line_to(cr, px(s.x[i]), py(s.y[i]));
      } else {
        cairo_move_to(cr, px(s.x[i]), py(s.y[i]));
      }
      pen_down = true;
    }
    if (!s.points) cairo_stroke(cr);
  }
  cairo_restore(cr);

  double ly = top + 12;
  int named = 0;
  for (const auto& s : chart.series) named += s.name.empty() ? 0 : 1;
  if (named > 0) {
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_rectangle(cr, right - 136, top + 3, 132, 18.0 * named + 2);
    cairo_fill(cr);
  }
  for (const auto& s : chart.series) {
    if (s.name.empty()) continue;
    set_rgb(cr, s.rgb);
    cairo_rectangle(cr, right - 130, ly - 5, 18, 10);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text(cr, s.name, right - 106, ly, 11, 0.0, 0.5);
    ly += 18;
  }
}

// Viridis-like ramp, t in [0, 1].
void map_color(cairo_t* cr, double t) {
  static const double stops[5][3] = {{0.27, 0.00, 0.33}, {0.23, 0.32, 0.55}, {0.13, 0.57, 0.55},
                                     {0.37, 0.79, 0.38}, {0.99, 0.91, 0.15}};
  t = std::clamp(t, 0.0, 1.0) * 4.0;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  cairo_set_source_rgb(cr, stops[i][0] + f * (stops[i + 1][0] - stops[i][0]), stops[i][1] + f * (stops[i + 1][1] - stops[i][1]),
                       stops[i][2] + f * (stops[i + 1][2] - stops[i][2]));
}

}  // namespace

// "Nice" tick step for a range, about `target` ticks.
double tick_step(double span, int target) {
  if (span <= 0) return 1;
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

std::string tick_label(double v, double step) {
  if (std::abs(v) < step * 1e-6) return "0";
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return fmt::format("{:.{}f}", v, decimals);
}

ChartRange chart_range(const Chart& chart) {
  ChartRange r{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
               std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
  for (const auto& s : chart.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      r.xmin = std::min(r.xmin, s.x[i]);
      r.xmax = std::max(r.xmax, s.x[i]);
      r.ymin = std::min(r.ymin, s.y[i]);
      r.ymax = std::max(r.ymax, s.y[i]);
    }
  }
  if (!std::isfinite(r.xmin)) r = {0, 1, 0, 1};
  if (r.xmax - r.xmin < 1e-12) r.xmin -= 0.5, r.xmax += 0.5;
  if (r.ymax - r.ymin < 1e-12) r.ymin -= 0.5, r.ymax += 0.5;
  const double ypad = 0.05 * (r.ymax - r.ymin);
  r.ymin -= ypad;
  r.ymax += ypad;
  // Markers at the edges would be cut in half: scatter charts get x padding too.
  if (std::any_of(chart.series.begin(), chart.series.end(), [](const Series& s) { return s.points; })) {
    const double xpad = 0.05 * (r.xmax - r.xmin);
    r.xmin -= xpad;
    r.xmax += xpad;
  }
  return r;
}

namespace {

// Where a contour plot's grid and coordinates land on the canvas, and its values on a 0..1 log scale.
struct ContourFrame {
  const ContourPlot& p;
  int left = 60, top = 40, size = 520, right = 240, bottom = 50;
  double lo = 0, hi = 1, cw = 0, ch = 0;

  explicit ContourFrame(const ContourPlot& plot) : p(plot) {
    lo = *std::min_element(p.values.begin(), p.values.end());
    hi = 0;
    for (double v : p.values) hi = std::max(hi, level(v));
    if (hi <= 0) hi = 1;
    cw = static_cast<double>(size) / static_cast<double>(p.nx - 1);
    ch = static_cast<double>(size) / static_cast<double>(p.ny - 1);
  }
  double level(double v) const { return std::log1p(std::max(0.0, v - lo)); }
  double px(double x) const { return left + (x - p.x_min) / (p.x_max - p.x_min) * size; }
  double py(double y) const { return top + size - (y - p.y_min) / (p.y_max - p.y_min) * size; }
  double at(int64_t i, int64_t j) const { return level(p.values[static_cast<size_t>(j * p.nx + i)]) / hi; }
};

void draw_heat(cairo_t* cr, const ContourFrame& f) {
  for (int64_t j = 0; j + 1 < f.p.ny; ++j) {
    for (int64_t i = 0; i + 1 < f.p.nx; ++i) {
      map_color(cr, (f.at(i, j) + f.at(i + 1, j) + f.at(i, j + 1) + f.at(i + 1, j + 1)) / 4);
      cairo_rectangle(cr, f.left + i * f.cw, f.top + f.size - (j + 1) * f.ch, f.cw + 0.5, f.ch + 0.5);
      cairo_fill(cr);
    }
  }
}

// Iso-lines by marching squares on the log scale.
void draw_iso_lines(cairo_t* cr, const ContourFrame& f) {
  cairo_set_source_rgba(cr, 1, 1, 1, 0.45);
  cairo_set_line_width(cr, 0.8);
  for (int k = 1; k <= 14; ++k) {
    const double iso = k / 15.0;
    for (int64_t j = 0; j + 1 < f.p.ny; ++j) {
      for (int64_t i = 0; i + 1 < f.p.nx; ++i) {
        const double v[4] = {f.at(i, j), f.at(i + 1, j), f.at(i + 1, j + 1), f.at(i, j + 1)};
        const double cx[4] = {0, 1, 1, 0}, cy[4] = {0, 0, 1, 1};
        std::vector<std::pair<double, double>> cuts;
        for (int e = 0; e < 4; ++e) {
          const int g = (e + 1) % 4;
          if ((v[e] < iso) != (v[g] < iso)) {
            const double t = (iso - v[e]) / (v[g] - v[e]);
            cuts.emplace_back(cx[e] + t * (cx[g] - cx[e]), cy[e] + t * (cy[g] - cy[e]));
          }
        }
        for (size_t c = 0; c + 1 < cuts.size(); c += 2) {
          cairo_move_to(cr, f.left + (i + cuts[c].first) * f.cw, f.top + f.size - (j + cuts[c].second) * f.ch);
          cairo_line_to(cr, f.left + (i + cuts[c + 1].first) * f.cw, f.top + f.size - (j + cuts[c + 1].second) * f.ch);
        }
      }
    }
    cairo_stroke(cr);
  }
}

void draw_paths_and_markers(cairo_t* cr, const ContourFrame& f) {
  cairo_save(cr);
  cairo_rectangle(cr, f.left, f.top, f.size, f.size);
  cairo_clip(cr);
  // Earlier paths are drawn wider, so paths that run along each other stay visible.
  double width = 1.5 + 0.8 * static_cast<double>(f.p.paths.size());
  for (const auto& s : f.p.paths) {
    set_rgb(cr, s.rgb);
    width = std::max(1.2, width - 0.8);
    cairo_set_line_width(cr, width);
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (i == 0) {
        cairo_move_to(cr, f.px(s.x[i]), f.py(s.y[i]));
      } else {
        cairo_line_to(cr, f.px(s.x[i]), f.py(s.y[i]));
      }
    }
    cairo_stroke(cr);
    if (!s.x.empty()) {
      cairo_arc(cr, f.px(s.x.back()), f.py(s.y.back()), 4, 0, 2 * M_PI);
      cairo_fill(cr);
    }
  }
  for (const auto& [x, y] : f.p.markers) {
    cairo_set_source_rgb(cr, 1, 0.2, 0.2);
    cairo_set_line_width(cr, 2.5);
    cairo_move_to(cr, f.px(x) - 6, f.py(y) - 6);
    cairo_line_to(cr, f.px(x) + 6, f.py(y) + 6);
    cairo_move_to(cr, f.px(x) - 6, f.py(y) + 6);
    cairo_line_to(cr, f.px(x) + 6, f.py(y) - 6);
    cairo_stroke(cr);
  }
  cairo_restore(cr);
}

void draw_contour_frame(cairo_t* cr, const ContourFrame& f) {
  const ContourPlot& p = f.p;
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, f.left, f.top, f.size, f.size);
  cairo_stroke(cr);
  text(cr, p.title, f.left + f.size / 2.0, 20, 15, 0.5, 0.5, true);
  const double xs = tick_step(p.x_max - p.x_min, 6), ys = tick_step(p.y_max - p.y_min, 6);
  for (double t = std::ceil(p.x_min / xs) * xs; t <= p.x_max + 1e-12; t += xs) {
    text(cr, tick_label(t, xs), f.px(t), f.top + f.size + 12, 11);
  }
  for (double t = std::ceil(p.y_min / ys) * ys; t <= p.y_max + 1e-12; t += ys) {
    text(cr, tick_label(t, ys), f.left - 6, f.py(t), 11, 1.0, 0.5);
  }
  double ly = f.top + 10;
  for (const auto& s : p.paths) {
    set_rgb(cr, s.rgb);
    cairo_rectangle(cr, f.left + f.size + 14, ly - 5, 18, 10);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 0.8);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text(cr, s.name, f.left + f.size + 38, ly, 12, 0.0, 0.5);
    ly += 20;
  }
  cairo_set_source_rgb(cr, 1, 0.2, 0.2);
  text(cr, "x  known minimum", f.left + f.size + 14, ly, 12, 0.0, 0.5);
}

}  // namespace

void write_contour_png(const std::filesystem::path& path, const ContourPlot& p) {
  if (p.nx < 2 || p.ny < 2 || static_cast<int64_t>(p.values.size()) != p.nx * p.ny) {
    throw_failure(path.string() + ": contour grid does not match its size");
  }
  const ContourFrame frame(p);
  Canvas canvas(frame.left + frame.size + frame.right, frame.top + frame.size + frame.bottom);
  cairo_t* cr = canvas.cr.get();
  draw_heat(cr, frame);
  draw_iso_lines(cr, frame);
  draw_paths_and_markers(cr, frame);
  draw_contour_frame(cr, frame);
  save_png(canvas, path);
}

void write_confusion_matrix_png(const std::filesystem::path& path, const std::vector<int64_t>& counts,
                                const std::vector<std::string>& class_names, const std::string& title) {
  const auto k = static_cast<int>(class_names.size());
  if (static_cast<size_t>(k) * static_cast<size_t>(k) != counts.size()) {
    throw_failure(path.string() + ": confusion matrix size does not match the class names");
  }
  const int cell = k <= 10 ? 52 : std::max(16, 520 / std::max(1, k));
  const int left = 130, top = 70, right = 30, bottom = 120;
  Canvas canvas(left + k * cell + right, top + k * cell + bottom);
  cairo_t* cr = canvas.cr.get();
  int64_t row_max = 1;
  for (int i = 0; i < k; ++i) {
    int64_t row_total = 0;
    for (int j = 0; j < k; ++j) row_total += counts[static_cast<size_t>(i * k + j)];
    row_max = std::max(row_max, row_total);
  }
  for (int i = 0; i < k; ++i) {
    int64_t row_total = 0;
    for (int j = 0; j < k; ++j) row_total += counts[static_cast<size_t>(i * k + j)];
    for (int j = 0; j < k; ++j) {
      const int64_t c = counts[static_cast<size_t>(i * k + j)];
      // Colour by share of the true class, so rare classes read as clearly as common ones.
      const double t = row_total ? std::sqrt(static_cast<double>(c) / static_cast<double>(row_total)) : 0.0;
      heat_color(cr, t);
      cairo_rectangle(cr, left + j * cell, top + i * cell, cell, cell);
      cairo_fill(cr);
      if (t > 0.6) {
        cairo_set_source_rgb(cr, 1, 1, 1);
      } else {
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
      }
      text(cr, std::to_string(c), left + j * cell + cell / 2.0, top + i * cell + cell / 2.0, cell >= 40 ? 12 : 8);
    }
  }
  cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, left, top, k * cell, k * cell);
  cairo_stroke(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  text(cr, title, (left + k * cell / 2.0), 24, 16, 0.5, 0.5, true);
  for (int i = 0; i < k; ++i) {
    text(cr, class_names[static_cast<size_t>(i)], left - 8, top + i * cell + cell / 2.0, 12, 1.0, 0.5);
    text(cr, class_names[static_cast<size_t>(i)], left + i * cell + cell / 2.0, top + k * cell + 8, 12, 1.0, 0.5, false,
         -M_PI / 4);
  }
  text(cr, "predicted", left + k * cell / 2.0, top + k * cell + bottom - 14, 13, 0.5, 0.5, true);
  text(cr, "true", 16, top + k * cell / 2.0, 13, 0.5, 0.5, true, -M_PI / 2);
  save_png(canvas, path);
}

void write_charts_png(const std::filesystem::path& path, const std::vector<Chart>& charts) {
  const int w = charts.size() == 1 ? 640 : 480, h = 360;
  Canvas canvas(w * static_cast<int>(std::max<size_t>(1, charts.size())), h);
  for (size_t i = 0; i < charts.size(); ++i) draw_chart(canvas.cr.get(), charts[i], static_cast<double>(i) * w, 0, w, h);
  save_png(canvas, path);
}

void write_image_grid_png(const std::filesystem::path& path, const std::vector<GridImage>& images,
                          const std::string& title, int columns) {
  const int n = static_cast<int>(images.size());
  columns = std::max(1, std::min(columns, std::max(1, n)));
  const int rows = (n + columns - 1) / columns;
  const int scale = 3, pad = 8, caption = 18, header = 34;
  int max_h = 1, max_w = 1;
  for (const auto& im : images) {
    max_h = std::max<int>(max_h, static_cast<int>(im.height));
    max_w = std::max<int>(max_w, static_cast<int>(im.width));
  }
  const int cell_w = std::max(max_w * scale, 96) + pad, cell_h = max_h * scale + caption + pad;
  Canvas canvas(columns * cell_w + pad, header + rows * cell_h + pad);
  cairo_t* cr = canvas.cr.get();
  cairo_set_source_rgb(cr, 0, 0, 0);
  text(cr, title, (columns * cell_w + pad) / 2.0, header / 2.0, 15, 0.5, 0.5, true);
  for (int idx = 0; idx < n; ++idx) {
    const GridImage& im = images[static_cast<size_t>(idx)];
    const int x = pad + (idx % columns) * cell_w + (cell_w - pad - static_cast<int>(im.width) * scale) / 2;
    const int y = header + (idx / columns) * cell_h;
    const int stride = cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, static_cast<int>(im.width));
    std::vector<unsigned char> rgb(static_cast<size_t>(stride) * static_cast<size_t>(im.height));
    for (int64_t r = 0; r < im.height; ++r) {
      auto* row = reinterpret_cast<uint32_t*>(rgb.data() + r * stride);
      for (int64_t c = 0; c < im.width; ++c) {
        const uint32_t v = im.pixels[static_cast<size_t>(r * im.width + c)];
        row[c] = (v << 16) | (v << 8) | v;
      }
    }
    SurfacePtr img(cairo_image_surface_create_for_data(rgb.data(), CAIRO_FORMAT_RGB24, static_cast<int>(im.width),
                                                       static_cast<int>(im.height), stride),
                   cairo_surface_destroy);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_scale(cr, scale, scale);
    cairo_set_source_surface(cr, img.get(), 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_paint(cr);
    cairo_restore(cr);
    if (im.highlight) {
      cairo_set_source_rgb(cr, 0.8, 0.1, 0.1);
    } else {
      cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    }
    text(cr, im.caption, x + im.width * scale / 2.0, y + im.height * scale + caption / 2.0 + 1, 11);
  }
  save_png(canvas, path);
}

}  // namespace deepl::report
