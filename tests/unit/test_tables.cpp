// CSV tables: libcsv's rows (quoting, line numbers, limits) and the table data source (classes from
// the target column, standardised features, the held-out split, one-line errors).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>

#include "../test_util.h"
#include "deepl/core/error.h"
#include "deepl/data/sources.h"
#include "deepl/io/csv_reader.h"

namespace deepl::testing {
namespace {

struct Row {
  int64_t line;
  std::vector<std::string> fields;
};

std::vector<Row> rows_of(std::string_view text, const io::CsvLimits& limits = {}) {
  std::vector<Row> rows;
  io::read_csv_rows(text, "t.csv", [&](int64_t line, const std::vector<std::string>& f) { rows.push_back({line, f}); },
                    limits);
  return rows;
}

TEST(CsvRows, QuotesCommasLineBreaksAndBlankLines) {
  const auto rows = rows_of("name,note\r\n\"Smith, J\",\"said \"\"hi\"\"\"\n\nx,\"two\nlines\"\n  y  ,z");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"Smith, J", "said \"hi\""}));
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_EQ(rows[2].fields, (std::vector<std::string>{"x", "two\nlines"}));
  EXPECT_EQ(rows[2].line, 5);  // the record ends on the line after its quoted line break
  EXPECT_EQ(rows[3].fields, (std::vector<std::string>{"y", "z"}));
  EXPECT_EQ(rows[3].line, 6);
}

TEST(CsvRows, MalformedQuotingAndHugeFieldsNameTheLine) {
  EXPECT_EQ(error_message([] { rows_of("a,b\n1,2\n3,\"4\n"); }),
            "t.csv:3: malformed CSV (a quote inside an unquoted field, or a quoted field that is never closed)");
  EXPECT_EQ(error_message([] { rows_of("a,b\n1,x\"y\n"); }).rfind("t.csv:2: malformed CSV", 0), 0u);
  io::CsvLimits small;
  small.max_field_bytes = 10;
  const std::string long_field = "a\n" + std::string(5000, 'x') + "\n";
  EXPECT_EQ(error_message([&] { rows_of(long_field, small); }), "t.csv:2: a field longer than 10 bytes");
  small.max_fields = 3;
  EXPECT_EQ(error_message([&] { rows_of("a,b,c,d\n", small); }), "t.csv:1: more than 3 fields in one row");
}

TEST(CsvRows, NumbersAreFiniteDecimalsOnly) {
  EXPECT_EQ(io::parse_csv_number("-2.5e3"), -2500.0);
  EXPECT_EQ(io::parse_csv_number("+7"), 7.0);
  for (const char* bad : {"", "x", "1,5", "nan", "inf", "0x10", "1e999", "3 "}) {
    EXPECT_FALSE(io::parse_csv_number(bad).has_value()) << bad;
  }
}

// 40 rows: class "cat" where a + b > 0, else "dog"; the third column is noise.
std::string animals() {
  std::string text = "a,b,noise,species\n";
  for (int i = 0; i < 40; ++i) {
    const double a = (i % 7) - 3, b = (i % 5) - 2.5;
    text += fmt::format("{},{},{},{}\n", a * 10, b, i % 3, a * 10 + b > 0 ? "cat" : "dog");
  }
  return text;
}

data::CsvSource source(const std::string& target) {
  data::CsvSource s;
  s.path = "animals.csv";
  s.target = target;
  return s;
}

TEST(Tables, TextLabelsBecomeSortedClassesAndFeaturesAreStandardisedOnTrainingRows) {
  const data::Dataset train = data::table_from_csv(animals(), source("species"), data::Split::kTrain);
  const data::Dataset test = data::table_from_csv(animals(), source("species"), data::Split::kTest);
  EXPECT_EQ(train.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(train.feature_names, (std::vector<std::string>{"a", "b", "noise"}));
  EXPECT_EQ(train.image_shape(), (std::vector<int64_t>{1, 1, 3}));
  EXPECT_EQ(train.size() + test.size(), 40);
  EXPECT_EQ(test.size(), 8);  // 0.2 of each class
  EXPECT_TRUE(torch::allclose(train.images.mean(0), torch::zeros({3}), 1e-5, 1e-5)) << train.images.mean(0);
  EXPECT_TRUE(torch::allclose(train.images.std(0, false), torch::ones({3}), 1e-4, 1e-4));
  EXPECT_EQ(test.feature_mean, train.feature_mean);
  for (const auto& f : test.files) EXPECT_EQ(std::count(train.files.begin(), train.files.end(), f), 0) << f;
  const data::Dataset again = data::table_from_csv(animals(), source("species"), data::Split::kTest);
  EXPECT_EQ(again.files, test.files);
}

TEST(Tables, IntegerLabelsAreOrderedAsNumbersAndFeaturesCanBeChosen) {
  std::string text = "x,y,grade\n";
  for (int i = 0; i < 30; ++i) text += fmt::format("{},{},{}\n", i, 30 - i, i % 3 == 0 ? "10" : i % 3 == 1 ? "2" : "09");
  data::CsvSource s = source("grade");
  s.features = {"y"};
  const data::Dataset d = data::table_from_csv(text, s, data::Split::kTrain);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"2", "9", "10"}));
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"y"}));
  EXPECT_EQ(d.images.size(1), 1);
}

TEST(Tables, BadTablesGiveOneLineErrorsNamingLineAndColumn) {
  const auto train = [](const std::string& text, const std::string& target = "y") {
    return [=] { data::table_from_csv(text, source(target), data::Split::kTrain); };
  };
  EXPECT_EQ(error_message(train("a,b,y\n1,2,x\n3,4\n")), "animals.csv:3: 2 cells, the header has 3");
  EXPECT_EQ(error_message(train("a,b,y\n1,2,x\n3,,z\n")), "animals.csv:3: column \"b\": missing value");
  EXPECT_EQ(error_message(train("a,b,y\n1,2,x\n3,four,z\n")), "animals.csv:3: column \"b\": \"four\" is not a number");
  EXPECT_EQ(error_message(train("a,b,y\n1,2,x\n3,4,\n")), "animals.csv:3: column \"y\": missing value");
  EXPECT_EQ(error_message(train("a,a,y\n1,2,x\n")), "animals.csv:1: column \"a\" appears twice");
  EXPECT_EQ(error_message(train("a,b,y\n1,2,x\n3,4,x\n")),
            "animals.csv: column \"y\" holds one class only; a classifier needs at least 2");
  EXPECT_EQ(error_message(train("")), "animals.csv: empty file; expected a header line of column names");
  EXPECT_EQ(error_message(train("a,b,y\n")), "animals.csv: no rows below the header");
  for (const auto& bad : {"a,b,y\n3,4,\"x\n", "a,b,y\n1,2,x\n3,4,z,5\n", ""}) EXPECT_EQ(error_exit_code(train(bad)), 3) << bad;
  EXPECT_EQ(error_message(train("a,b,y\n1,2,x\n", "label")),
            "/data/target: animals.csv has no column \"label\" (columns: a, b, y)");
  EXPECT_EQ(error_exit_code(train("a,b,y\n1,2,x\n", "label")), 2);
}

// 100 rows: price = 1000 + 7 x size, a quantity with 100 distinct integers.
std::string prices() {
  std::string text = "size,price\n";
  for (int i = 0; i < 100; ++i) text += fmt::format("{},{}\n", i, 1000 + 7 * i);
  return text;
}

TEST(Tables, AutoTaskLearnsQuantitiesAsRegressionAndFewIntegersOrTextAsClasses) {
  const auto task_of = [](const std::string& text, const std::string& target, data::TableTask task) {
    data::CsvSource s = source(target);
    s.task = task;
    return data::table_from_csv(text, s, data::Split::kTrain).regression();
  };
  EXPECT_TRUE(task_of(prices(), "price", data::TableTask::kAuto)) << "100 distinct integers are a quantity";
  EXPECT_TRUE(task_of("x,y\n1,0.5\n2,1.5\n3,0.5\n4,1.5\n", "y", data::TableTask::kAuto)) << "fractions";
  EXPECT_FALSE(task_of(animals(), "species", data::TableTask::kAuto));
  EXPECT_FALSE(task_of("x,y\n1,0.5\n2,1\n3,a\n4,a\n", "y", data::TableTask::kAuto)) << "text among numbers";
  EXPECT_FALSE(task_of(prices(), "price", data::TableTask::kClassification)) << "asked for: 100 classes";
  EXPECT_TRUE(task_of("x,y\n1,0\n2,1\n3,0\n4,1\n", "y", data::TableTask::kRegression)) << "asked for";
}

TEST(Tables, RegressionTargetsAreStandardisedWithTheTrainingRowsAndSplitWithoutClasses) {
  data::CsvSource s = source("price");
  const data::Dataset train = data::table_from_csv(prices(), s, data::Split::kTrain);
  const data::Dataset test = data::table_from_csv(prices(), s, data::Split::kTest);
  EXPECT_EQ(train.class_names, (std::vector<std::string>{"price"}));
  EXPECT_EQ(train.labels.scalar_type(), torch::kFloat32);
  EXPECT_EQ(test.size(), 20);
  EXPECT_EQ(test.target_mean, train.target_mean);
  EXPECT_NEAR(train.labels.mean().item<double>(), 0.0, 1e-5);
  EXPECT_NEAR(train.labels.std(0, false).item<double>(), 1.0, 1e-4);
  // The targets come back exactly: price = 1000 + 7 size, in every split.
  const torch::Tensor size = test.images.select(1, 0).to(torch::kFloat64) * test.feature_std[0] + test.feature_mean[0];
  const torch::Tensor price = test.labels.to(torch::kFloat64) * test.target_std + test.target_mean;
  EXPECT_TRUE(torch::allclose(price, 1000 + 7 * size, 1e-6, 1e-3));
  s.task = data::TableTask::kRegression;
  EXPECT_EQ(error_message([&] { data::table_from_csv("a,price\n1,2\n3,cheap\n", s, data::Split::kTrain); }),
            "animals.csv:3: column \"price\": \"cheap\" is not a number");
}

TEST(Tables, PredictionRowsTakeTheTrainingColumnsByNameAndStandardisation) {
  TempDir dir;
  write_file_atomic(dir / "rows.csv", "id,b,a,extra\n7,1,10,x\n8,3,20,y\n");
  const torch::Tensor rows = data::csv_feature_rows(dir / "rows.csv", {"a", "b"}, {10, 1}, {5, 2});
  EXPECT_TRUE(torch::equal(rows, torch::tensor({{0.0F, 0.0F}, {2.0F, 1.0F}})));
  EXPECT_EQ(error_message([&] { data::csv_feature_rows(dir / "rows.csv", {"a", "c"}, {0, 0}, {1, 1}); }),
            "/data/features: " + (dir / "rows.csv").string() + " has no column \"c\" (columns: id, b, a, extra)");
}

}  // namespace
}  // namespace deepl::testing
