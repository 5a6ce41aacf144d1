// A CSV table as a data set: the target column's values become classes (or, for a regression,
// standardised numbers), the feature columns float inputs standardised with the training rows'
// mean and standard deviation.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/io/csv_reader.h"
#include "folder_scan.h"
#include "table_source.h"

namespace deepl::data {

namespace {

constexpr int64_t kMaxClasses = 1000;      // distinct text labels
constexpr int64_t kMaxIntegerClasses = 50;  // distinct integer labels; more look like a quantity
constexpr uint64_t kMaxCsvBytes = uint64_t{4} << 30;

// The rows of a CSV: the chosen feature columns as numbers (row-major) and the target column as text.
struct ParsedTable {
  std::vector<std::string> feature_names;
  std::vector<float> values;        // rows x features
  std::vector<std::string> labels;  // one per row; empty without a target
  std::vector<int64_t> lines;       // where each row ends in the file
  int64_t rows() const { return static_cast<int64_t>(lines.size()); }
};

size_t column_index(const std::vector<std::string>& header, const std::string& name, const std::string& key,
                    const std::string& origin) {
  const auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) {
    throw_usage(fmt::format("/data/{}: {} has no column \"{}\" (columns: {})", key, origin, name, fmt::join(header, ", ")));
  }
  return static_cast<size_t>(it - header.begin());
}

void check_header(const std::vector<std::string>& header, const std::string& origin) {
  std::set<std::string> seen;
  for (size_t c = 0; c < header.size(); ++c) {
    if (header[c].empty()) throw_data(fmt::format("{}:1: column {} has no name", origin, c + 1));
    if (!seen.insert(header[c]).second) throw_data(fmt::format("{}:1: column \"{}\" appears twice", origin, header[c]));
  }
}

float parse_number(const std::string& field, int64_t line, const std::string& column, const std::string& origin) {
  if (field.empty()) throw_data(fmt::format("{}:{}: column \"{}\": missing value", origin, line, column));
  const auto value = io::parse_csv_number(field);
  if (!value) throw_data(fmt::format("{}:{}: column \"{}\": \"{}\" is not a number", origin, line, column, field));
  if (std::abs(*value) > std::numeric_limits<float>::max()) {
    throw_data(fmt::format("{}:{}: column \"{}\": {} is too large for a float", origin, line, column, field));
  }
  return static_cast<float>(*value);
}

// Reads `text`: the header, then every row's features (named, or all but the target) and target.
ParsedTable parse_table(std::string_view text, const std::string& origin, const std::string& target,
                        std::vector<std::string> features) {
  ParsedTable table;
  std::vector<std::string> header;
  std::vector<size_t> feature_columns;
  size_t target_column = 0;
  io::read_csv_rows(text, origin, [&](int64_t line, const std::vector<std::string>& fields) {
    if (header.empty()) {
      header = fields;
      check_header(header, origin);
      if (!target.empty()) target_column = column_index(header, target, "target", origin);
      if (features.empty()) {
        for (const auto& name : header)
          if (name != target) features.push_back(name);
      }
      for (const auto& name : features) {
        if (name == target) throw_usage(fmt::format("/data/features: \"{}\" is the target column", name));
        feature_columns.push_back(column_index(header, name, "features", origin));
      }
      if (feature_columns.empty()) throw_data(fmt::format("{}: no feature columns besides the target \"{}\"", origin, target));
      table.feature_names = features;
      return;
    }
    if (fields.size() != header.size()) {
      throw_data(fmt::format("{}:{}: {} cells, the header has {}", origin, line, fields.size(), header.size()));
    }
    for (const size_t c : feature_columns) table.values.push_back(parse_number(fields[c], line, header[c], origin));
    if (!target.empty()) {
      if (fields[target_column].empty()) throw_data(fmt::format("{}:{}: column \"{}\": missing value", origin, line, target));
      table.labels.push_back(fields[target_column]);
    }
    table.lines.push_back(line);
  });
  if (header.empty()) throw_data(origin + ": empty file; expected a header line of column names");
  if (table.rows() == 0) throw_data(origin + ": no rows below the header");
  return table;
}

std::optional<int64_t> as_integer(const std::string& text) {
  const auto value = io::parse_csv_number(text);
  if (!value || *value != std::floor(*value) || std::abs(*value) > 1e15) return std::nullopt;
  return static_cast<int64_t>(*value);
}

// Whether the target is a quantity: as data.task says, or (auto) when every value is a number
// and they are not a few distinct integers.
bool is_regression(const ParsedTable& table, const CsvSource& source) {
  if (source.task != TableTask::kAuto) return source.task == TableTask::kRegression;
  std::set<int64_t> integers;
  bool fractions = false;
  for (const auto& text : std::set<std::string>(table.labels.begin(), table.labels.end())) {
    if (const auto integer = as_integer(text)) {
      integers.insert(*integer);
    } else if (io::parse_csv_number(text)) {
      fractions = true;
    } else {
      return false;  // text labels
    }
  }
  return fractions || static_cast<int64_t>(integers.size()) > kMaxIntegerClasses;
}

// The classes the target's values name: integers in numeric order when every value is one, else
// the distinct texts sorted.
std::vector<std::string> class_names_of(const ParsedTable& table, const CsvSource& source) {
  std::map<int64_t, std::string> integers;
  const std::set<std::string> texts(table.labels.begin(), table.labels.end());
  bool all_integers = true;
  for (const auto& text : texts) {
    if (const auto integer = as_integer(text)) {
      integers.emplace(*integer, std::to_string(*integer));
    } else {
      all_integers = false;
    }
  }
  const std::string origin = source.path.string();
  if (static_cast<int64_t>(texts.size()) > kMaxClasses) {
    throw_data(fmt::format("{}: column \"{}\" holds {} distinct values; at most {} classes (for a quantity set "
                           "data.task \"regression\")",
                           origin, source.target, texts.size(), kMaxClasses));
  }
  std::vector<std::string> names;
  if (all_integers) {
    for (const auto& [value, name] : integers) names.push_back(name);
  } else {
    names.assign(texts.begin(), texts.end());
  }
  if (names.size() < 2) {
    throw_data(fmt::format("{}: column \"{}\" holds one class only; a classifier needs at least 2", origin, source.target));
  }
  return names;
}

// The target column as numbers; a value that is not one is a data error naming its line.
torch::Tensor target_values(const ParsedTable& table, const CsvSource& source) {
  std::vector<double> values;
  values.reserve(table.labels.size());
  for (size_t r = 0; r < table.labels.size(); ++r) {
    values.push_back(parse_number(table.labels[r], table.lines[r], source.target, source.path.string()));
  }
  return torch::tensor(values, torch::kFloat64).unsqueeze(1);
}

std::vector<int64_t> label_indices(const ParsedTable& table, const std::vector<std::string>& names) {
  std::map<std::string, int64_t> index;
  for (size_t k = 0; k < names.size(); ++k) index[names[k]] = static_cast<int64_t>(k);
  std::vector<int64_t> labels;
  labels.reserve(table.labels.size());
  for (const auto& text : table.labels) {
    const auto named = index.find(text);  // integer labels are named in canonical form ("7" for "07")
    labels.push_back(named != index.end() ? named->second : index.at(std::to_string(*as_integer(text))));
  }
  return labels;
}

// Which rows are held out for the test: round(fraction x n) of each class's n rows (at most n - 1),
// chosen by a hash of their line numbers, the same rows every run. A regression is one class.
std::vector<bool> held_out_rows(const ParsedTable& table, const std::vector<int64_t>& labels, double fraction) {
  std::map<int64_t, std::vector<int64_t>> by_class;
  for (int64_t r = 0; r < table.rows(); ++r) by_class[labels[static_cast<size_t>(r)]].push_back(r);
  std::vector<bool> held(static_cast<size_t>(table.rows()), false);
  for (auto& [label, rows] : by_class) {
    const auto hash = [&](int64_t r) { return folder::fnv1a(std::to_string(table.lines[static_cast<size_t>(r)])); };
    std::sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) { return hash(a) < hash(b); });
    const auto n = static_cast<int64_t>(rows.size());
    const int64_t count = std::min<int64_t>(std::llround(fraction * static_cast<double>(n)), n - 1);
    for (int64_t i = 0; i < count; ++i) held[static_cast<size_t>(rows[static_cast<size_t>(i)])] = true;
  }
  return held;
}

torch::Tensor feature_tensor(ParsedTable& table) {
  const auto columns = static_cast<int64_t>(table.feature_names.size());
  return torch::from_blob(table.values.data(), {table.rows(), columns}, torch::kFloat32).clone();
}

// Mean and standard deviation of each column over `rows` (1 where a column is constant).
std::pair<std::vector<double>, std::vector<double>> column_statistics(const torch::Tensor& features,
                                                                      const torch::Tensor& rows) {
  const torch::Tensor x = features.index_select(0, rows).to(torch::kFloat64);
  const torch::Tensor mean = x.mean(0), sd = x.std(0, /*unbiased=*/false);
  std::vector<double> means(mean.data_ptr<double>(), mean.data_ptr<double>() + mean.numel());
  std::vector<double> sds(sd.data_ptr<double>(), sd.data_ptr<double>() + sd.numel());
  for (double& s : sds) s = s > 1e-12 ? s : 1.0;
  return {means, sds};
}

torch::Tensor standardise(const torch::Tensor& features, const std::vector<double>& mean, const std::vector<double>& sd) {
  const torch::Tensor m = torch::tensor(mean, torch::kFloat64).to(torch::kFloat32);
  const torch::Tensor s = torch::tensor(sd, torch::kFloat64).to(torch::kFloat32);
  return (features - m) / s;
}

std::string read_csv_file(const std::filesystem::path& path) {
  std::error_code ec;
  const uint64_t bytes = std::filesystem::file_size(path, ec);
  if (ec) throw_data(fmt::format("{}: cannot read the table ({})", path.string(), ec.message()));
  if (bytes > kMaxCsvBytes) throw_data(fmt::format("{}: {} bytes; tables up to 4 GiB are read", path.string(), bytes));
  return read_file(path);
}

}  // namespace

Dataset table_from_csv(std::string_view text, const CsvSource& source, Split split) {
  const std::string origin = source.path.string();
  if (source.target.empty()) throw_usage("/data/target: data.dataset \"csv\" needs the label column's name");
  ParsedTable table = parse_table(text, origin, source.target, source.features);
  Dataset d;
  d.name = source.path.stem().string();
  const bool regression = is_regression(table, source);
  std::vector<int64_t> classes(static_cast<size_t>(table.rows()), 0);
  if (regression) {
    d.class_names = {source.target};
  } else {
    d.class_names = class_names_of(table, source);
    classes = label_indices(table, d.class_names);
  }
  const std::vector<bool> held = held_out_rows(table, classes, source.test_fraction);
  std::vector<int64_t> train_rows, split_rows;
  for (int64_t r = 0; r < table.rows(); ++r) {
    if (!held[static_cast<size_t>(r)]) train_rows.push_back(r);
    if (held[static_cast<size_t>(r)] == (split == Split::kTest)) split_rows.push_back(r);
  }
  const torch::Tensor features = feature_tensor(table);
  const torch::Tensor rows = torch::tensor(split_rows, torch::kInt64), fitted = torch::tensor(train_rows, torch::kInt64);
  std::tie(d.feature_mean, d.feature_std) = column_statistics(features, fitted);
  d.images = standardise(features.index_select(0, rows), d.feature_mean, d.feature_std).contiguous();
  if (regression) {
    const torch::Tensor targets = target_values(table, source);
    const auto [mean, sd] = column_statistics(targets, fitted);
    d.target_mean = mean.at(0), d.target_std = sd.at(0);
    d.labels = standardise(targets.index_select(0, rows).to(torch::kFloat32), mean, sd).flatten().contiguous();
  } else {
    d.labels = torch::tensor(classes, torch::kInt64).index_select(0, rows);
  }
  d.feature_names = table.feature_names;
  const std::string file = source.path.filename().string();
  for (const int64_t r : split_rows) d.files.push_back(fmt::format("{}:{}", file, table.lines[static_cast<size_t>(r)]));
  return d;
}

Dataset csv_split(const CsvSource& source, Split split) {
  return table_from_csv(read_csv_file(source.path), source, split);
}

torch::Tensor csv_feature_rows(const std::filesystem::path& file, const std::vector<std::string>& features,
                               const std::vector<double>& mean, const std::vector<double>& sd) {
  ParsedTable table = parse_table(read_csv_file(file), file.string(), "", features);
  return standardise(feature_tensor(table), mean, sd).contiguous();
}

}  // namespace deepl::data
