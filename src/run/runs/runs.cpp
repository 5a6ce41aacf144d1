// `deepl runs`: reading run folders tolerantly, the runs table, sorting, filtering and formats.
#include "deepl/run/runs.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>

#include "deepl/core/csv.h"
#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// metrics.jsonl: one object per line; malformed lines are skipped with one warning per file.
std::vector<json> read_epochs_tolerant(const fs::path& path) {
  std::vector<json> epochs;
  if (!fs::exists(path)) return epochs;
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    spdlog::warn("{} (ignored)", e.what());
    return epochs;
  }
  std::istringstream lines(text);
  std::string line;
  int number = 0, bad = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.is_object()) {
      epochs.push_back(std::move(j));
    } else if (bad++ == 0) {
      spdlog::warn("{}: line {} is not a JSON object; skipped (and any other such line)", path.string(), number);
    }
  }
  return epochs;
}

std::string string_at(const json& j, const std::string& key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

json number_at(const json& j, const std::string& key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key] : json();
}

json best_val_accuracy(const std::vector<json>& epochs) {
  json best;
  for (const auto& e : epochs) {
    const json v = number_at(e, "val_accuracy");
    if (!v.is_null() && (best.is_null() || v.get<double>() > best.get<double>())) best = v;
  }
  return best;
}

// A dotted key ("optimizer.lr") in a JSON object; null when absent.
json dotted_value(const json& root, const std::string& key) {
  const json* node = &root;
  std::istringstream parts(key);
  std::string part;
  while (std::getline(parts, part, '.')) {
    if (!node->is_object() || !node->contains(part)) return nullptr;
    node = &(*node)[part];
  }
  return *node;
}

bool is_column(const std::string& name) {
  const auto& c = run_columns();
  return std::find(c.begin(), c.end(), name) != c.end();
}

bool matches(const json& value, const std::string& want) {
  if (value.is_number()) {
    char* end = nullptr;
    const double w = std::strtod(want.c_str(), &end);
    if (!want.empty() && end == want.c_str() + want.size()) return value.get<double>() == w;
  }
  return value.is_string() ? value.get<std::string>() == want : value.dump() == want;
}

bool row_matches(const RunRow& row, const std::string& filter) {
  const size_t eq = filter.find('=');
  if (eq == std::string::npos || eq == 0) throw_usage("--filter \"" + filter + "\": expected key=value");
  const std::string key = filter.substr(0, eq), want = filter.substr(eq + 1);
  return matches(is_column(key) ? row.cells[key] : dotted_value(row.run.config, key), want);
}

int compare_values(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  return cell_text(a).compare(cell_text(b));
}

std::string format_table(const std::vector<RunRow>& rows) {
  const auto& columns = run_columns();
  std::vector<std::vector<std::string>> cells = {columns};
  for (const auto& r : rows) {
    std::vector<std::string> line;
    for (const auto& c : columns) line.push_back(column_text(c, r.cells[c]));
    cells.push_back(std::move(line));
  }
  std::vector<size_t> width(columns.size(), 0);
  for (const auto& line : cells)
    for (size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], line[i].size());
  std::string out;
  for (const auto& line : cells) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) text += fmt::format("{:<{}}", line[i], i + 1 < line.size() ? width[i] + 2 : 0);
    out += text + "\n";
  }
  return out;
}

}  // namespace

json read_object_tolerant(const fs::path& path) {
  if (!fs::exists(path)) return nullptr;
  try {
    json j = read_json_file(path);
    if (j.is_object()) return j;
    spdlog::warn("{}: not a JSON object; ignored", path.string());
  } catch (const Error& e) {
    spdlog::warn("{} (ignored)", e.what());
  }
  return nullptr;
}


std::string RunFolder::name() const {
  for (const json* j : {&manifest, &config}) {
    const std::string n = string_at(*j, "name");
    if (!n.empty()) return n;
  }
  const fs::path p = fs::absolute(dir).lexically_normal();  // "runs/a/" -> ".../runs/a/": filename ""
  return (p.filename().empty() ? p.parent_path().filename() : p.filename()).string();
}

std::string RunFolder::status() const { return string_at(manifest, "status"); }

RunFolder read_run_folder(const fs::path& dir) {
  RunFolder run;
  run.dir = dir;
  run.config = read_object_tolerant(dir / "config.json");
  run.manifest = read_object_tolerant(dir / "manifest.json");
  run.test = read_object_tolerant(dir / "metrics.json");
  run.epochs = read_epochs_tolerant(dir / "metrics.jsonl");
  return run;
}

std::vector<fs::path> find_run_folders(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw_usage(dir.string() + ": no such folder (expected a folder of runs)");
  std::vector<fs::path> found;
  if (fs::exists(dir / "manifest.json")) found.push_back(dir);
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; it != end;
       it.increment(ec)) {
    if (ec) break;
    if (it->is_directory(ec) && fs::exists(it->path() / "manifest.json")) found.push_back(it->path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

const std::vector<std::string>& run_columns() {
  static const std::vector<std::string> kColumns = {"name",          "model",   "status",       "epochs",  "best_val_accuracy",
                                                    "test_accuracy", "test_r2", "wall_seconds", "started", "path"};
  return kColumns;
}

RunRow make_run_row(RunFolder run) {
  RunRow row;
  json& c = row.cells;
  c["name"] = run.name();
  const json model = dotted_value(run.config, "model.type");
  c["model"] = model.is_string() ? model : json();
  c["status"] = run.status().empty() ? json() : json(run.status());
  c["epochs"] = run.epochs.size();
  c["best_val_accuracy"] = best_val_accuracy(run.epochs);
  c["test_accuracy"] = number_at(run.test, "accuracy");
  c["test_r2"] = number_at(run.test, "r2");
  c["wall_seconds"] = run.status() == "running" ? json() : number_at(run.manifest, "wall_seconds");
  const std::string started = string_at(run.manifest, "started");
  c["started"] = started.empty() ? json() : json(started);
  c["path"] = run.dir.string();
  row.run = std::move(run);
  return row;
}

std::vector<RunRow> select_runs(std::vector<RunRow> rows, const RunsQuery& query) {
  for (const auto& f : query.filters) {
    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](const RunRow& r) { return !row_matches(r, f); }),
               rows.end());
  }
  const bool descending = !query.sort.empty() && query.sort[0] == '-';
  const std::string key = descending ? query.sort.substr(1) : query.sort;
  if (!is_column(key)) {
    const std::string near = closest_match(key, run_columns());
    throw_usage(fmt::format("--sort: unknown column \"{}\"{} (columns: {})", key,
                            near.empty() ? "" : fmt::format(", did you mean \"{}\"?", near),
                            fmt::join(run_columns(), ", ")));
  }
  std::stable_sort(rows.begin(), rows.end(), [&](const RunRow& a, const RunRow& b) {
    const json &x = a.cells[key], &y = b.cells[key];
    if (x.is_null() || y.is_null()) return !x.is_null() && y.is_null();  // unknown values last
    const int c = compare_values(x, y);
    return descending ? c > 0 : c < 0;
  });
  return rows;
}

std::vector<RunRow> list_runs(const fs::path& dir, const RunsQuery& query) {
  std::vector<RunRow> rows;
  for (const auto& folder : find_run_folders(dir)) rows.push_back(make_run_row(read_run_folder(folder)));
  return select_runs(std::move(rows), query);
}

std::string format_runs(const std::vector<RunRow>& rows, const std::string& format) {
  const auto& columns = run_columns();
  if (format == "table") return format_table(rows);
  if (format == "csv") {
    std::string out = fmt::format("{}\n", fmt::join(columns, ","));
    for (const auto& r : rows) {
      std::vector<std::string> fields;
      for (const auto& c : columns) fields.push_back(r.cells[c].is_null() ? "" : deepl::csv_field(cell_text(r.cells[c])));
      out += fmt::format("{}\n", fmt::join(fields, ","));
    }
    return out;
  }
  if (format == "json") {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& r : rows) {
      nlohmann::ordered_json o = nlohmann::ordered_json::object();
      for (const auto& c : columns) o[c] = nlohmann::ordered_json::parse(r.cells[c].dump());
      out.push_back(std::move(o));
    }
    return out.dump(2) + "\n";
  }
  throw_usage("--format: expected table, csv or json, got \"" + format + "\"");
}

report::Series epoch_series(const std::vector<json>& epochs, const std::string& key, const std::string& name,
                            uint32_t rgb) {
  report::Series s{name, {}, {}, rgb};
  for (const auto& e : epochs) {
    const json x = number_at(e, "epoch"), y = number_at(e, key);
    if (x.is_null() || y.is_null()) continue;
    s.x.push_back(x.get<double>());
    s.y.push_back(y.get<double>());
  }
  return s;
}

std::string column_text(const std::string& column, const json& value) {
  const bool score = column.find("accuracy") != std::string::npos || column.find("r2") != std::string::npos;
  if (value.is_number_float() && score) return fmt::format("{:.4f}", value.get<double>());
  if (value.is_number_float() && column == "wall_seconds") return fmt::format("{:.1f}", value.get<double>());
  return cell_text(value);
}

std::string cell_text(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return fmt::format("{}", value.get<double>());
  return value.dump();
}

}  // namespace deepl::run
