#pragma once
// File helpers. Every file a user keeps is written through write_file_atomic: the bytes go to
// "<path>.tmp.<pid>", are flushed to disk, then renamed over <path>, so a reader (or a crash) sees
// either the old complete file or the new complete one, never a torn one.
#include <filesystem>
#include <string>
#include <string_view>

namespace deepl {

/// Writes bytes to path atomically (temp file + fsync + rename); creates parent folders.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);
/// Reads a whole file; throws a data error naming the file when it cannot be read.
std::string read_file(const std::filesystem::path& path);
/// Creates a folder and its parents; throws a failure naming it when that is impossible.
void ensure_directory(const std::filesystem::path& dir);

}  // namespace deepl
