#pragma once
// File helpers. Every file a user keeps is written through write_file_atomic: the bytes go to
// "<path>.tmp.<pid>", are flushed to disk, then renamed over <path>, so a reader (or a crash) sees
// either the old complete file or the new complete one, never a torn one.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace deepl {

/// Caps on what deepl reads from files it did not write itself (data sets, weights, checkpoints,
/// configs, CSVs), so a hostile or broken file is refused with an error instead of exhausting memory.
struct InputLimits {
  uint64_t max_file_bytes = uint64_t{2} << 30;          // one input file (VGG16 weights are 528 MB)
  uint64_t max_decompressed_bytes = uint64_t{1} << 30;  // one gzip stream, inflated (MNIST: 47 MB)
};
/// The process-wide limits: the defaults above, or DEEPL_MAX_FILE_MB / DEEPL_MAX_DECOMPRESSED_MB.
const InputLimits& input_limits();
/// Replaces the process-wide limits (tests; programs embedding deepl).
void set_input_limits(const InputLimits& limits);

/// Writes bytes to path atomically (temp file + fsync + rename); creates parent folders.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);
/// Throws a data error naming `path` when `size` (its size in bytes) is over max_file_bytes.
void check_input_size(const std::filesystem::path& path, uint64_t size);
/// Reads a whole file; throws a data error naming the file when it cannot be read or is larger
/// than input_limits().max_file_bytes.
std::string read_file(const std::filesystem::path& path);
/// Removes the temp files of write_file_atomic calls whose process died (killed mid-write) under
/// `dir`, recursively; returns how many. Files of live processes are left alone.
int remove_stale_temp_files(const std::filesystem::path& dir);
/// Creates a folder and its parents; throws a failure naming it when that is impossible.
void ensure_directory(const std::filesystem::path& dir);
/// The file's SHA-256 as 64 lowercase hex digits; a data error naming it when it cannot be read.
std::string sha256_of_file(const std::filesystem::path& path);

}  // namespace deepl
