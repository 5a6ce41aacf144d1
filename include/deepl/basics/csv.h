#pragma once
// A strict numeric CSV reader for the regression and classification basics: a header row, then
// numbers. Errors name the file, the line and the column.
#include <filesystem>
#include <string>
#include <vector>

namespace deepl::basics {

struct CsvTable {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;  // rows[i][j]: line i+2, column j
};

/// Reads a CSV file with a header row; every cell must be a number.
CsvTable read_csv(const std::filesystem::path& path);
/// The values of the named columns, row by row; throws naming a missing column and the ones present.
std::vector<std::vector<double>> select_columns(const CsvTable& table, const std::vector<std::string>& names,
                                                const std::string& origin);

}  // namespace deepl::basics
