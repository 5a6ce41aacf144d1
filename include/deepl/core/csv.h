#pragma once
// CSV: the quoting every CSV writer of deepl uses. Reading CSV is io/csv_reader.h's.
#include <string>

namespace deepl {

/// A field as RFC 4180 writes it: quoted (inner quotes doubled) when it holds a comma, quote or newline.
std::string csv_field(const std::string& text);

}  // namespace deepl
