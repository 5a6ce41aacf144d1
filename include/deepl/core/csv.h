#pragma once
// CSV: a strict numeric reader for the regression and classification basics (a header row, then
// numbers; errors name the file, the line and the column), and the quoting every CSV writer uses.
#include <filesystem>
#include <string>
#include <vector>

namespace deepl {

struct CsvTable {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;  // rows[i][j]: line i+2, column j
};

/// Reads a CSV file with a header row; every cell must be a number.
CsvTable read_csv(const std::filesystem::path& path);
/// The values of the named columns, row by row; throws naming a missing column and the ones present.
std::vector<std::vector<double>> select_columns(const CsvTable& table, const std::vector<std::string>& names,
                                                const std::string& origin);

/// A field as RFC 4180 writes it: quoted (inner quotes doubled) when it holds a comma, quote or newline.
std::string csv_field(const std::string& text);

}  // namespace deepl
