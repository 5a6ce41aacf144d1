#include <gtest/gtest.h>
#include <zlib.h>

#include "../test_util.h"
#include "deepl/core/files.h"
#include "deepl/data/idx.h"

using namespace deepl;
using deepl::testing::error_message;
using deepl::testing::TempDir;

namespace {

std::string header(uint8_t type, std::vector<uint32_t> dims) {
  std::string h = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) h.push_back(static_cast<char>((d >> s) & 0xFF));
  return h;
}

std::string gzip_bytes(const std::string& raw) {
  const auto path = std::filesystem::temp_directory_path() / ("deepl-gz-" + std::to_string(::getpid()));
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, raw.data(), static_cast<unsigned>(raw.size()));
  gzclose(f);
  std::string out = read_file(path);
  std::filesystem::remove(path);
  return out;
}

}  // namespace

class IdxRoundTrip : public ::testing::TestWithParam<std::tuple<torch::Dtype, bool>> {};

TEST_P(IdxRoundTrip, EveryTypeRawAndGzip) {
  const auto [dtype, gzip] = GetParam();
  TempDir dir;
  torch::manual_seed(3);
  torch::Tensor t = (torch::randn({3, 4, 5}) * 100).to(dtype);
  const auto path = dir / (gzip ? "t.idx.gz" : "t.idx");
  data::write_idx(path, t, gzip);
  const torch::Tensor back = data::read_idx(path);
  EXPECT_EQ(back.scalar_type(), dtype);
  EXPECT_EQ(back.sizes(), t.sizes());
  EXPECT_TRUE(torch::equal(back, t));
  // The gzip flag must change the bytes on disk: 1f 8b is gzip's magic.
  const std::string bytes = read_file(path);
  EXPECT_EQ(gzip, static_cast<unsigned char>(bytes[0]) == 0x1f && static_cast<unsigned char>(bytes[1]) == 0x8b);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, IdxRoundTrip,
                         ::testing::Combine(::testing::Values(torch::kUInt8, torch::kInt8, torch::kInt16, torch::kInt32,
                                                              torch::kFloat32, torch::kFloat64),
                                            ::testing::Bool()));

TEST(Idx, BigEndianOnDisk) {
  TempDir dir;
  data::write_idx(dir / "i.idx", torch::tensor({0x01020304}, torch::kInt32));
  const std::string b = read_file(dir / "i.idx");
  ASSERT_EQ(b.size(), 4u + 4u + 4u);
  EXPECT_EQ(b.substr(8), std::string("\x01\x02\x03\x04", 4));
}

TEST(Idx, AnyRank) {
  TempDir dir;
  const torch::Tensor t = torch::arange(2 * 3 * 1 * 2 * 2, torch::kUInt8).view({2, 3, 1, 2, 2});
  data::write_idx(dir / "r5", t);
  EXPECT_TRUE(torch::equal(data::read_idx(dir / "r5"), t));
}

struct Malformed {
  std::string name;
  std::string bytes;
  bool gzip;
  std::string expected;
};

void PrintTo(const Malformed& m, std::ostream* os) { *os << m.name; }

class IdxMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(IdxMalformed, ClearErrorNamingTheFile) {
  const Malformed& m = GetParam();
  TempDir dir;
  const auto path = dir / m.name;
  write_file_atomic(path, m.gzip ? gzip_bytes(m.bytes) : m.bytes);
  const std::string msg = error_message([&] { data::read_idx(path); });
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(m.expected), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, IdxMalformed,
    ::testing::Values(
        Malformed{"empty", "", false, "too short"},
        Malformed{"bad_magic", std::string("\x01\x02\x08\x01", 4) + "abcd", false, "not an IDX file"},
        Malformed{"unknown_type", header(0x0A, {2}) + "ab", false, "unknown IDX type code 0x0a"},
        Malformed{"zero_rank", header(0x08, {}), false, "0 dimensions"},
        Malformed{"zero_dim", header(0x08, {3, 0}), false, "dimension 1 is 0"},
        Malformed{"truncated_header", header(0x08, {60000, 28, 28}).substr(0, 9), false, "truncated header"},
        Malformed{"truncated_data", header(0x08, {60000, 28, 28}) + std::string(1200, 'x'), false,
                  "header declares 60000x28x28 = 47040000 bytes, file holds 1200 bytes"},
        Malformed{"trailing", header(0x08, {2}) + "abc", false, "file holds 3 bytes"},
        Malformed{"huge_header", header(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}), false, "over the"},
        Malformed{"gz_truncated_data.gz", header(0x08, {1000}) + std::string(10, 'x'), true,
                  "header declares 1000 = 1000 bytes, file holds 10 bytes"},
        Malformed{"gz_trailing.gz", header(0x08, {2}) + "abc", true, "trailing bytes"},
        Malformed{"gz_lying_header.gz", header(0x08, {60000, 28, 28, 4}) + "x", true, "more than a"}),
    [](const ::testing::TestParamInfo<Malformed>& info) {
      std::string name = info.param.name;
      for (char& c : name) if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST(Idx, CorruptGzipStream) {
  TempDir dir;
  std::string gz = gzip_bytes(header(0x08, {5000}) + std::string(5000, 'a'));
  gz[gz.size() / 2] ^= 0x55;
  gz[gz.size() / 2 + 1] ^= 0x55;
  write_file_atomic(dir / "c.gz", gz);
  const std::string msg = error_message([&] { data::read_idx(dir / "c.gz"); });
  EXPECT_NE(msg.find("gzip"), std::string::npos) << msg;
}

TEST(Idx, TruncatedGzipStream) {
  TempDir dir;
  torch::manual_seed(0);
  const std::string gz = gzip_bytes(header(0x08, {5000}) + std::string(5000, 'a'));
  write_file_atomic(dir / "t.gz", gz.substr(0, gz.size() - 12));
  const std::string msg = error_message([&] { data::read_idx(dir / "t.gz"); });
  EXPECT_NE(msg.find("t.gz"), std::string::npos) << msg;
}

TEST(Idx, MissingFile) {
  const std::string msg = error_message([] { data::read_idx("/nonexistent/x-idx3-ubyte"); });
  EXPECT_NE(msg.find("/nonexistent/x-idx3-ubyte: no such file"), std::string::npos) << msg;
}

TEST(Idx, WriterRejectsUnsupportedDtype) {
  TempDir dir;
  EXPECT_THROW(data::write_idx(dir / "b", torch::zeros({2}, torch::kBool)), Error);
}

namespace {
// Sets the process-wide input limits for one test and restores them afterwards.
class ScopedInputLimits {
 public:
  explicit ScopedInputLimits(const InputLimits& limits) : saved_(input_limits()) { set_input_limits(limits); }
  ~ScopedInputLimits() { set_input_limits(saved_); }

 private:
  InputLimits saved_;
};
}  // namespace

TEST(InputLimits, OversizedFilesAndOverInflatingGzipAreRefused) {
  TempDir dir;
  write_file_atomic(dir / "big.json", std::string(2 << 20, ' '));
  // 2 MB of values 0..15: gzip halves it, so the 1032:1 bound does not catch it; the cap must.
  const torch::Tensor payload = torch::randint(0, 16, {2 << 20}, torch::kUInt8);
  data::write_idx(dir / "bomb.idx.gz", payload, true);
  {
    ScopedInputLimits small_files({uint64_t{1} << 20, uint64_t{1} << 30});
    const std::string too_big = error_message([&] { read_file(dir / "big.json"); });
    EXPECT_NE(too_big.find("big.json: 2097152 bytes, over the 1048576-byte input limit"), std::string::npos) << too_big;
    EXPECT_NE(too_big.find("DEEPL_MAX_FILE_MB"), std::string::npos) << too_big;
  }
  ScopedInputLimits small_streams({uint64_t{64} << 20, uint64_t{1} << 20});
  const std::string bomb = error_message([&] { data::read_idx(dir / "bomb.idx.gz"); });
  EXPECT_NE(bomb.find("over the 1048576-byte limit"), std::string::npos) << bomb;
  EXPECT_NE(bomb.find("DEEPL_MAX_DECOMPRESSED_MB"), std::string::npos) << bomb;
}
