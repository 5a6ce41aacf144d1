// model.type "torchscript" end to end with Python (Debian's python3-torch): a two-branch CNN with
// batch norm and dropout, scripted in Python, trains in deepl on MNIST, and the module deepl
// exports gives Python the test accuracy deepl reported.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <regex>

#include "../test_util.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"

using namespace deepl;
using deepl::testing::TempDir;
using nlohmann::json;

namespace {

const std::filesystem::path kSource = DEEPL_SOURCE_DIR;

std::string output_of(const std::string& cmd, int* code) {
  FILE* pipe = ::popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int status = ::pclose(pipe);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string python(const std::string& args, int* code) {
  return output_of("/usr/bin/python3 '" + (kSource / "tests/interop/torchscript_cnn.py").string() + "' " + args, code);
}

TEST(TorchScriptInterop, APythonScriptedCnnTrainsInDeeplAndItsExportGivesPythonTheSameAccuracy) {
  const std::filesystem::path mnist = kSource / "data" / "mnist";
  if (!std::filesystem::exists(mnist / "t10k-labels-idx1-ubyte")) GTEST_SKIP() << "MNIST not fetched (bash data/fetch)";
  TempDir dir;
  int code = 0;
  const std::string scripted = python("script '" + (dir / "cnn.pt").string() + "'", &code);
  ASSERT_EQ(code, 0) << scripted;
  write_json_file(dir / "cnn.json",
                  {{"name", "scripted_cnn"},
                   {"data", {{"root", (kSource / "data").string()}, {"normalize", "fixed"}, {"mean", {0.1307}},
                             {"std", {0.3081}}, {"batch_size", 64}}},
                   {"model", {{"type", "torchscript"}, {"path", (dir / "cnn.pt").string()}}},
                   {"optimizer", {{"type", "adam"}, {"lr", 0.001}}},
                   {"train", {{"epochs", 2}}}});
  const std::string train = output_of(std::string(DEEPL_BIN) + " train -q --config '" + (dir / "cnn.json").string() +
                                          "' --out '" + (dir / "run").string() + "'",
                                      &code);
  ASSERT_EQ(code, 0) << train;
  const double deepl_accuracy = read_json_file(dir / "run/metrics.json").at("accuracy");
  EXPECT_GE(deepl_accuracy, 0.97);
  const std::string exported = output_of(std::string(DEEPL_BIN) + " export --format torchscript --checkpoint '" +
                                             (dir / "run/checkpoints/best.pt").string() + "' --out '" +
                                             (dir / "trained.pt").string() + "'",
                                         &code);
  ASSERT_EQ(code, 0) << exported;
  const std::string measured = python("accuracy '" + (dir / "trained.pt").string() + "' '" + mnist.string() + "'", &code);
  ASSERT_EQ(code, 0) << measured;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(measured, m, std::regex("accuracy ([0-9.]+)"))) << measured;
  EXPECT_NEAR(std::stod(m[1]), deepl_accuracy, 1e-4) << "at most one of 10,000 pictures predicted otherwise";
  std::printf("deepl: %.4f, the exported module in Python: %s\n", deepl_accuracy, m[1].str().c_str());
}

}  // namespace
