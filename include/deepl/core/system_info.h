#pragma once
// What a bug report needs about this machine and this build (the C++ counterpart of
// `python -m torch.utils.collect_env`): versions, LibTorch's build flags, the CPU and what it runs
// natively, the BLAS and oneDNN in use, threads, CUDA. Printed by `deepl info`.
#include <nlohmann/json.hpp>

#include <string>

namespace deepl {

/// Every fact as JSON (`deepl info --json`).
nlohmann::json system_info();
/// The same facts for people, followed by LibTorch's own build configuration.
std::string system_report();

}  // namespace deepl
