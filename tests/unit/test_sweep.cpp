// Sweep files: validation, the grid's expansion, seeded random draws, halving budgets, and the
// shipped sweeps.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "../test_util.h"
#include "deepl/core/error.h"
#include "deepl/core/json_util.h"
#include "deepl/run/sweep.h"

using namespace deepl;
using deepl::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

class SweepSpec : public ::testing::Test {
 protected:
  void SetUp() override {
    write_json_file(dir_ / "base.json", {{"name", "base"},
                                         {"data", {{"root", dir_.path().string()}}},
                                         {"model", {{"type", "mlp"}, {"hidden", {8}}}},
                                         {"train", {{"epochs", 9}}}});
  }
  run::Sweep load(json sweep, const std::vector<std::string>& overrides = {}) {
    if (!sweep.contains("experiment")) sweep["experiment"] = "base.json";
    write_json_file(dir_ / "sweep.json", sweep);
    return run::load_sweep(dir_ / "sweep.json", overrides);
  }
  // The error a sweep file gives, or "" when it loads and every trial validates.
  std::string error_of(const json& sweep, const std::vector<std::string>& overrides = {}) {
    try {
      const run::Sweep s = load(sweep, overrides);
      for (const auto& t : run::expand_trials(s)) run::trial_experiment(s, t);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage) << e.what();
      return e.what();
    }
    return "";
  }

  TempDir dir_;
};

}  // namespace

TEST_F(SweepSpec, GridIsTheCartesianProductInKeyOrder) {
  const run::Sweep s = load({{"space", {{"optimizer.lr", {0.1, 0.01}}, {"model.hidden", {{8}, {16}, {32}}}}},
                             {"set", {{"train.epochs", 2}}}});
  EXPECT_EQ(s.method, "grid");
  EXPECT_EQ(s.name, "sweep");
  EXPECT_EQ(s.epochs, 2);
  EXPECT_EQ(s.metric, "val_accuracy");
  EXPECT_TRUE(s.maximize);
  EXPECT_EQ(s.out_dir, fs::path("runs/sweeps/sweep"));
  const auto trials = run::expand_trials(s);
  ASSERT_EQ(trials.size(), 6u);
  EXPECT_EQ(trials[0].folder, "000-hidden=8,lr=0.1");
  EXPECT_EQ(trials[1].folder, "001-hidden=8,lr=0.01");
  EXPECT_EQ(trials[5].folder, "005-hidden=32,lr=0.01");
  EXPECT_EQ(trials[4].overrides, (std::vector<std::string>{"train.epochs=2", "model.hidden=[32]", "optimizer.lr=0.1"}));
  const auto exp = run::trial_experiment(s, trials[4]);
  EXPECT_EQ(exp.json["model"]["hidden"], json({32}));
  EXPECT_DOUBLE_EQ(exp.json["optimizer"]["lr"].get<double>(), 0.1);
  EXPECT_EQ(exp.json["train"]["epochs"], 2);
}

TEST_F(SweepSpec, RandomDrawsAreSeededInRangeAndRounded) {
  const json space = {{"optimizer.lr", {{"log_uniform", {1e-4, 1e-1}}}},
                      {"model.dropout", {{"uniform", {0.1, 0.5}}}},
                      {"data.batch_size", {{"int_uniform", {16, 19}}}},
                      {"optimizer.type", {{"choice", {"sgd", "adam"}}}}};
  const auto a = run::expand_trials(load({{"space", space}, {"method", "random"}, {"trials", 400}, {"seed", 3}}));
  const auto b = run::expand_trials(load({{"space", space}, {"method", "random"}, {"trials", 400}, {"seed", 3}}));
  const auto c = run::expand_trials(load({{"space", space}, {"method", "random"}, {"trials", 400}, {"seed", 4}}));
  ASSERT_EQ(a.size(), 400u);
  int below_geometric_mean = 0, differ = 0;
  std::set<int64_t> batch_sizes;
  std::set<std::string> types;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].values, b[i].values) << "same seed, same draws";
    differ += a[i].values != c[i].values;
    const auto& v = a[i].values;  // sorted keys: data.batch_size, model.dropout, optimizer.lr, optimizer.type
    batch_sizes.insert(v[0].second.get<int64_t>());
    const double dropout = v[1].second, lr = v[2].second;
    EXPECT_GE(dropout, 0.1);
    EXPECT_LE(dropout, 0.5);
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1e-1);
    EXPECT_NEAR(lr, std::stod(fmt::format("{:.4g}", lr)), 1e-15) << "rounded to 4 significant digits";
    below_geometric_mean += lr < std::sqrt(1e-4 * 1e-1);
    types.insert(v[3].second.get<std::string>());
  }
  EXPECT_GT(differ, 390) << "another seed draws other values";
  EXPECT_EQ(batch_sizes, (std::set<int64_t>{16, 17, 18, 19})) << "int_uniform includes both ends";
  EXPECT_EQ(types, (std::set<std::string>{"sgd", "adam"}));
  EXPECT_NEAR(below_geometric_mean, 200, 40) << "log-uniform: half the draws below the geometric mean";
}

TEST_F(SweepSpec, HalvingBudgetsGrowByEtaUpToTheEpochs) {
  const json space = {{"optimizer.lr", {0.1, 0.01, 0.001}}};
  EXPECT_EQ(run::halving_budgets(load({{"space", space}, {"method", "halving"}})), (std::vector<int64_t>{1, 3, 9}));
  EXPECT_EQ(run::halving_budgets(
                load({{"space", space}, {"method", "halving"}, {"halving", {{"eta", 2}}}}, {"train.epochs=4"})),
            (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(
      run::halving_budgets(load({{"space", space}, {"method", "halving"}, {"halving", {{"min_epochs", 2}, {"eta", 2}}}},
                                {"train.epochs=5"})),
      (std::vector<int64_t>{2, 4, 5}));
  EXPECT_EQ(run::expand_trials(load({{"space", space}, {"method", "halving"}})).size(), 3u) << "trials 0: the grid";
}

TEST_F(SweepSpec, BadSweepFilesNameTheFileAndThePointer) {
  const json lr = {{"optimizer.lr", {0.1, 0.01}}};
  EXPECT_NE(error_of({{"space", lr}, {"methd", "grid"}}).find("/methd"), std::string::npos);
  EXPECT_NE(error_of({{"space", lr}, {"method", "bayes"}}).find("/method"), std::string::npos);
  EXPECT_NE(error_of({{"space", json::object()}}).find("/space"), std::string::npos);
  EXPECT_NE(error_of({{"space", {{"optimizer.lr", 0.1}}}}).find("/space/optimizer.lr: expected a non-empty list"),
            std::string::npos);
  EXPECT_NE(error_of({{"space", {{"optimizer.lr", {{"log_uniform", {0, 1}}}}}}, {"method", "random"}, {"trials", 2}})
                .find("/space/optimizer.lr/log_uniform: a log-uniform range must be positive"),
            std::string::npos);
  EXPECT_NE(error_of({{"space", {{"optimizer.lr", {{"uniform", {0.1, 0.2}}}}}}}).find("grid search needs a list"),
            std::string::npos);
  EXPECT_NE(error_of({{"space", lr}, {"method", "random"}}).find("/trials"), std::string::npos);
  json huge = json::object();
  for (const char* key :
       {"optimizer.lr", "optimizer.eps", "optimizer.weight_decay", "model.dropout", "seed", "threads"}) {
    huge[key] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
  }
  EXPECT_NE(error_of({{"space", huge}}).find("/space: the grid has 262144 combinations, more than 100000"),
            std::string::npos);
  EXPECT_NE(error_of({{"space", lr}}, {"optimizer.lr=0.5"}).find("is searched by the sweep"), std::string::npos);
  // Every trial is validated up front; the error names the file, the trial and the config's pointer.
  const std::string unknown = error_of({{"space", {{"optimizer.lrr", {0.1}}}}});
  EXPECT_NE(unknown.find("sweep.json: trial 000-lrr=0.1: "), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("base.json: /optimizer/lrr: unknown key"), std::string::npos) << unknown;
  const std::string wrong = error_of({{"space", {{"optimizer.lr", {0.1, "fast"}}}}});
  EXPECT_NE(wrong.find("trial 001-lr=fast: "), std::string::npos) << wrong;
  EXPECT_NE(wrong.find("/optimizer/lr: expected number"), std::string::npos) << wrong;
  EXPECT_NE(error_of({{"space", lr}, {"experiment", "missing.json"}}).find("missing.json"), std::string::npos);
}

TEST_F(SweepSpec, ShippedSweepsLoadAndValidate) {
  const fs::path folder = fs::path(DEEPL_SOURCE_DIR) / "experiments" / "sweeps";
  int count = 0;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const run::Sweep s = run::load_sweep(entry.path());
    const auto trials = run::expand_trials(s);
    EXPECT_GE(trials.size(), 4u) << entry.path();
    for (const auto& t : trials) EXPECT_NO_THROW(run::trial_experiment(s, t)) << entry.path() << " " << t.folder;
    ++count;
  }
  EXPECT_GE(count, 3);
}

TEST(SweepDocs, DocsHaveTheSweepReferenceTable) {
  const std::string docs = read_file(fs::path(DEEPL_SOURCE_DIR) / "docs" / "sweeps.md");
  EXPECT_NE(docs.find(run::sweep_reference_markdown()), std::string::npos)
      << "docs/sweeps.md's sweep table is stale: regenerate it with `deepl config docs`";
}
