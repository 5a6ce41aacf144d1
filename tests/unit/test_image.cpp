// Image files in (stb_image) and the framing that brings a picture to what the model was trained on.
#include <gtest/gtest.h>
#include <stb_image_write.h>
#include <torch/torch.h>

#include "../test_util.h"
#include "deepl/core/files.h"
#include "deepl/data/framing.h"
#include "deepl/data/image.h"

using namespace deepl;
using deepl::testing::error_message;
using deepl::testing::TempDir;

namespace {

// A sheet of light paper (value `paper`) with a dark rectangle of ink at rows [top, top+h), cols [left, left+w).
torch::Tensor sheet_with_rectangle(int64_t height, int64_t width, int64_t top, int64_t left, int64_t h, int64_t w,
                                   int paper = 230, int ink = 30) {
  torch::Tensor sheet = torch::full({1, height, width}, paper, torch::kUInt8);
  sheet.narrow(1, top, h).narrow(2, left, w).fill_(ink);
  return sheet;
}

std::pair<double, double> centre_of_mass(const torch::Tensor& image) {
  const torch::Tensor m = image[0].to(torch::kFloat64);
  const double total = m.sum().item<double>();
  const torch::Tensor idx = torch::arange(m.size(0), m.options());
  return {(m.sum(1) * idx).sum().item<double>() / total, (m.sum(0) * idx).sum().item<double>() / total};
}

// The rows and columns holding non-zero pixels: {height, width} of the object.
std::pair<int64_t, int64_t> object_extent(const torch::Tensor& image) {
  const torch::Tensor ink = image[0] > 0;
  return {ink.any(1).sum().item<int64_t>(), ink.any(0).sum().item<int64_t>()};
}

std::string gray_alpha_png(int width, int height, uint8_t gray, uint8_t alpha) {
  std::vector<uint8_t> pixels(static_cast<size_t>(width * height) * 2, alpha);
  for (size_t i = 0; i < pixels.size(); i += 2) pixels[i] = gray;
  std::string png;
  stbi_write_png_to_func(
      [](void* c, void* d, int n) { static_cast<std::string*>(c)->append(static_cast<char*>(d), n); }, &png, width,
      height, 2, pixels.data(), width * 2);
  return png;
}

}  // namespace

TEST(Image, PngRoundTripsGrayAndRgb) {
  TempDir dir;
  const torch::Tensor gray = torch::randint(0, 256, {1, 7, 5}, torch::kInt64).to(torch::kUInt8);
  data::write_png(dir / "gray.png", gray);
  EXPECT_TRUE(torch::equal(data::read_image(dir / "gray.png", 1), gray));
  const torch::Tensor rgb = torch::randint(0, 256, {3, 4, 6}, torch::kInt64).to(torch::kUInt8);
  data::write_png(dir / "rgb.png", rgb);
  EXPECT_TRUE(torch::equal(data::read_image(dir / "rgb.png", 3), rgb));
  // Grayscale from colour by luminance: a pure green pixel is brighter than a pure blue one.
  const torch::Tensor colours = torch::tensor({0, 0, 255, 0, 0, 255}, torch::kUInt8).reshape({3, 1, 2});
  data::write_png(dir / "colours.png", colours);
  const torch::Tensor luminance = data::read_image(dir / "colours.png", 1);
  EXPECT_GT(luminance[0][0][0].item<int>(), luminance[0][0][1].item<int>());
}

TEST(Image, TransparentPixelsLieOnWhitePaper) {
  TempDir dir;
  write_file_atomic(dir / "clear.png", gray_alpha_png(3, 2, 0, 0));
  write_file_atomic(dir / "half.png", gray_alpha_png(3, 2, 0, 128));
  EXPECT_EQ(data::read_image(dir / "clear.png", 1).min().item<int>(), 255);
  EXPECT_NEAR(data::read_image(dir / "half.png", 1)[0][0][0].item<int>(), 127, 1);
}

TEST(Image, BrokenFilesAreRefusedNamingTheFile) {
  TempDir dir;
  const std::string png = data::encode_png(torch::full({1, 40, 40}, 200, torch::kUInt8));
  write_file_atomic(dir / "empty.png", "");
  write_file_atomic(dir / "text.png", "this is not an image at all");
  write_file_atomic(dir / "truncated.png", png.substr(0, png.size() / 2));
  for (const char* name : {"empty.png", "text.png", "truncated.png"}) {
    const std::string message = error_message([&] { data::read_image(dir / name, 1); });
    EXPECT_NE(message.find(name), std::string::npos) << message;
  }
  EXPECT_NE(error_message([&] { data::read_image(dir / "empty.png", 1); }).find("empty file"), std::string::npos);
}

TEST(Image, AHeaderClaimingHugeDimensionsIsRefusedBeforeDecoding) {
  TempDir dir;
  std::string png = data::encode_png(torch::zeros({1, 8, 8}, torch::kUInt8));
  // IHDR's width and height (big-endian) at bytes 16..23: claim 20000 x 20000 pixels (400 MP).
  for (int at : {16, 20}) png.replace(at, 4, std::string("\x00\x00\x4e\x20", 4));
  write_file_atomic(dir / "huge.png", png);
  const std::string message = error_message([&] { data::read_image(dir / "huge.png", 1); });
  EXPECT_NE(message.find("20000x20000"), std::string::npos) << message;
  EXPECT_NE(message.find("huge.png"), std::string::npos) << message;
}

TEST(Image, FoldersAreListedSortedAndRecursivelyOnRequest) {
  TempDir dir;
  const torch::Tensor pixel = torch::zeros({1, 1, 1}, torch::kUInt8);
  for (const char* name : {"b.png", "a.PNG", "sub/c.png"}) data::write_png(dir / name, pixel);
  write_file_atomic(dir / "notes.txt", "not an image");
  const auto top = data::list_images(dir.path(), false);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].filename(), "a.PNG");
  EXPECT_EQ(top[1].filename(), "b.png");
  EXPECT_EQ(data::list_images(dir.path(), true).size(), 3u);
}

TEST(Framing, DigitsAreInvertedFittedTo20x20AndCentredByMass) {
  // A tall dark stroke on light paper, far off-centre: as a phone photo of a "1" would be.
  const torch::Tensor photo = sheet_with_rectangle(300, 400, 20, 300, 160, 40);
  const torch::Tensor framed = data::frame_image(photo, {data::Framing::kDigit, data::Invert::kAuto, 28, 28});
  ASSERT_EQ(framed.sizes(), (std::vector<int64_t>{1, 28, 28}));
  const auto [h, w] = object_extent(framed);
  EXPECT_EQ(h, 20);
  EXPECT_EQ(w, 5);  // 40 x 20/160, aspect ratio kept
  const auto [cy, cx] = centre_of_mass(framed);
  EXPECT_NEAR(cy, 14.0, 0.5);
  EXPECT_NEAR(cx, 14.0, 0.5);
  EXPECT_EQ(framed[0][0][0].item<int>(), 0) << "the paper becomes MNIST's black background";
  EXPECT_EQ(framed.max().item<int>(), 255) << "the ink becomes white";
}

TEST(Framing, InvertFollowsTheBorderOrTheUsersChoice) {
  const torch::Tensor light_on_dark = 255 - sheet_with_rectangle(60, 60, 10, 10, 30, 20);
  const data::FramingOptions as_is{data::Framing::kDigit, data::Invert::kAuto, 28, 28};
  const torch::Tensor framed = data::frame_image(light_on_dark, as_is);
  EXPECT_EQ(object_extent(framed).first, 20) << "auto leaves a dark border alone";
  data::FramingOptions forced = as_is;
  forced.invert = data::Invert::kYes;
  EXPECT_NE(error_message([&] { data::frame_image(light_on_dark, forced); }).find("blank"), std::string::npos)
      << "inverted, the light rectangle is dark on a light border: nothing lighter than the background";
  EXPECT_THROW(data::parse_invert("sometimes"), Error);
}

TEST(Framing, ProductsFillTheFrameCentredByTheirBox) {
  const torch::Tensor photo = sheet_with_rectangle(200, 300, 30, 10, 80, 160);
  const torch::Tensor framed = data::frame_image(photo, {data::Framing::kProduct, data::Invert::kAuto, 28, 28});
  const auto [h, w] = object_extent(framed);
  EXPECT_EQ(w, 28);
  EXPECT_EQ(h, 14);
  EXPECT_EQ(framed[0][7].sum().item<int64_t>(), 28 * 255) << "rows 7..20 hold the product";
  EXPECT_EQ(framed[0][6].sum().item<int64_t>(), 0);
}

TEST(Framing, BlankPicturesAndPlainResizes) {
  const torch::Tensor blank = torch::full({1, 50, 50}, 240, torch::kUInt8);
  EXPECT_NE(error_message([&] {
              data::frame_image(blank, {data::Framing::kDigit, data::Invert::kAuto, 28, 28});
            }).find("blank"),
            std::string::npos);
  const torch::Tensor rgb = torch::full({3, 64, 32}, 10, torch::kUInt8);
  const torch::Tensor resized = data::frame_image(rgb, {data::Framing::kResize, data::Invert::kNo, 16, 8});
  EXPECT_EQ(resized.sizes(), (std::vector<int64_t>{3, 16, 8}));
  EXPECT_EQ(resized.max().item<int>(), 10);
  EXPECT_EQ(data::framing_for_dataset("mnist"), data::Framing::kDigit);
  EXPECT_EQ(data::framing_for_dataset("fashion-mnist"), data::Framing::kProduct);
}

TEST(Framing, ProductsAreSharpenedAsFashionMnistWas) {
  // A product of two tones (ink 30 on the left half, 130 on the right) on light paper, already 28 wide.
  torch::Tensor photo = sheet_with_rectangle(40, 40, 6, 6, 28, 28);
  photo[0].narrow(0, 6, 28).narrow(1, 20, 14).fill_(130);
  const torch::Tensor framed = data::frame_image(photo, {data::Framing::kProduct, data::Invert::kAuto, 28, 28});
  const torch::Tensor row = framed[0][14].to(torch::kInt64);
  // Inverted and stretched, the left half is the brightest (255) and the right about half as bright;
  // unsharp masking undershoots on the darker side of the step between them: the edge stands out.
  EXPECT_EQ(row[5].item<int64_t>(), 255);
  EXPECT_NEAR(row[22].item<int64_t>(), 128, 2);
  EXPECT_LT(row[14].item<int64_t>(), row[22].item<int64_t>() - 20);
}
