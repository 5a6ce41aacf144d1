#pragma once
// Looking at the data, as the notebooks start by doing: an image grid with labels, and statistics.
#include <filesystem>
#include <string>

namespace deepl::run {

/// Writes a PNG grid of `count` images of a data set's split (seeded random pick) with their labels.
void write_data_grid(const std::string& dataset, const std::string& split, int count, uint64_t seed,
                     const std::filesystem::path& out, const std::string& root = "");
/// Counts per class, pixel mean/std, image size of both splits, as a text table.
std::string data_stats(const std::string& dataset, const std::string& root = "");

}  // namespace deepl::run
