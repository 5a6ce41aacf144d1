// The deepl program with fault injection, for the recovery tests only (never installed):
// DEEPL_KILL_AFTER_STEPS=N makes every training process SIGKILL itself (no cleanup, as the OOM killer
// or a lost machine would) once it has taken N optimizer steps since it started. Counting from the
// process's start, not from the start of training, lets a resumed run get further each time.
#include <spdlog/spdlog.h>

#include <climits>
#include <csignal>

#include "commands/commands.h"
#include "deepl/dist/world.h"

namespace {

class KillAfterSteps : public deepl::train::Callback {
 public:
  explicit KillAfterSteps(int64_t steps) : steps_(steps) {}
  void on_step_end(deepl::train::Trainer&, int64_t step) override {
    if (++taken_ < steps_) return;
    spdlog::warn("DEEPL_KILL_AFTER_STEPS={}: killing this process with SIGKILL after training step {}", steps_, step);
    spdlog::default_logger()->flush();
    ::raise(SIGKILL);
  }

 private:
  int64_t steps_, taken_ = 0;
};

std::vector<std::shared_ptr<deepl::train::Callback>> faults_from_environment() {
  using namespace deepl;
  const int steps = dist::env_integer(dist::getenv_lookup, "DEEPL_KILL_AFTER_STEPS", 0, 0, INT_MAX);
  if (steps == 0) return {};
  return {std::make_shared<KillAfterSteps>(steps)};
}

}  // namespace

int main(int argc, char** argv) {
  deepl::cli::ProgramHooks hooks;
  hooks.training_callbacks = faults_from_environment;
  return deepl::cli::deepl_main(argc, argv, hooks);
}
