// Image files in (io/image_codec.h: libpng, libjpeg-turbo, BMP and PGM/PPM readers) and the framing
// that brings a picture to what the model was trained on. The image files are written by Pillow, an
// encoder independent of deepl's decoders, and compared with Pillow's own decoding of them.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "../test_util.h"
#include "deepl/core/files.h"
#include "deepl/data/framing.h"
#include "deepl/data/image.h"
#include "deepl/io/image_codec.h"

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

// The message of the data error `fn` throws; fails the test when it throws another kind or none.
template <typename Fn>
std::string data_error(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a deepl::Error";
  return "";
}

// A PNG whose IHDR claims width x height, its CRC made right again so only the size is wrong.
std::string with_png_size(std::string png, uint32_t width, uint32_t height) {
  for (int i = 0; i < 4; ++i) {
    png[16 + i] = static_cast<char>(width >> (24 - 8 * i));
    png[20 + i] = static_cast<char>(height >> (24 - 8 * i));
  }
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(png.data() + 12), 17);  // "IHDR" + 13 data bytes
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<char>(crc >> (24 - 8 * i));
  return png;
}

// Pillow writes each file and, beside it as NAME.ref, its own decoding of it (raw bytes in the
// mode the test expects deepl to decode to).
constexpr const char* kPillowScript = R"(
import random, struct
from PIL import Image
random.seed(7)
def noise(mode, size=(13, 9)):
    return Image.frombytes(mode, size, bytes(random.randrange(256) for _ in range(size[0] * size[1] * len(mode))))
def ref(name, im):
    open(name + '.ref', 'wb').write(im.tobytes())
def saved(name, im, mode, **options):
    im.save(name, **options)
    ref(name, Image.open(name).convert(mode))
gray, rgb, rgba = noise('L'), noise('RGB'), noise('RGBA')
saved('gray.png', gray, 'L'); saved('rgb.png', rgb, 'RGB'); saved('rgba.png', rgba, 'RGBA')
saved('la.png', Image.merge('LA', [gray, noise('L')]), 'LA')
saved('palette.png', rgb.convert('P', palette=Image.ADAPTIVE, colors=16), 'RGB')
Image.frombytes('I;16B', gray.size, b''.join(struct.pack('>H', v * 257) for v in gray.tobytes())).convert('I').save('gray16.png')
ref('gray16.png', gray)
saved('gray.jpg', gray, 'L', quality=90); saved('rgb.jpg', rgb, 'RGB', quality=90)
saved('progressive.jpg', rgb, 'RGB', quality=90, progressive=True)
saved('rgb.bmp', rgb, 'RGB'); saved('gray.bmp', gray, 'L')
saved('palette.bmp', rgb.convert('P', palette=Image.ADAPTIVE, colors=16), 'RGB')
saved('gray.pgm', gray, 'L'); saved('rgb.ppm', rgb, 'RGB')
samples = [v * 1000 // 255 for v in gray.tobytes()]
open('gray16.pgm', 'wb').write(b'P5\n# maxval 1000\n13 9\n1000\n' + b''.join(struct.pack('>H', s) for s in samples))
open('gray16.pgm.ref', 'wb').write(bytes((s * 255 + 500) // 1000 for s in samples))
Image.merge('LA', [Image.new('L', (3, 2), 0), Image.new('L', (3, 2), 0)]).save('clear.png')
Image.merge('LA', [Image.new('L', (3, 2), 0), Image.new('L', (3, 2), 128)]).save('half.png')
Image.frombytes('RGBA', (4, 1), bytes([255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 10, 20, 30, 255])).save('four.png')
rgb.save('gif.png', format='GIF'); rgb.save('tga.png', format='TGA')
open('psd.png', 'wb').write(b'8BPS\x00\x01' + bytes(20))
jpeg = open('rgb.jpg', 'rb').read()
open('truncated.jpg', 'wb').write(jpeg[:len(jpeg) // 2])
)";

// The Image suite: image files made by Pillow once, in a folder that lives as long as the suite
// (python3 with Pillow is required: without it every test of the suite fails, saying so).
class Image : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>();
    write_file_atomic(*dir_ / "make.py", kPillowScript);
    const auto result = deepl::testing::run_command("cd '" + dir_->path().string() + "' && /usr/bin/python3 make.py");
    failure_ = result.code == 0 ? "" : "these tests need python3 with Pillow (Debian: python3-pil): " + result.output;
  }
  static void TearDownTestSuite() { dir_.reset(); }
  void SetUp() override { ASSERT_TRUE(failure_.empty()) << failure_; }

  static std::filesystem::path file(const std::string& name) { return *dir_ / name; }
  static io::RawImage decode(const std::string& name) { return io::decode_image(read_file(file(name)), name); }

  static std::unique_ptr<TempDir> dir_;
  static std::string failure_;
};
std::unique_ptr<TempDir> Image::dir_;
std::string Image::failure_;

}  // namespace

TEST_F(Image, DecodedAsPillowDecodesThem) {
  struct Case {
    const char* name;
    int channels;   // of deepl's decoding: the file's own colour model
    int tolerance;  // JPEG decoders may differ a little in their inverse DCT
  };
  for (const Case& c : {Case{"gray.png", 1, 0}, Case{"rgb.png", 3, 0}, Case{"rgba.png", 4, 0}, Case{"la.png", 2, 0},
                        Case{"palette.png", 3, 0}, Case{"gray16.png", 1, 0}, Case{"gray.jpg", 1, 2},
                        Case{"rgb.jpg", 3, 2}, Case{"progressive.jpg", 3, 2}, Case{"rgb.bmp", 3, 0},
                        Case{"gray.bmp", 1, 0}, Case{"palette.bmp", 3, 0}, Case{"gray.pgm", 1, 0},
                        Case{"rgb.ppm", 3, 0}, Case{"gray16.pgm", 1, 0}}) {
    SCOPED_TRACE(c.name);
    const io::RawImage image = decode(c.name);
    const std::string expected = read_file(file(std::string(c.name) + ".ref"));
    EXPECT_EQ(image.width, 13);
    EXPECT_EQ(image.height, 9);
    EXPECT_EQ(image.channels, c.channels);
    ASSERT_EQ(image.pixels.size(), expected.size());
    int largest = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      largest = std::max(largest, std::abs(image.pixels[i] - static_cast<uint8_t>(expected[i])));
    }
    EXPECT_LE(largest, c.tolerance);
    const data::ImageInfo info = data::image_info(file(c.name));
    EXPECT_EQ(info.width, 13);
    EXPECT_EQ(info.height, 9);
    EXPECT_EQ(info.channels, c.channels >= 3 ? 3 : 1);
  }
}

TEST_F(Image, TransparentPixelsLieOnWhitePaper) {
  EXPECT_EQ(data::read_image(file("clear.png"), 1).min().item<int>(), 255);
  EXPECT_EQ(data::read_image(file("half.png"), 1)[0][0][0].item<int>(), 127);  // 255 x 127/255
  // Opaque red, half-transparent green, transparent blue, opaque (10, 20, 30).
  const torch::Tensor rgb = data::read_image(file("four.png"), 3);
  EXPECT_TRUE(torch::equal(rgb, torch::tensor({255, 127, 255, 10, 0, 255, 255, 20, 0, 127, 255, 30}, torch::kUInt8)
                                    .reshape({3, 1, 4})));
  // By luminance, R 299/1000 + G 587/1000 + B 114/1000 rounded: (76.245), (202.136), 255, (18.15).
  const torch::Tensor gray = data::read_image(file("four.png"), 1);
  EXPECT_TRUE(torch::equal(gray, torch::tensor({76, 202, 255, 18}, torch::kUInt8).reshape({1, 1, 4})));
}

TEST_F(Image, GrayBecomesRgbByReplication) {
  const torch::Tensor rgb = data::read_image(file("gray.png"), 3);
  const torch::Tensor gray = data::read_image(file("gray.png"), 1);
  ASSERT_EQ(rgb.sizes(), (std::vector<int64_t>{3, 9, 13}));
  for (int c = 0; c < 3; ++c) EXPECT_TRUE(torch::equal(rgb[c], gray[0]));
}

TEST_F(Image, OtherFormatsAndBrokenFilesAreRefusedNamingTheFile) {
  const std::string png = read_file(file("rgb.png"));
  const size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  write_file_atomic(file("truncated.png"), png.substr(0, idat + 4 + (png.size() - idat) / 2));
  write_file_atomic(file("empty.png"), "");
  const std::pair<const char*, const char*> cases[] = {
      {"gif.png", "a GIF image, which deepl does not read"},
      {"tga.png", "not a PNG, JPEG, BMP or PGM/PPM file"},
      {"psd.png", "a Photoshop (PSD) image"},
      {"truncated.png", "a damaged PNG image"},
      {"truncated.jpg", "a damaged JPEG image"},
      {"empty.png", "empty file"},
  };
  for (const auto& [name, what] : cases) {
    const std::filesystem::path picture = file(name);
    for (int channels : {1, 3}) {
      const std::string message = data_error([&] { data::read_image(picture, channels); });
      EXPECT_EQ(message.rfind(picture.string() + ": ", 0), 0u) << message;
      EXPECT_NE(message.find(what), std::string::npos) << message;
    }
  }
}

TEST_F(Image, AHeaderClaimingHugeDimensionsIsRefusedBeforeDecoding) {
  // 10^10 pixels: decoding would need 30 GB; the file holds 9 rows of 13.
  write_file_atomic(file("huge.png"), with_png_size(read_file(file("rgb.png")), 100000, 100000));
  const std::string message = data_error([&] { data::read_image(file("huge.png"), 3); });
  EXPECT_NE(message.find("100000x100000 pixels, over the limit"), std::string::npos) << message;
  EXPECT_NE(message.find("huge.png"), std::string::npos) << message;
  const data::ImageInfo info = data::image_info(file("huge.png"));
  EXPECT_EQ(info.width, 100000);
  EXPECT_EQ(info.channels, 3);
  data::ImageLimits small;
  small.max_pixels = 100;
  EXPECT_NE(data_error([&] { data::read_image(file("rgb.png"), 3, small); }).find("13x9"), std::string::npos);
}

TEST_F(Image, PngRoundTripsGrayAndRgb) {
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
  // The decoder follows the bytes, not the name.
  data::write_png(dir / "really_a_png.jpg", gray);
  EXPECT_TRUE(torch::equal(data::read_image(dir / "really_a_png.jpg", 1), gray));
}

TEST_F(Image, BrokenFilesAreRefusedNamingTheFile) {
  TempDir dir;
  const std::string png = data::encode_png(torch::full({1, 40, 40}, 200, torch::kUInt8));
  write_file_atomic(dir / "empty.png", "");
  write_file_atomic(dir / "text.png", "this is not an image at all");
  write_file_atomic(dir / "truncated.png", png.substr(0, png.size() / 2));
  write_file_atomic(dir / "zero.png", with_png_size(png, 0, 40));
  for (const char* name : {"empty.png", "text.png", "truncated.png", "zero.png"}) {
    const std::string message = data_error([&] { data::read_image(dir / name, 1); });
    EXPECT_NE(message.find(name), std::string::npos) << message;
  }
  EXPECT_NE(error_message([&] { data::read_image(dir / "empty.png", 1); }).find("empty file"), std::string::npos);
  EXPECT_EQ(data_error([&] { data::image_info(dir / "missing.png"); }).find((dir / "missing.png").string()), 0u);
}

TEST_F(Image, FoldersAreListedSortedAndRecursivelyOnRequest) {
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
