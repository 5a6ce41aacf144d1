// `deepl predict` on image files and folders: framing, output formats, what the model saw, bad files.
#include <gtest/gtest.h>

#include <sstream>

#include "cli_util.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/data/image.h"

using namespace deepl;
using deepl::testing::run_deepl;
using deepl::testing::TempDir;
using nlohmann::json;

namespace {

std::vector<json> json_lines(const std::string& output) {
  std::vector<json> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.front() == '{') lines.push_back(json::parse(line));
  }
  return lines;
}

// A test image as a photo of it: 4x bigger, dark on light paper, off-centre on a larger sheet.
torch::Tensor as_photo(const torch::Tensor& image, int64_t top, int64_t left) {
  const torch::Tensor big = image.repeat_interleave(4, 0).repeat_interleave(4, 1);
  torch::Tensor sheet = torch::full({1, 160, 150}, 255, torch::kUInt8);
  sheet[0].narrow(0, top, big.size(0)).narrow(1, left, big.size(1)).copy_(255 - big);
  return sheet;
}

class PredictImages : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    deepl::testing::write_synthetic_dataset(dir_->path(), "mnist", 300, 40);
    const json cfg = {{"name", "tiny"},
                      {"seed", 3},
                      {"threads", 1},
                      {"data", {{"dataset", "mnist"}, {"root", dir_->path().string()}, {"val_fraction", 0.2}}},
                      {"model", {{"type", "mlp"}, {"hidden", {16}}}},
                      {"train", {{"epochs", 1}}},
                      {"output", {{"dir", (*dir_ / "runs").string()}}}};
    write_json_file(*dir_ / "tiny.json", cfg);
    const auto train = run_deepl("train --quiet --config " + (*dir_ / "tiny.json").string());
    ASSERT_EQ(train.code, 0) << train.output;
    const torch::Tensor test = data::read_idx(*dir_ / "mnist/t10k-images-idx3-ubyte");
    for (int64_t i = 0; i < 3; ++i)
      data::write_png(*dir_ / fmt::format("photos/{}.png", i), as_photo(test[i], 5 * i, 30));
    data::write_png(*dir_ / "photos/sub/3.png", as_photo(test[3], 0, 0));
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string checkpoint() { return (*dir_ / "runs/tiny/checkpoints/best.pt").string(); }
  static TempDir* dir_;
};
TempDir* PredictImages::dir_ = nullptr;

}  // namespace

TEST_F(PredictImages, AFolderGivesOneLinePerImageSortedAndRecursiveOnRequest) {
  const auto flat =
      run_deepl("predict --quiet --checkpoint " + checkpoint() + " --input " + (*dir_ / "photos").string());
  ASSERT_EQ(flat.code, 0) << flat.output;
  const auto lines = json_lines(flat.output);
  ASSERT_EQ(lines.size(), 3u) << flat.output;
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(std::filesystem::path(lines[i]["file"].get<std::string>()).filename(), fmt::format("{}.png", i));
    ASSERT_EQ(lines[i]["top"].size(), 3u);
    EXPECT_GE(lines[i]["top"][0]["probability"].get<double>(), lines[i]["top"][1]["probability"].get<double>());
    EXPECT_FALSE(lines[i]["top"][0]["name"].get<std::string>().empty());
  }
  const auto deep =
      run_deepl("predict --quiet --recursive --checkpoint " + checkpoint() + " --input " + (*dir_ / "photos").string());
  EXPECT_EQ(json_lines(deep.output).size(), 4u) << deep.output;
  const auto one = run_deepl("predict --quiet --format table --top-k 2 --checkpoint " + checkpoint() + " --input " +
                             (*dir_ / "photos/1.png").string());
  ASSERT_EQ(one.code, 0) << one.output;
  EXPECT_NE(one.output.find("1.png"), std::string::npos) << one.output;
  EXPECT_NE(one.output.find("%"), std::string::npos) << one.output;
}

TEST_F(PredictImages, WhatTheModelSawPredictsTheSameFromAnIdxFile) {
  const auto saved = *dir_ / "saw";
  const auto images = run_deepl("predict --quiet --recursive --checkpoint " + checkpoint() + " --input " +
                                (*dir_ / "photos").string() + " --save-inputs " + saved.string());
  ASSERT_EQ(images.code, 0) << images.output;
  // The framed inputs, gathered into an IDX file, are predicted exactly as the photos were.
  std::vector<torch::Tensor> seen;
  for (const char* name : {"0.png", "1.png", "2.png", "sub/3.png"}) {
    const torch::Tensor image = data::read_image(saved / name, 1);
    ASSERT_EQ(image.sizes(), (std::vector<int64_t>{1, 28, 28})) << name;
    EXPECT_EQ(image[0][0][0].item<int>(), 0) << name << ": MNIST's black background";
    seen.push_back(image[0]);
  }
  data::write_idx(*dir_ / "seen-idx3-ubyte", torch::stack(seen));
  const auto idx =
      run_deepl("predict --quiet --checkpoint " + checkpoint() + " --input " + (*dir_ / "seen-idx3-ubyte").string());
  ASSERT_EQ(idx.code, 0) << idx.output;
  const auto from_files = json_lines(images.output), from_idx = json_lines(idx.output);
  ASSERT_EQ(from_idx.size(), from_files.size());
  for (size_t i = 0; i < from_idx.size(); ++i) {
    EXPECT_EQ(from_idx[i]["top"][0]["class"], from_files[i]["top"][0]["class"]);
    EXPECT_NEAR(from_idx[i]["top"][0]["probability"].get<double>(),
                from_files[i]["top"][0]["probability"].get<double>(), 1e-6);
  }
}

TEST_F(PredictImages, BadFilesEachGetALineTheOthersArePredictedAndTheExitIsOne) {
  TempDir mixed;
  std::filesystem::copy_file(*dir_ / "photos/0.png", mixed / "good.png");
  const std::string png = read_file(mixed / "good.png");
  write_file_atomic(mixed / "truncated.png", png.substr(0, png.size() / 3));
  write_file_atomic(mixed / "empty.jpg", "");
  data::write_png(mixed / "blank.png", torch::full({1, 40, 40}, 250, torch::kUInt8));
  const auto r = run_deepl("predict --checkpoint " + checkpoint() + " --input " + mixed.path().string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_EQ(json_lines(r.output).size(), 1u) << r.output;
  for (const char* name : {"truncated.png", "empty.jpg", "blank.png"}) {
    EXPECT_NE(r.output.find(name), std::string::npos) << name << " is named in:\n" << r.output;
  }
  EXPECT_NE(r.output.find("3 of 4 image files could not be predicted"), std::string::npos) << r.output;
}

TEST_F(PredictImages, ALabelsFileSaysWhatItHolds) {
  const auto r = run_deepl("predict --checkpoint " + checkpoint() + " --input " +
                           (*dir_ / "mnist/t10k-labels-idx1-ubyte").string());
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("found an array of shape 40"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("expects uint8 images 1x28x28"), std::string::npos) << r.output;
}
