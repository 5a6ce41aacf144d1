#include "deepl/core/error.h"

namespace deepl {

void throw_usage(const std::string& message) { throw Error(ErrorKind::kUsage, message); }
void throw_data(const std::string& message) { throw Error(ErrorKind::kData, message); }
void throw_failure(const std::string& message) { throw Error(ErrorKind::kFailure, message); }

}  // namespace deepl
