// `deepl train --data PATH` on the user's own data: a folder of Pillow-made pictures and a folder
// of IDX files, through training, the reports, eval and predict; bad data stops before a run folder.
#include <gtest/gtest.h>

#include <sstream>

#include "cli_util.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"

using namespace deepl;
using deepl::testing::run_command;
using deepl::testing::quoted;
using deepl::testing::run_deepl;
using deepl::testing::TempDir;
using deepl::testing::write_picture_folder;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

class OwnData : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    // One folder name with a space and one non-ASCII.
    write_picture_folder(*dir_ / "shapes", {"red block", "green", "blue \xC3\xA9"}, 30, 18, 16);
    const auto train = run_deepl("train -q --data " + quoted(*dir_ / "shapes") + " --model mlp --set threads=1 "
                                 "--set train.epochs=4 --set optimizer.lr=0.003 --set data.batch_size=16 --out " +
                                 quoted(run()));
    ASSERT_EQ(train.code, 0) << train.output;
  }
  static void TearDownTestSuite() { delete dir_; }
  static fs::path run() { return *dir_ / "runs" / "shapes"; }
  static TempDir* dir_;
};
TempDir* OwnData::dir_ = nullptr;

TEST_F(OwnData, AFolderOfPicturesTrainsWithItsFolderNamesAsClasses) {
  const json metrics = read_json_file(run() / "metrics.json");
  EXPECT_GE(metrics.at("accuracy").get<double>(), 0.9) << metrics.dump();
  const std::string confusion = read_file(run() / "confusion_matrix.csv");
  EXPECT_NE(confusion.find("red block"), std::string::npos) << confusion;
  EXPECT_NE(confusion.find("blue \xC3\xA9"), std::string::npos) << confusion;
  const json files = read_json_file(run() / "data_files.json");
  EXPECT_EQ(files.at("test").size(), 18u);  // 0.2 of each class's 30
  EXPECT_EQ(files.at("train").size() + files.at("validation").size(), 72u);
  const json config = read_json_file(run() / "config.json");
  EXPECT_EQ(config.at("data").at("dataset"), "folder");
  EXPECT_EQ(config.at("data").at("image_size"), "auto");
}

TEST_F(OwnData, EvalOfTheCheckpointGivesTheRunsOwnTestAccuracy) {
  const auto eval = run_deepl("eval -q --checkpoint " + quoted(run() / "checkpoints/best.pt") + " --out " +
                              quoted(*dir_ / "eval"));
  ASSERT_EQ(eval.code, 0) << eval.output;
  EXPECT_NEAR(read_json_file(*dir_ / "eval/metrics.json").at("accuracy").get<double>(),
              read_json_file(run() / "metrics.json").at("accuracy").get<double>(), 1e-6);
}

TEST_F(OwnData, PredictFramesAPictureAsTrainingDid) {
  const json files = read_json_file(run() / "data_files.json");
  int right = 0;
  for (const auto& f : files.at("test")) {
    const std::string file = f.get<std::string>();
    const auto predict = run_deepl("predict -q --checkpoint " + quoted(run() / "checkpoints/best.pt") + " --input " +
                                   quoted(*dir_ / "shapes" / file));
    ASSERT_EQ(predict.code, 0) << predict.output;
    const json line = json::parse(predict.output.substr(predict.output.find('{')));
    right += file.rfind(line.at("top").at(0).at("name").get<std::string>() + "/", 0) == 0;
  }
  EXPECT_GE(right, 16) << "of 18 test pictures";
}

TEST_F(OwnData, ConfigShowPrintsTheConfigADataPathStandsFor) {
  const auto show = run_deepl("config show --data " + quoted(*dir_ / "shapes") + " --model resnet");
  ASSERT_EQ(show.code, 0) << show.output;
  const json config = json::parse(show.output);
  EXPECT_EQ(config.at("name"), "shapes");
  EXPECT_EQ(config.at("model").at("type"), "resnet");
  EXPECT_EQ(config.at("data").at("path"), (*dir_ / "shapes").string());
}

TEST_F(OwnData, ABrokenPictureStopsTheRunNamingItBeforeAnyRunFolder) {
  TempDir tmp;
  write_picture_folder(tmp / "pics", {"red block", "green", "blue"}, 3, 18, 16);
  write_file_atomic(tmp / "pics" / "green" / "torn.jpg", std::string("\xFF\xD8\xFF\xE0\0\x10JFIF", 10));
  const auto train = run_deepl("train -q --data " + quoted(tmp / "pics") + " --out " + quoted(tmp / "run"));
  EXPECT_EQ(train.code, 3) << train.output;
  EXPECT_NE(train.output.find("green/torn.jpg"), std::string::npos) << train.output;
  EXPECT_FALSE(fs::exists(tmp / "run"));
  const auto skipped = run_deepl("train -q --data " + quoted(tmp / "pics") + " --model mlp --set train.epochs=1 "
                                 "--set data.on_bad_image=skip --out " + quoted(tmp / "run"));
  EXPECT_EQ(skipped.code, 0) << skipped.output;
  EXPECT_NE(skipped.output.find("torn.jpg"), std::string::npos) << skipped.output;
}

TEST_F(OwnData, AModelThatCannotTakeThePicturesSaysSoBeforeAnyRunFolder) {
  const auto train = run_deepl("train -q --data " + quoted(*dir_ / "shapes") + " --model cnn --set "
                               "'model.blocks=[{\"convs\": [{\"out_channels\": 4, \"kernel_size\": 20}]}]' --out " +
                               quoted(*dir_ / "big-kernel"));
  EXPECT_EQ(train.code, 2) << train.output;
  EXPECT_NE(train.output.find("/model/blocks/0: the feature map shrinks"), std::string::npos) << train.output;
  EXPECT_FALSE(fs::exists(*dir_ / "big-kernel"));
  // VGG's five poolings leave nothing of a 16x18 picture: found by one forward pass before training.
  const auto vgg = run_deepl("train -q --data " + quoted(*dir_ / "shapes") + " --model vgg --out " + quoted(*dir_ / "vgg"));
  EXPECT_EQ(vgg.code, 2) << vgg.output;
  EXPECT_NE(vgg.output.find("model type \"vgg\" cannot take 3x16x18 inputs"), std::string::npos) << vgg.output;
  EXPECT_FALSE(fs::exists(*dir_ / "vgg"));
}

TEST(OwnIdx, AFolderOfIdxFilesTrainsByTheirMnistNames) {
  TempDir tmp;
  deepl::testing::write_synthetic_dataset(tmp.path(), "digits", 300, 60);
  const auto train = run_deepl("train -q --data " + quoted(tmp / "digits") + " --set threads=1 --set train.epochs=2 "
                               "--out " + quoted(tmp / "run"));
  ASSERT_EQ(train.code, 0) << train.output;
  const json config = read_json_file(tmp / "run/config.json");
  EXPECT_EQ(config.at("data").at("dataset"), "idx");
  EXPECT_EQ(config.at("model").at("type"), "cnn");  // auto: small grayscale pictures
  EXPECT_GE(read_json_file(tmp / "run/metrics.json").at("accuracy").get<double>(), 0.5);
}

}  // namespace
