#pragma once
// What every deepl app shares: logging set-up and the one place exceptions become exit codes.
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace deepl::cli {

constexpr const char* kExitCodes =
    "Exit codes: 0 success, 1 failure, 2 usage or config error, 3 data error.";

/// Sets spdlog's pattern and level (warnings only when quiet).
void setup_logging(bool quiet);
/// Parses argv, runs `body`, and maps deepl::Error / CLI11 / other exceptions to exit codes,
/// printing one line for each failure.
int run(CLI::App& app, int argc, char** argv, const std::function<void()>& body);
/// As run(), for a body that returns its own exit status (0 on success).
int run_status(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace deepl::cli

namespace deepl::run {
struct Notebook;
}

namespace deepl::cli {
/// The whole main of a notebook app (deepl-mnist-mlp, ...): options, run, exit code.
int notebook_main(int argc, char** argv, const run::Notebook& notebook);
}  // namespace deepl::cli
