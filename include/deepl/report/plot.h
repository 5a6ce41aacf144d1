#pragma once
// Figures drawn with cairo (vector drawing and text, PNG output) and written atomically:
// confusion-matrix heatmaps, learning curves, image grids, line/scatter charts. The chart
// description and its axes (range, ticks) are shared with the SVG charts of report/html.h.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace deepl::report {

/// Heatmap of a K x K confusion matrix (row-major counts; rows = true class), counts in the cells,
/// class names on the axes.
void write_confusion_matrix_png(const std::filesystem::path& path, const std::vector<int64_t>& counts,
                                const std::vector<std::string>& class_names, const std::string& title);

struct Series {
  std::string name;
  std::vector<double> x, y;
  uint32_t rgb = 0x1f77b4;  // 0xRRGGBB
  bool points = false;      // markers instead of a line
};

struct Chart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
};

/// The axes' extent of a chart: its finite points, a degenerate span widened, y padded by 5% (and x,
/// when a series is drawn as markers).
struct ChartRange {
  double xmin, xmax, ymin, ymax;
};
ChartRange chart_range(const Chart& chart);
/// A "nice" tick step (1, 2, 2.5 or 5 times a power of ten) giving about `target` ticks over `span`.
double tick_step(double span, int target);
/// A tick's label, with as many decimals as `step` needs.
std::string tick_label(double v, double step);

/// Charts side by side in one PNG (e.g. loss and accuracy per epoch).
void write_charts_png(const std::filesystem::path& path, const std::vector<Chart>& charts);

struct GridImage {
  std::vector<uint8_t> pixels;  // H x W grayscale, row-major
  int64_t height = 0, width = 0;
  std::string caption;
  bool highlight = false;  // caption in red (e.g. a mistake)
};

struct ContourPlot {
  std::string title;
  double x_min = -1, x_max = 1, y_min = -1, y_max = 1;
  int64_t nx = 0, ny = 0;
  std::vector<double> values;  // ny x nx, row-major, row 0 at y_min
  std::vector<Series> paths;   // drawn over the map (e.g. optimiser trajectories)
  std::vector<std::pair<double, double>> markers;  // e.g. known minima
};

/// A filled contour map (log-scaled colours, iso-lines) with paths and markers on top.
void write_contour_png(const std::filesystem::path& path, const ContourPlot& plot);

/// A grid of grayscale images with a caption under each.
void write_image_grid_png(const std::filesystem::path& path, const std::vector<GridImage>& images,
                          const std::string& title, int columns = 8);

}  // namespace deepl::report
