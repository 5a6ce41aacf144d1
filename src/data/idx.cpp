#include "deepl/data/idx.h"

#include <fmt/format.h>
#include <torch/torch.h>
#include <zlib.h>

#include <array>
#include <cstring>
#include <memory>

#include "deepl/core/error.h"
#include "deepl/core/files.h"

namespace deepl::data {

namespace {

struct IdxType {
  uint8_t code;
  torch::Dtype dtype;
  size_t width;
};

constexpr std::array<IdxType, 6> kTypes{{{0x08, torch::kUInt8, 1},
                                         {0x09, torch::kInt8, 1},
                                         {0x0B, torch::kInt16, 2},
                                         {0x0C, torch::kInt32, 4},
                                         {0x0D, torch::kFloat32, 4},
                                         {0x0E, torch::kFloat64, 8}}};

const IdxType* find_type_by_code(uint8_t code) {
  for (const auto& t : kTypes)
    if (t.code == code) return &t;
  return nullptr;
}

const IdxType* find_type_by_dtype(torch::Dtype dtype) {
  for (const auto& t : kTypes)
    if (t.dtype == dtype) return &t;
  return nullptr;
}

void swap_to_host(uint8_t* data, size_t count, size_t width) {
  if (width == 1) return;
  for (size_t i = 0; i < count; ++i) std::reverse(data + i * width, data + (i + 1) * width);
}

// gzFile reading raw and gzip files alike; closes itself.
class Reader {
 public:
  explicit Reader(const std::filesystem::path& path) : path_(path) {
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) throw_data(path.string() + ": cannot open: " + std::strerror(errno));
    gzbuffer(file_, 1 << 17);
  }
  ~Reader() {
    if (file_) gzclose(file_);
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  bool compressed() const { return gzdirect(file_) == 0; }

  // Reads up to n bytes; returns how many were read (fewer only at the end of the data).
  size_t read(void* out, size_t n) {
    size_t total = 0;
    auto* dst = static_cast<uint8_t*>(out);
    while (total < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - total, 1u << 30));
      const int got = gzread(file_, dst + total, chunk);
      if (got < 0) {
        int code = 0;
        const char* why = gzerror(file_, &code);
        throw_data(fmt::format("{}: corrupt gzip stream: {}", path_.string(), why ? why : "unknown error"));
      }
      if (got == 0) {
        int code = 0;
        gzerror(file_, &code);
        if (code != Z_OK && code != Z_BUF_ERROR) {
          throw_data(fmt::format("{}: corrupt gzip stream", path_.string()));
        }
        // A gzip stream that stops before its trailer is truncated, not merely short.
        if (code == Z_BUF_ERROR) throw_data(fmt::format("{}: truncated gzip stream", path_.string()));
        break;
      }
      total += static_cast<size_t>(got);
    }
    return total;
  }

 private:
  std::filesystem::path path_;
  gzFile file_ = nullptr;
};

std::string shape_text(const std::vector<int64_t>& dims) { return fmt::format("{}", fmt::join(dims, "x")); }

}  // namespace

torch::Tensor read_idx(const std::filesystem::path& path, const IdxLimits& limits) {
  const std::string name = path.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw_data(name + ": no such file");
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  check_input_size(path, file_size);
  Reader reader(path);

  uint8_t magic[4];
  if (reader.read(magic, 4) != 4) throw_data(name + ": too short for an IDX header (needs 4 magic bytes)");
  if (magic[0] != 0 || magic[1] != 0) {
    throw_data(fmt::format("{}: not an IDX file (magic {:02x} {:02x} {:02x} {:02x}, expected 00 00 <type> <ndims>)",
                           name, magic[0], magic[1], magic[2], magic[3]));
  }
  const IdxType* type = find_type_by_code(magic[2]);
  if (!type) throw_data(fmt::format("{}: unknown IDX type code 0x{:02x}", name, magic[2]));
  const int ndims = magic[3];
  if (ndims == 0) throw_data(name + ": IDX header declares 0 dimensions");

  std::vector<uint8_t> dim_bytes(static_cast<size_t>(ndims) * 4);
  if (reader.read(dim_bytes.data(), dim_bytes.size()) != dim_bytes.size()) {
    throw_data(fmt::format("{}: truncated header ({} dimensions declared)", name, ndims));
  }
  std::vector<int64_t> dims(ndims);
  uint64_t count = 1;
  for (int i = 0; i < ndims; ++i) {
    const uint8_t* b = &dim_bytes[static_cast<size_t>(i) * 4];
    const uint32_t d = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    if (d == 0) throw_data(fmt::format("{}: dimension {} is 0", name, i));
    dims[i] = d;
    if (__builtin_mul_overflow(count, uint64_t{d}, &count)) count = UINT64_MAX;
  }
  uint64_t declared = 0;
  if (__builtin_mul_overflow(count, uint64_t{type->width}, &declared) || declared > limits.max_bytes) {
    throw_data(fmt::format("{}: header declares {} values of {} bytes, over the {}-byte limit (raise it with "
                           "DEEPL_MAX_DECOMPRESSED_MB)", name, shape_text(dims), type->width, limits.max_bytes));
  }
  const uint64_t header = 4 + dim_bytes.size();

  if (!reader.compressed()) {
    const uint64_t payload = file_size - header;
    if (payload != declared) {
      throw_data(fmt::format("{}: header declares {} = {} bytes, file holds {} bytes", name, shape_text(dims),
                             declared, payload));
    }
  } else if (declared / 1032 > file_size) {
    // Deflate cannot compress better than ~1032:1, so the stream cannot hold what the header claims.
    throw_data(fmt::format("{}: header declares {} = {} bytes, more than a {}-byte gzip file can hold", name,
                           shape_text(dims), declared, file_size));
  }

  // Read in chunks into a buffer that grows with what the stream actually yields, so a lying
  // header costs at most one chunk beyond the real data.
  constexpr uint64_t kChunk = uint64_t{16} << 20;
  auto buffer = std::make_unique<std::vector<uint8_t>>();
  buffer->reserve(static_cast<size_t>(std::min(declared, kChunk)));
  uint64_t have = 0;
  while (have < declared) {
    const uint64_t want = std::min(kChunk, declared - have);
    buffer->resize(static_cast<size_t>(have + want));
    const size_t got = reader.read(buffer->data() + have, static_cast<size_t>(want));
    have += got;
    if (got < want) {
      throw_data(fmt::format("{}: header declares {} = {} bytes, file holds {} bytes", name, shape_text(dims),
                             declared, have));
    }
  }
  uint8_t extra[1];
  if (reader.read(extra, 1) != 0) {
    throw_data(fmt::format("{}: trailing bytes after the {} = {} declared bytes", name, shape_text(dims), declared));
  }
  swap_to_host(buffer->data(), static_cast<size_t>(count), type->width);
  auto* raw = buffer.release();
  return torch::from_blob(
      raw->data(), dims, [raw](void*) { delete raw; }, torch::TensorOptions().dtype(type->dtype));
}

void write_idx(const std::filesystem::path& path, const torch::Tensor& tensor, bool gzip) {
  const IdxType* type = find_type_by_dtype(tensor.scalar_type());
  if (!type) throw_usage(fmt::format("{}: cannot write dtype {} as IDX", path.string(), c10::toString(tensor.scalar_type())));
  if (tensor.dim() < 1 || tensor.dim() > 255) throw_usage(path.string() + ": IDX needs rank 1..255");
  std::string bytes;
  bytes.push_back(0);
  bytes.push_back(0);
  bytes.push_back(static_cast<char>(type->code));
  bytes.push_back(static_cast<char>(tensor.dim()));
  for (int64_t d : tensor.sizes()) {
    if (d <= 0 || d > UINT32_MAX) throw_usage(path.string() + ": IDX dimensions must be in 1..2^32-1");
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>((d >> shift) & 0xFF));
  }
  const torch::Tensor values = tensor.contiguous().cpu();
  const size_t offset = bytes.size();
  bytes.resize(offset + values.nbytes());
  std::memcpy(bytes.data() + offset, values.data_ptr(), values.nbytes());
  swap_to_host(reinterpret_cast<uint8_t*>(bytes.data() + offset), static_cast<size_t>(values.numel()), type->width);
  if (!gzip) {
    write_file_atomic(path, bytes);
    return;
  }
  uLongf bound = compressBound(bytes.size()) + 32;
  std::string out(bound, '\0');
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw_failure(path.string() + ": zlib init failed");
  }
  zs.next_in = reinterpret_cast<Bytef*>(bytes.data());
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const size_t written = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw_failure(path.string() + ": gzip compression failed");
  out.resize(written);
  write_file_atomic(path, out);
}

}  // namespace deepl::data
