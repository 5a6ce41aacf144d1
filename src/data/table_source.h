#pragma once
// A CSV table's split read from its file. Internal to the data layer (sources.cpp).
#include "deepl/data/sources.h"

namespace deepl::data {

/// table_from_csv on the contents of source.path (at most 4 GiB).
Dataset csv_split(const CsvSource& source, Split split);

}  // namespace deepl::data
