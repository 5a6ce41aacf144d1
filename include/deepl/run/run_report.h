#pragma once
// report.html: one self-contained page per run folder (or `deepl eval --out` folder) made from
// what the folder holds: name, status, config, manifest facts, per-epoch table, learning curves
// (inline SVG and the PNG), confusion matrix, per-class precision/recall/F1, misclassified grid.
// Missing or malformed files leave their section with a note, so a running or interrupted run
// gets a report too.
#include <filesystem>

namespace deepl::run {

/// Writes <dir>/report.html atomically; returns its path.
std::filesystem::path write_run_report(const std::filesystem::path& dir);

}  // namespace deepl::run
