#pragma once
// Looking at the data, as the notebooks start by doing: an image grid with labels, and statistics.
#include <filesystem>
#include <string>
#include <vector>

#include "deepl/data/dataset.h"
#include "deepl/report/plot.h"

namespace deepl::run {

/// Image `index` of a data set as a grid cell with a caption (channels stacked vertically).
report::GridImage grid_image(const data::Dataset& dataset, int64_t index, std::string caption, bool highlight = false);
/// Writes a PNG grid of `count` images of a data set's split (seeded random pick) with their labels.
void write_data_grid(const std::string& dataset, const std::string& split, int count, uint64_t seed,
                     const std::filesystem::path& out, const std::string& root = "");
/// Counts per class, pixel mean/std, image size of both splits, as a text table.
std::string data_stats(const std::string& dataset, const std::string& root = "");

/// Fetches and verifies data sets (default: every registered one) into the data folder (`root`, else
/// resolve_data_root's choice) with the shipped fetcher and its checksums; returns that folder.
/// Throws a data error when the fetcher fails (it prints why).
std::filesystem::path fetch_data(const std::vector<std::string>& datasets, const std::string& root = "");

}  // namespace deepl::run
