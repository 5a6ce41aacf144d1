#include <gtest/gtest.h>

#include "../test_util.h"
#include "deepl/basics/basics.h"
#include "deepl/io/csv_reader.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"

using namespace deepl;
using deepl::testing::error_message;
using deepl::testing::TempDir;
using nlohmann::json;

namespace {
const std::filesystem::path kBasics = std::filesystem::path(DEEPL_SOURCE_DIR) / "experiments/basics";

basics::PartResult run_shipped(const std::string& name, const TempDir& dir) {
  return basics::run_config_file(kBasics / (name + ".json"), dir / name);
}
}  // namespace

TEST(Basics, LinearLayerAgreesWithLeastSquares) {
  TempDir dir;
  for (const char* name : {"linear_1d", "linear_multi"}) {
    const auto r = run_shipped(name, dir);
    EXPECT_LT(r.results["max_abs_difference_to_least_squares"].get<double>(), 1e-3) << name;
    EXPECT_GT(r.results["r2"].get<double>(), 0.9) << name;
    // The fit also recovers the generating coefficients up to the noise.
    const auto truth = r.results["truth"]["coefficients"].get<std::vector<double>>();
    const auto fitted = r.results["fitted"]["coefficients"].get<std::vector<double>>();
    for (size_t j = 0; j < truth.size(); ++j) EXPECT_NEAR(fitted[j], truth[j], 0.1) << name;
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "linear_1d/fit.png"));
  EXPECT_TRUE(std::filesystem::exists(dir / "linear_1d/manifest.json"));
}

TEST(Basics, LeastSquaresAndR2ByHand) {
  const auto fit = basics::least_squares({{0}, {1}, {2}, {3}}, {1, 3, 5, 7});
  EXPECT_NEAR(fit.coefficients[0], 2.0, 1e-12);
  EXPECT_NEAR(fit.intercept, 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(basics::r_squared({1, 2, 3}, {1, 2, 3}), 1.0);
  EXPECT_DOUBLE_EQ(basics::r_squared({1, 2, 3}, {2, 2, 2}), 0.0);
  EXPECT_DOUBLE_EQ(basics::roc_auc({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}), 0.75);
}

TEST(Basics, MlpFitsSineWhereALinearLayerFails) {
  TempDir dir;
  const auto r = run_shipped("nonlinear_sin", dir);
  EXPECT_GT(r.results["r2_mlp"].get<double>(), 0.95);
  EXPECT_LT(r.results["r2_linear"].get<double>(), 0.8);
  const auto square = run_shipped("nonlinear_square", dir);
  EXPECT_GT(square.results["r2_mlp"].get<double>(), 0.95);
  EXPECT_LT(square.results["r2_linear"].get<double>(), 0.1);
}

TEST(Basics, LogisticRegressionSeparatesTheBlobs) {
  TempDir dir;
  const auto r = run_shipped("logistic_blobs", dir);
  EXPECT_GT(r.results["accuracy"].get<double>(), 0.9);
  EXPECT_GT(r.results["roc_auc"].get<double>(), 0.95);
  const auto cm = r.results["confusion_matrix"];
  EXPECT_EQ(cm[0][0].get<int64_t>() + cm[0][1].get<int64_t>() + cm[1][0].get<int64_t>() + cm[1][1].get<int64_t>(), 400);
  for (const char* f : {"confusion_matrix.png", "confusion_matrix.csv", "decision_boundary.png"}) {
    EXPECT_TRUE(std::filesystem::exists(dir / "logistic_blobs" / f)) << f;
  }
}

TEST(Basics, AutogradMatchesAnalyticAndFiniteDifferences) {
  for (const char* e : {"polynomial", "composition", "network"}) {
    const auto c = basics::check_gradient(e, {0.7, -1.3});
    EXPECT_LT(c.max_relative_error, 1e-6) << e;
    ASSERT_EQ(c.autograd.size(), 2u);
  }
  const auto p = basics::check_gradient("polynomial", {1.0, 2.0});
  EXPECT_DOUBLE_EQ(p.value, 3 - 4 + 4 + 1);
  EXPECT_DOUBLE_EQ(p.autograd[0], 9 - 4);
  EXPECT_DOUBLE_EQ(p.autograd[1], -2 + 4);
}

TEST(Basics, OptimisersReachTheMinimumOfTheBowlAndRosenbrock) {
  TempDir dir;
  for (const char* name : {"optimize_bowl", "optimize_rosenbrock"}) {
    const auto r = run_shipped(name, dir);
    for (const auto& o : r.results["optimizers"]) {
      EXPECT_LT(o["distance_to_nearest_minimum"].get<double>(), 1e-3) << name << " " << o["optimizer"];
      EXPECT_GE(o["steps_to_tolerance"].get<int64_t>(), 1) << name << " " << o["optimizer"];
    }
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "optimize_rosenbrock/paths.png"));
}

TEST(Basics, CsvErrorsNameFileLineAndColumn) {
  TempDir dir;
  write_file_atomic(dir / "ok.csv", "a,b,target\n1,2,3\n4,5,6\n");
  write_file_atomic(dir / "bad.csv", "a,b,target\n1,2,3\n4,x,6\n");
  write_file_atomic(dir / "short.csv", "a,b\n1\n");
  const auto table = deepl::io::read_csv(dir / "ok.csv");
  EXPECT_EQ(table.rows.size(), 2u);
  EXPECT_EQ(deepl::io::select_columns(table, {"target", "a"}, "ok.csv")[1], (std::vector<double>{6, 4}));
  EXPECT_EQ(error_message([&] { deepl::io::read_csv(dir / "bad.csv"); }),
            (dir / "bad.csv").string() + ":3: column \"b\": \"x\" is not a number");
  EXPECT_NE(error_message([&] { deepl::io::read_csv(dir / "short.csv"); }).find(":2: 1 cells, the header has 2"),
            std::string::npos);
  EXPECT_EQ(error_message([&] { deepl::io::select_columns(table, {"c"}, "ok.csv"); }),
            "ok.csv: no column \"c\" (columns: a, b, target)");
}

TEST(Basics, LinearRegressionFromCsv) {
  TempDir dir;
  std::string csv = "size,rooms,price\n";
  for (int i = 0; i < 50; ++i) csv += fmt::format("{},{},{}\n", 40 + i * 3, 1 + i % 5, 1000 + 30.0 * (40 + i * 3) + 500.0 * (1 + i % 5));
  write_file_atomic(dir / "houses.csv", csv);
  const auto cfg = basics::resolve_config(read_json_file(kBasics / "linear_multi.json"), "linear_multi.json");
  const auto r = basics::run_part(cfg, dir / "run", basics::CsvSource{dir / "houses.csv", {"size", "rooms"}, "price"});
  const auto w = r.results["least_squares"]["coefficients"].get<std::vector<double>>();
  EXPECT_NEAR(w[0], 30.0, 1e-6);
  EXPECT_NEAR(w[1], 500.0, 1e-6);
  EXPECT_LT(r.results["max_abs_difference_to_least_squares"].get<double>(), 1e-3);
}

TEST(Basics, ConfigValidation) {
  EXPECT_NE(error_message([] { basics::resolve_config({{"name", "x"}, {"part", "lineer"}}, ""); }).find("did you mean \"linear\""),
            std::string::npos);
  EXPECT_EQ(error_message([] { basics::resolve_config({{"name", "x"}, {"part", "optimize"}}, ""); }),
            "/function: required key is missing");
}
