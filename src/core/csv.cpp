#include "deepl/core/csv.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "deepl/core/error.h"
#include "deepl/core/files.h"

namespace deepl {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::vector<std::string> split_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      cells.push_back(trim(cell));
      cell.clear();
    } else {
      cell += c;
    }
  }
  cells.push_back(trim(cell));
  return cells;
}

}  // namespace

CsvTable read_csv(const std::filesystem::path& path) {
  const std::string origin = path.string();
  std::istringstream in(read_file(path));
  CsvTable table;
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    const auto cells = split_line(line);
    if (table.columns.empty()) {
      table.columns = cells;
      for (const auto& name : cells)
        if (name.empty()) throw_data(fmt::format("{}:{}: empty column name in the header", origin, line_number));
      continue;
    }
    if (cells.size() != table.columns.size()) {
      throw_data(fmt::format("{}:{}: {} cells, the header has {}", origin, line_number, cells.size(), table.columns.size()));
    }
    std::vector<double> row;
    for (size_t j = 0; j < cells.size(); ++j) {
      const char* text = cells[j].c_str();
      char* end = nullptr;
      errno = 0;
      const double v = std::strtod(text, &end);
      if (cells[j].empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) {
        throw_data(fmt::format("{}:{}: column \"{}\": \"{}\" is not a number", origin, line_number, table.columns[j],
                               cells[j]));
      }
      row.push_back(v);
    }
    table.rows.push_back(std::move(row));
  }
  if (table.columns.empty()) throw_data(origin + ": empty file (expected a header row)");
  if (table.rows.empty()) throw_data(origin + ": no data rows after the header");
  return table;
}

std::vector<std::vector<double>> select_columns(const CsvTable& table, const std::vector<std::string>& names,
                                                const std::string& origin) {
  std::vector<size_t> index;
  for (const auto& name : names) {
    const auto it = std::find(table.columns.begin(), table.columns.end(), name);
    if (it == table.columns.end()) {
      throw_usage(fmt::format("{}: no column \"{}\" (columns: {})", origin, name, fmt::join(table.columns, ", ")));
    }
    index.push_back(static_cast<size_t>(it - table.columns.begin()));
  }
  std::vector<std::vector<double>> out;
  for (const auto& row : table.rows) {
    std::vector<double> picked;
    for (size_t i : index) picked.push_back(row[i]);
    out.push_back(std::move(picked));
  }
  return out;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char ch : text) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

}  // namespace deepl
