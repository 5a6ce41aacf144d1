#pragma once
// What every fuzz target shares: the input as a file (the readers' real entry point is a path) and
// the rule that a reader may only fail with deepl::Error. Anything else escaping (c10::Error,
// std::bad_alloc, ...) aborts, and libFuzzer reports it as a crash.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "deepl/core/error.h"

namespace deepl::fuzz {

/// Writes the input to a per-process file with the given suffix and returns its path.
inline std::filesystem::path input_file(const uint8_t* data, size_t size, const std::string& suffix) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("deepl-fuzz-" + std::to_string(::getpid()) + suffix);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

/// Runs `read`; a deepl::Error is a correct rejection of bad input.
template <typename F>
void expect_clean_rejection(F&& read) {
  try {
    read();
  } catch (const deepl::Error&) {
  }
}

}  // namespace deepl::fuzz
