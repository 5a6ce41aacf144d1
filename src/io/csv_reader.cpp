#include "deepl/io/csv_reader.h"

#include <csv.h>
#include <fmt/format.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <memory>

#include "deepl/core/error.h"
#include "deepl/core/files.h"

namespace deepl::io {

namespace {

// What libcsv's callbacks see: the row being built and where the text is.
struct RowBuilder {
  const std::string& origin;
  const CsvRowHandler& on_row;
  const CsvLimits& limits;
  std::vector<std::string> fields;
  int64_t line = 1;
  std::exception_ptr failure;  // a handler's exception, rethrown once libcsv has returned
};

void add_field(void* bytes, size_t length, void* context) {
  auto& row = *static_cast<RowBuilder*>(context);
  if (row.failure) return;
  if (static_cast<int64_t>(row.fields.size()) >= row.limits.max_fields) {
    row.failure = std::make_exception_ptr(Error(ErrorKind::kData, 
        fmt::format("{}:{}: more than {} fields in one row", row.origin, row.line, row.limits.max_fields)));
    return;
  }
  row.fields.emplace_back(static_cast<const char*>(bytes), length);
}

void end_row(int /*terminator*/, void* context) {
  auto& row = *static_cast<RowBuilder*>(context);
  if (row.failure) return;
  const bool blank = row.fields.size() == 1 && row.fields[0].empty();
  try {
    if (!blank && !row.fields.empty()) row.on_row(row.line, row.fields);
  } catch (...) {
    row.failure = std::current_exception();
  }
  row.fields.clear();
}

// libcsv grows its field buffer with this; refusing past the limit makes it report CSV_ENOMEM.
thread_local size_t field_buffer_cap = 0;
void* capped_realloc(void* buffer, size_t bytes) {
  if (bytes > field_buffer_cap) return nullptr;
  return std::realloc(buffer, bytes);
}

[[noreturn]] void parse_failed(const RowBuilder& row, int code) {
  if (code == CSV_ENOMEM || code == CSV_ETOOBIG) {
    throw_data(fmt::format("{}:{}: a field longer than {} bytes", row.origin, row.line, row.limits.max_field_bytes));
  }
  throw_data(fmt::format("{}:{}: malformed CSV (a quote inside an unquoted field, or a quoted field that "
                         "is never closed)",
                         row.origin, row.line));
}

}  // namespace

void read_csv_rows(std::string_view text, const std::string& origin, const CsvRowHandler& on_row,
                   const CsvLimits& limits) {
  csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) throw_failure("libcsv: cannot initialise a parser");
  const std::unique_ptr<csv_parser, void (*)(csv_parser*)> owner(&parser, csv_free);
  field_buffer_cap = static_cast<size_t>(limits.max_field_bytes) + 1024;
  csv_set_realloc_func(&parser, capped_realloc);
  RowBuilder row{origin, on_row, limits, {}, 1, nullptr};
  // Fed line by line so that a record's callbacks know the line it ends on.
  size_t start = 0;
  while (start < text.size()) {
    const size_t newline = text.find('\n', start);
    const size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
    const size_t fed = csv_parse(&parser, text.data() + start, end - start, add_field, end_row, &row);
    if (row.failure) std::rethrow_exception(row.failure);
    if (fed != end - start) parse_failed(row, csv_error(&parser));
    start = end;
    if (newline != std::string_view::npos) ++row.line;
  }
  if (text.empty() || text.back() == '\n') --row.line;  // the last record ended on the line before
  if (csv_fini(&parser, add_field, end_row, &row) != 0) parse_failed(row, csv_error(&parser));
  if (row.failure) std::rethrow_exception(row.failure);
}

std::optional<double> parse_csv_number(std::string_view field) {
  if (!field.empty() && field.front() == '+') field.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (field.empty() || error != std::errc() || end != field.data() + field.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

CsvTable read_csv(const std::filesystem::path& path) {
  const std::string origin = path.string();
  CsvTable table;
  read_csv_rows(read_file(path), origin, [&](int64_t line, const std::vector<std::string>& cells) {
    if (table.columns.empty()) {
      for (const auto& name : cells)
        if (name.empty()) throw_data(fmt::format("{}:{}: empty column name in the header", origin, line));
      table.columns = cells;
      return;
    }
    if (cells.size() != table.columns.size()) {
      throw_data(fmt::format("{}:{}: {} cells, the header has {}", origin, line, cells.size(), table.columns.size()));
    }
    std::vector<double> row;
    for (size_t j = 0; j < cells.size(); ++j) {
      const auto value = parse_csv_number(cells[j]);
      if (!value) {
        throw_data(fmt::format("{}:{}: column \"{}\": \"{}\" is not a number", origin, line, table.columns[j], cells[j]));
      }
      row.push_back(*value);
    }
    table.rows.push_back(std::move(row));
  });
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

}  // namespace deepl::io
