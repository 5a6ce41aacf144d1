#include "cli_common.h"

#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include "deepl/core/error.h"

namespace deepl::cli {

void setup_logging(bool quiet) {
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  spdlog::set_level(quiet ? spdlog::level::warn : spdlog::level::info);
}

int run(CLI::App& app, int argc, char** argv, const std::function<void()>& body) {
  setup_logging(false);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return static_cast<int>(ErrorKind::kUsage);
  }
  try {
    body();
    return 0;
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return e.exit_code();
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    spdlog::error("LibTorch: {}", what.substr(0, what.find('\n')));
    return static_cast<int>(ErrorKind::kFailure);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return static_cast<int>(ErrorKind::kFailure);
  }
}

}  // namespace deepl::cli
