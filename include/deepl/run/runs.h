#pragma once
// `deepl runs`: the run folders under a folder, read tolerantly (a run still running has no test
// metrics; a malformed file is warned about and the run listed with what is known), as a table
// that sorts and filters, printed as text, CSV or JSON, or as an HTML comparison page.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "deepl/core/json_util.h"
#include "deepl/report/plot.h"

namespace deepl::run {

/// What a run folder holds; each part is null (or empty) when its file is missing or malformed.
struct RunFolder {
  std::filesystem::path dir;
  nlohmann::json config;               // config.json
  nlohmann::json manifest;             // manifest.json
  nlohmann::json test;                 // metrics.json (test metrics)
  std::vector<nlohmann::json> epochs;  // metrics.jsonl, one object per epoch

  /// The manifest's name, else the config's, else the folder's name.
  std::string name() const;
  /// The manifest's status ("running", "interrupted", "finished"), or "" without a manifest.
  std::string status() const;
};

/// A JSON object file, or null when missing; a malformed one is warned about (naming it) and read as null.
nlohmann::json read_object_tolerant(const std::filesystem::path& path);

/// Reads a run folder (or an eval folder); warns once per malformed file, naming it.
RunFolder read_run_folder(const std::filesystem::path& dir);

/// Every folder under `dir` (recursively, `dir` included) that holds a manifest.json, sorted by
/// path. Throws a usage error naming `dir` when it is not a folder.
std::vector<std::filesystem::path> find_run_folders(const std::filesystem::path& dir);

/// The columns of the runs table, in order; their names are what --sort and --filter take.
const std::vector<std::string>& run_columns();

/// A run's row: the folder and one JSON value per column (null when unknown).
struct RunRow {
  RunFolder run;
  nlohmann::json cells;  // object: column -> value
};

RunRow make_run_row(RunFolder run);

struct RunsQuery {
  /// A column; "-column" sorts descending. Numbers sort numerically, unknown values last.
  std::string sort = "started";
  /// "key=value": key is a column or a dotted config key (model.type, optimizer.lr); numbers
  /// compare numerically, anything else as text. Every filter must match.
  std::vector<std::string> filters;
};

/// Keeps the rows that match every filter and sorts them; throws a usage error for an unknown
/// sort column or a filter without '='.
std::vector<RunRow> select_runs(std::vector<RunRow> rows, const RunsQuery& query);

/// The rows of the run folders under `dir`, selected by `query`.
std::vector<RunRow> list_runs(const std::filesystem::path& dir, const RunsQuery& query);

/// "table" (aligned text), "csv" or "json" (an array of objects); throws a usage error otherwise.
std::string format_runs(const std::vector<RunRow>& rows, const std::string& format);

/// The comparison page: the table, validation accuracy and loss curves overlaid, and the config
/// keys whose values differ between the runs (one column per run); written atomically.
void write_runs_page(const std::filesystem::path& out, const std::vector<RunRow>& rows, const std::string& title);

/// The per-epoch values of `key` (val_accuracy, train_loss, ...) as a chart series against the
/// epoch; epochs without a number there are skipped.
report::Series epoch_series(const std::vector<nlohmann::json>& epochs, const std::string& key, const std::string& name,
                            uint32_t rgb);

/// A column's value as text: accuracies with 4 decimals, seconds with 1, unknown as "-".
std::string column_text(const std::string& column, const nlohmann::json& value);

/// A value as a table cell: "-" for null, numbers compactly, strings as they are.
std::string cell_text(const nlohmann::json& value);

}  // namespace deepl::run
