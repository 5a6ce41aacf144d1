// The basics notebook's CSV reader, then column selection as the basics runs do it.
#include "deepl/core/csv.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = deepl::fuzz::input_file(data, size, ".csv");
  deepl::fuzz::expect_clean_rejection([&] {
    const auto table = deepl::read_csv(path);
    if (!table.columns.empty()) deepl::select_columns(table, {table.columns.front()}, path.string());
  });
  return 0;
}
