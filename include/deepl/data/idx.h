#pragma once
// The IDX format (MNIST, Fashion-MNIST): magic 0x00 0x00 <type> <ndims>, ndims big-endian uint32
// sizes, then the values, big-endian. Files may be gzip-compressed (detected by the magic bytes).
#include <torch/types.h>

#include <cstdint>
#include <filesystem>

#include "deepl/core/files.h"

namespace deepl::data {

struct IdxLimits {
  /// Largest payload accepted, in bytes (raw, or inflated from gzip). A header asking for more is
  /// refused before any allocation. Default: input_limits().max_decompressed_bytes.
  uint64_t max_bytes = input_limits().max_decompressed_bytes;
};

/// Reads an IDX file (raw or gzip) into a tensor of the matching dtype (ubyte->uint8, sbyte->int8,
/// int16, int32, float32, float64) and shape. Throws deepl::Error (data) naming the file on any
/// defect: bad magic, unknown type, zero dimensions, truncated or trailing bytes, corrupt gzip.
torch::Tensor read_idx(const std::filesystem::path& path, const IdxLimits& limits = {});

/// Writes a tensor (uint8, int8, int16, int32, float32 or float64; rank 1..255) as IDX,
/// gzip-compressed when `gzip` is set; atomically (temp file + rename).
void write_idx(const std::filesystem::path& path, const torch::Tensor& tensor, bool gzip = false);

}  // namespace deepl::data
