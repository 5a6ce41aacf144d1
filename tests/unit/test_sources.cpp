// Data sources: folders of pictures (made by Pillow, not by deepl), IDX pairs, and the
// augmentations for pictures of any size.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "../test_util.h"
#include "deepl/core/files.h"
#include "deepl/data/idx.h"
#include "deepl/data/loader.h"
#include "deepl/data/sources.h"

namespace deepl::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// Three classes (one non-ASCII, one with a space), PNG and JPEG, grayscale and colour, mostly 24x16.
json mixed_folder(int per_class) {
  const std::vector<std::string> classes = {"big dog", "cat", "chat \xC3\xA9t\xC3\xA9"};
  json spec = json::array();
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < per_class; ++i) {
      const std::string ext = i % 2 ? ".jpg" : ".png";
      const std::string mode = i % 3 == 0 ? "L" : "RGB";
      const bool odd_size = i == 1;
      spec.push_back(picture(classes[c] + "/" + std::to_string(i) + ext, odd_size ? 40 : 24, odd_size ? 20 : 16, mode, c,
                             100 * c + i));
    }
  }
  return spec;
}

data::SourceOptions folder_options(const fs::path& path) {
  data::SourceOptions o;
  o.kind = data::SourceKind::kFolder;
  o.dataset = "folder";
  o.folder.path = path;
  o.folder.cache_dir = path.parent_path() / "cache";
  return o;
}

TEST(Sources, FolderOfClassesHoldsOutATestSplitPerClassAndResolvesSizeAndColour) {
  TempDir tmp;
  make_pictures(tmp / "pics", mixed_folder(10));
  write_file_atomic(tmp / "pics" / "cat" / "notes.txt", "not a picture");
  const auto o = folder_options(tmp / "pics");
  const data::Dataset train = data::load_split(o, data::Split::kTrain);
  const data::Dataset test = data::load_split(o, data::Split::kTest);
  EXPECT_EQ(train.class_names, (std::vector<std::string>{"big dog", "cat", "chat \xC3\xA9t\xC3\xA9"}));
  EXPECT_EQ(train.image_shape(), (std::vector<int64_t>{3, 16, 24}));  // colour in some; 24x16 the most common
  EXPECT_EQ(train.size(), 24);
  EXPECT_EQ(test.size(), 6);  // 2 of each class's 10
  EXPECT_TRUE(torch::equal(torch::bincount(test.labels), torch::tensor({2, 2, 2}, torch::kInt64)));
  EXPECT_FALSE(train.validation.defined());
  ASSERT_EQ(test.files.size(), 6u);
  for (const auto& f : test.files) EXPECT_EQ(std::count(train.files.begin(), train.files.end(), f), 0) << f;
}

TEST(Sources, AFolderLoadsTheSameFromItsCacheAndDecodesAgainWhenAPictureChanges) {
  TempDir tmp;
  make_pictures(tmp / "pics", mixed_folder(4));
  const auto o = folder_options(tmp / "pics");
  const data::Dataset first = data::load_split(o, data::Split::kTrain);
  ASSERT_TRUE(fs::exists(tmp / "cache"));
  const data::Dataset cached = data::load_split(o, data::Split::kTrain);
  EXPECT_TRUE(torch::equal(first.images, cached.images));
  EXPECT_EQ(first.files, cached.files);
  // The same name, new pixels (a different seed): the cache must not answer for it.
  make_pictures(tmp / "pics", json::array({picture(first.files[0], 24, 16, "RGB", 2, 999)}));
  fs::last_write_time(tmp / "pics" / first.files[0], fs::last_write_time(tmp / "pics" / first.files[0]) + std::chrono::seconds(5));
  const data::Dataset changed = data::load_split(o, data::Split::kTrain);
  EXPECT_FALSE(torch::equal(first.images[0], changed.images[0]));
  EXPECT_TRUE(torch::equal(first.images.narrow(0, 1, first.size() - 1), changed.images.narrow(0, 1, first.size() - 1)));
}

TEST(Sources, TrainTestAndValSubFoldersAreTheSplits) {
  TempDir tmp;
  json spec = json::array();
  for (const std::string split : {"train", "val", "test"}) {
    for (int c = 0; c < 2; ++c) {
      for (int i = 0; i < (split == "train" ? 5 : 2); ++i) {
        spec.push_back(picture(split + "/c" + std::to_string(c) + "/" + std::to_string(i) + ".png", 12, 12, "L", c, i));
      }
    }
  }
  make_pictures(tmp / "pics", spec);
  const auto o = folder_options(tmp / "pics");
  const data::Dataset train = data::load_split(o, data::Split::kTrain);
  const data::Dataset test = data::load_split(o, data::Split::kTest);
  EXPECT_EQ(train.class_names, (std::vector<std::string>{"c0", "c1"}));
  EXPECT_EQ(train.image_shape(), (std::vector<int64_t>{1, 12, 12}));
  EXPECT_EQ(train.size(), 14);
  ASSERT_TRUE(train.validation.defined());
  EXPECT_EQ(train.validation.numel(), 4);
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(train.files.at(train.validation[i].item<int64_t>()).rfind("val/", 0), 0u);
  EXPECT_EQ(test.size(), 4);
  EXPECT_EQ(test.files.front().rfind("test/", 0), 0u);
}

TEST(Sources, ABrokenPictureIsAnErrorNamingItUnlessSkipped) {
  TempDir tmp;
  make_pictures(tmp / "pics", mixed_folder(3));
  write_file_atomic(tmp / "pics" / "cat" / "broken.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  auto o = folder_options(tmp / "pics");
  const std::string message = error_message([&] { data::load_split(o, data::Split::kTrain); });
  EXPECT_NE(message.find("cat/broken.png"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  o.folder.skip_bad_images = true;
  const data::Dataset train = data::load_split(o, data::Split::kTrain);
  const data::Dataset test = data::load_split(o, data::Split::kTest);
  EXPECT_EQ(train.size() + test.size(), 9);
}

TEST(Sources, EmptyClassFoldersAndSingleClassesAreRefusedByName) {
  TempDir tmp;
  make_pictures(tmp / "one", json::array({picture("only/a.png", 8, 8, "L", 0, 1), picture("only/b.png", 8, 8, "L", 0, 2)}));
  EXPECT_NE(error_message([&] { data::load_split(folder_options(tmp / "one"), data::Split::kTrain); }).find("at least 2"),
            std::string::npos);
  make_pictures(tmp / "empty", json::array({picture("full/a.png", 8, 8, "L", 0, 1)}));
  fs::create_directories(tmp / "empty" / "hollow");
  const std::string message = error_message([&] { data::load_split(folder_options(tmp / "empty"), data::Split::kTrain); });
  EXPECT_NE(message.find("\"hollow\" holds no pictures"), std::string::npos) << message;
  EXPECT_NE(error_message([&] { data::load_split(folder_options(tmp / "missing"), data::Split::kTrain); }).find("no such folder"),
            std::string::npos);
}

TEST(Sources, ChosenSizeAndChannelsBringEveryPictureToThem) {
  TempDir tmp;
  make_pictures(tmp / "pics", mixed_folder(3));
  auto o = folder_options(tmp / "pics");
  o.folder.image_size = {10, 14};
  o.folder.channels = 1;
  for (const auto policy : {data::ResizePolicy::kFit, data::ResizePolicy::kStretch, data::ResizePolicy::kCrop}) {
    o.folder.resize = policy;
    EXPECT_EQ(data::load_split(o, data::Split::kTrain).image_shape(), (std::vector<int64_t>{1, 10, 14}));
  }
}

TEST(Sources, ResizePoliciesKeepOrIgnoreTheAspectRatio) {
  const torch::Tensor wide = torch::full({1, 4, 8}, 200, torch::kUInt8);  // 2:1, all light
  const torch::Tensor fit = data::resize_picture(wide, 8, 8, data::ResizePolicy::kFit);
  EXPECT_EQ(fit.sizes(), (std::vector<int64_t>{1, 8, 8}));
  EXPECT_EQ(fit[0][0][0].item<int>(), 0);    // black border above
  EXPECT_EQ(fit[0][4][4].item<int>(), 200);  // the picture in the middle
  EXPECT_TRUE(data::resize_picture(wide, 8, 8, data::ResizePolicy::kStretch).eq(200).all().item<bool>());
  EXPECT_TRUE(data::resize_picture(wide, 8, 8, data::ResizePolicy::kCrop).eq(200).all().item<bool>());
  EXPECT_TRUE(torch::equal(data::resize_picture(wide, 4, 8, data::ResizePolicy::kFit), wide));
}

TEST(Sources, AnIdxPairNamesItsClassesByNumberUnlessNamed) {
  TempDir tmp;
  const auto [train_x, train_y] = synthetic_digits(40, 4, 1, 12);
  const auto [test_x, test_y] = synthetic_digits(10, 4, 2, 12);
  data::write_idx(tmp / "a-images", train_x);
  data::write_idx(tmp / "a-labels", train_y);
  data::write_idx(tmp / "b-images", test_x, true);
  data::write_idx(tmp / "b-labels", test_y, true);
  data::SourceOptions o;
  o.kind = data::SourceKind::kIdx;
  o.idx = {tmp / "a-images", tmp / "a-labels", tmp / "b-images", tmp / "b-labels", {}};
  const data::Dataset train = data::load_split(o, data::Split::kTrain);
  EXPECT_EQ(train.class_names, (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_EQ(data::load_split(o, data::Split::kTest).size(), 10);
  o.idx.class_names = {"a", "b"};
  EXPECT_NE(error_message([&] { data::load_split(o, data::Split::kTrain); }).find("outside the 2 classes"),
            std::string::npos);
}

TEST(Augment, ARandomResizedCropOfTheWholeAreaLeavesASquareImageAlone) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const torch::Tensor x = torch::rand({4, 3, 16, 16}) * 255;
  // Scale 1 with an aspect ratio other than 1 never fits, and the fallback is the whole image.
  const torch::Tensor same = data::random_resized_crop(1.0)(x, gen);
  EXPECT_TRUE(torch::allclose(same, x, 1e-4, 1e-3));
  const torch::Tensor cropped = data::random_resized_crop(0.2)(x, gen);
  EXPECT_EQ(cropped.sizes(), x.sizes());
  EXPECT_FALSE(torch::allclose(cropped, x, 1e-2, 1e-1));
}

TEST(Augment, ColourJitterScalesBrightnessPerImageAndLeavesGrayAloneUnderSaturation) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const torch::Tensor x = 50 + torch::rand({6, 3, 8, 8}) * 100;
  const torch::Tensor brighter = data::colour_jitter(0.5, 0, 0)(x, gen);
  const torch::Tensor ratio = brighter / x;
  EXPECT_TRUE(torch::allclose(ratio, ratio.amin({1, 2, 3}, true).expand_as(ratio), 1e-4, 1e-4));
  EXPECT_TRUE(ratio.ge(0.5 - 1e-4).all().item<bool>() && ratio.le(1.5 + 1e-4).all().item<bool>());
  const torch::Tensor gray = x.narrow(1, 0, 1).expand({6, 3, 8, 8}).contiguous();
  EXPECT_TRUE(torch::allclose(data::colour_jitter(0, 0, 0.8)(gray, gen), gray, 1e-4, 1e-3));
}

}  // namespace
}  // namespace deepl::testing
