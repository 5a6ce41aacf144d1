// Where deepl looks for experiments, the data fetcher and the data.
#include <gtest/gtest.h>

#include "../test_util.h"
#include "deepl/core/files.h"
#include "deepl/core/paths.h"

using namespace deepl;
using deepl::testing::error_message;
using deepl::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// A folder that looks like a clone (experiments/ + data/SHA256SUMS) or an installed share/deepl.
struct FakeLayout {
  TempDir current, installed, clone;
  FakeLayout() {
    write_file_atomic(clone / "data/SHA256SUMS", "");
    write_file_atomic(clone / "data/fetch", "#!/bin/sh\n");
    write_file_atomic(clone / "experiments/mlp_mnist.json", "{}");
    write_file_atomic(clone / "experiments/clone_only.json", "{}");
    write_file_atomic(clone / "experiments/basics/linear_multi.json", "{}");
    write_file_atomic(installed / "experiments/mlp_mnist.json", "{}");
    write_file_atomic(installed / "fetch", "#!/bin/sh\n");
  }
  Locations where(bool with_installed = true, bool with_clone = true) const {
    Locations w;
    w.current = current.path();
    if (with_installed) w.installed = installed.path();
    if (with_clone) w.clone = clone.path();
    return w;
  }
};

}  // namespace

TEST(Paths, ExperimentNameLookupOrderIsCurrentThenInstalledThenClone) {
  FakeLayout f;
  EXPECT_EQ(find_experiment("mlp_mnist", f.where()), f.installed / "experiments/mlp_mnist.json");
  EXPECT_EQ(find_experiment("mlp_mnist.json", f.where()), f.installed / "experiments/mlp_mnist.json");
  EXPECT_EQ(find_experiment("mlp_mnist", f.where(false)), f.clone / "experiments/mlp_mnist.json");
  EXPECT_EQ(find_experiment("clone_only", f.where()), f.clone / "experiments/clone_only.json");
  write_file_atomic(f.current / "mlp_mnist.json", "{}");
  EXPECT_EQ(find_experiment("mlp_mnist", f.where()), f.current / "mlp_mnist.json");
  EXPECT_EQ(find_experiment("linear_multi", f.where(), "basics"), f.clone / "experiments/basics/linear_multi.json");
}

TEST(Paths, AnExistingPathIsTakenAsGiven) {
  FakeLayout f;
  const fs::path elsewhere = f.current / "sub/mine.json";
  write_file_atomic(elsewhere, "{}");
  EXPECT_EQ(find_experiment(elsewhere.string(), f.where()), elsewhere);
}

TEST(Paths, UnknownNameListsTheShippedExperiments) {
  FakeLayout f;
  const std::string msg = error_message([&] { find_experiment("mlp_mnsit", f.where()); });
  EXPECT_NE(msg.find("--config mlp_mnsit: no such file or shipped experiment"), std::string::npos) << msg;
  EXPECT_NE(msg.find("clone_only, mlp_mnist"), std::string::npos) << msg;
  const std::string path_msg = error_message([&] { find_experiment("nowhere/x.json", f.where()); });
  EXPECT_NE(path_msg.find("--config nowhere/x.json: no such file"), std::string::npos) << path_msg;
  const std::string none = error_message([&] { find_experiment("x", f.where(false, false)); });
  EXPECT_NE(none.find("shipped experiments: none found"), std::string::npos) << none;
}

TEST(Paths, ShippedFolderAndFetcherPreferTheInstallation) {
  FakeLayout f;
  EXPECT_EQ(shipped_experiments_folder(f.where()), f.installed / "experiments");
  EXPECT_EQ(shipped_experiments_folder(f.where(false)), f.clone / "experiments");
  EXPECT_EQ(data_fetcher(f.where()), f.installed / "fetch");
  EXPECT_EQ(data_fetcher(f.where(false)), f.clone / "data/fetch");
  EXPECT_NE(error_message([&] { shipped_experiments_folder(f.where(false, false)); }).find("cannot find the shipped"),
            std::string::npos);
  EXPECT_NE(error_message([&] { data_fetcher(f.where(false, false)); }).find("cannot find the data fetcher"),
            std::string::npos);
}

TEST(Paths, DataFolderPrecedence) {
  FakeLayout f;
  Locations w = f.where();
  w.data_env = "/from/env";
  w.xdg_data_home = "/xdg";
  w.home = "/home/u";
  EXPECT_EQ(data_folder("/from/config", w), "/from/config");
  EXPECT_EQ(data_folder("", w), "/from/env");
  w.data_env.reset();
  EXPECT_EQ(data_folder("", w), f.clone / "data");
  w.clone.reset();
  EXPECT_EQ(data_folder("", w), "/xdg/deepl");
  w.xdg_data_home.reset();
  EXPECT_EQ(data_folder("", w), "/home/u/.local/share/deepl");
  w.home.reset();
  EXPECT_NE(error_message([&] { data_folder("", w); }).find("set DEEPL_DATA"), std::string::npos);
}

TEST(Paths, ThisProcessRunsFromTheClone) {
  EXPECT_TRUE(is_clone(DEEPL_SOURCE_DIR));
  TempDir empty;
  EXPECT_FALSE(is_clone(empty.path()));
  const Locations w = locations();
  ASSERT_TRUE(w.clone.has_value());
  EXPECT_TRUE(fs::equivalent(*w.clone, DEEPL_SOURCE_DIR));
  EXPECT_FALSE(w.installed.has_value()) << "a build-tree binary must not pick up an installed deepl's experiments";
  EXPECT_EQ(current_executable().filename(), "deepl_tests");
}
