// CSV: the basics notebook's numeric reader with column selection, and the table data source
// (data.dataset "csv", target column "y") on the same bytes, both splits.
#include "deepl/data/sources.h"
#include "deepl/io/csv_reader.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = deepl::fuzz::input_file(data, size, ".csv");
  deepl::fuzz::expect_clean_rejection([&] {
    const auto table = deepl::io::read_csv(path);
    if (!table.columns.empty()) deepl::io::select_columns(table, {table.columns.front()}, path.string());
  });
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  deepl::data::CsvSource source;
  source.path = "input.csv";
  source.target = "y";
  for (auto split : {deepl::data::Split::kTrain, deepl::data::Split::kTest}) {
    deepl::fuzz::expect_clean_rejection([&] { deepl::data::table_from_csv(text, source, split); });
  }
  return 0;
}
