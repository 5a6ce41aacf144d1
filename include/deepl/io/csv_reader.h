#pragma once
// CSV text as rows of fields, parsed by libcsv (RFC 4180: quoted fields, "" inside quotes, line
// breaks inside quotes, LF or CRLF). Strict: a stray quote or an unterminated quoted field is a
// data error naming the origin and line. Spaces and tabs around unquoted fields are trimmed; blank
// lines are skipped. No LibTorch here: data/ turns the rows into tensors.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deepl::io {

struct CsvLimits {
  int64_t max_field_bytes = int64_t{1} << 20;  // a longer field is an error, not an allocation
  int64_t max_fields = 100000;                  // per row
};

/// Called once per record with its fields and the (1-based) line the record ends on.
using CsvRowHandler = std::function<void(int64_t line, const std::vector<std::string>& fields)>;

/// Parses `text` and calls `on_row` for every record, the header included. `origin` (a file name)
/// starts every error message.
void read_csv_rows(std::string_view text, const std::string& origin, const CsvRowHandler& on_row,
                   const CsvLimits& limits = {});

/// A field as a finite number (decimal or scientific, optional sign), or nothing.
std::optional<double> parse_csv_number(std::string_view field);

/// A CSV file of numbers under a header row, as the basics notebook reads its tables.
struct CsvTable {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;  // rows[i][j]: the i-th row below the header, column j
};

/// Reads a CSV file with a header row; every cell must be a number. Errors name the file, the line
/// and the column ("data.csv:3: column \"b\": \"x\" is not a number").
CsvTable read_csv(const std::filesystem::path& path);
/// The values of the named columns, row by row; throws naming a missing column and the ones present.
std::vector<std::vector<double>> select_columns(const CsvTable& table, const std::vector<std::string>& names,
                                                const std::string& origin);

}  // namespace deepl::io
