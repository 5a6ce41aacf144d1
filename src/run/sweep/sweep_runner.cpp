// Running a sweep: trials as `deepl train` processes, `jobs` at a time; successive halving's rungs;
// resuming from the trial folders; a graceful stop on SIGINT/SIGTERM.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <thread>

#include "deepl/core/cpu.h"
#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/core/process.h"
#include "deepl/core/signals.h"
#include "deepl/report/progress.h"
#include "deepl/run/runs.h"
#include "deepl/run/sweep.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

void remember_stop(int sig) { g_stop_signal = sig; }

// Catches SIGINT/SIGTERM while the sweep runs (the trials are stopped in order), restoring the old handlers after.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction action {};
    action.sa_handler = remember_stop;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &old_int_);
    ::sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopSignals() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

struct Task {
  Trial trial;
  int64_t pause_after = 0;  // a halving rung's budget; 0: train to train.epochs and evaluate
};

fs::path trial_dir(const Sweep& sweep, const Trial& trial) { return sweep.out_dir / "trials" / trial.folder; }

std::string values_text(const Trial& trial) {
  std::vector<std::string> parts;
  for (const auto& [key, value] : trial.values) parts.push_back(key + "=" + value.dump());
  return fmt::format("{}", fmt::join(parts, " "));
}

void write_trial_state(const Sweep& sweep, const Trial& trial, const std::string& status, int exit_code = 0,
                       const std::string& error = "") {
  json values = json::object();
  for (const auto& [key, value] : trial.values) values[key] = value;
  write_json_file(trial_dir(sweep, trial) / "trial.json", {{"index", trial.index},
                                                           {"folder", trial.folder},
                                                           {"values", values},
                                                           {"status", status},
                                                           {"exit_code", exit_code},
                                                           {"error", error}});
}

// The line that says why a trial failed: its log's last error line, else its last line.
std::string error_line(const fs::path& log) {
  std::ifstream in(log);
  std::string line, last, last_error;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    last = line;
    if (line.find(" error ") != std::string::npos || line.find("error:") != std::string::npos) last_error = line;
  }
  std::string chosen = last_error.empty() ? last : last_error;
  const auto at = chosen.find(" error ");
  if (at != std::string::npos && chosen.rfind('[', 0) == 0) chosen = chosen.substr(at + 7);  // "[12:00:00] error ..."
  return chosen.empty() ? "no output (see " + log.string() + ")" : chosen;
}

std::vector<std::string> train_arguments(const Sweep& sweep, const Task& task, int threads) {
  const fs::path dir = trial_dir(sweep, task.trial);
  std::vector<std::string> args = {"train", "--config", sweep.experiment.string(), "--out", dir.string()};
  if (threads >= 0) args.insert(args.end(), {"--threads", std::to_string(threads)});
  for (const auto& o : task.trial.overrides) args.insert(args.end(), {"--set", o});
  const fs::path last = dir / "checkpoints" / "last.pt";
  if (fs::exists(last)) args.insert(args.end(), {"--resume", last.string()});
  if (task.pause_after > 0) args.insert(args.end(), {"--pause-after-epoch", std::to_string(task.pause_after)});
  return args;
}

pid_t spawn_trial(const fs::path& program, const std::vector<std::string>& args, const fs::path& log) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw_failure("sweep: fork failed");
  if (pid > 0) return pid;
  // A killed sweep (even by SIGKILL) stops its trials gracefully: they write last.pt.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) std::_Exit(143);
  ::setpgid(0, 0);  // a terminal's Ctrl-C reaches the sweep alone, which stops each trial once
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) ::dup2(fd, 1), ::dup2(fd, 2);
  exec_program(program, args, "sweep");
}

// Runs tasks as child processes, `jobs` at a time; logs each start and end, records each trial's
// state and rewrites the summary after every trial.
class TrialPool {
 public:
  TrialPool(const Sweep& sweep, const SweepOptions& options, int jobs, int threads, int64_t total_tasks)
      : sweep_(sweep), options_(options), jobs_(jobs), threads_(threads) {
    if (!options.quiet && report::stdout_is_terminal()) {
      bar_ = std::make_unique<report::ProgressBar>("sweep", total_tasks, false);
    }
  }

  /// False when a signal stopped it (the running trials were stopped and wrote last.pt).
  bool run(const std::vector<Task>& tasks) {
    size_t next = 0;
    std::map<pid_t, Running> running;
    bool stopping = false;
    while (next < tasks.size() || !running.empty()) {
      if (g_stop_signal != 0 && !stopping) {
        stopping = true;
        stopped_by_ = g_stop_signal;
        spdlog::warn("{}: stopping {} running trial(s); they write last.pt", signal_name(stopped_by_), running.size());
        for (const auto& entry : running) ::kill(entry.first, SIGTERM);
      }
      while (!stopping && running.size() < static_cast<size_t>(jobs_) && next < tasks.size()) {
        const Task& task = tasks[next++];
        running.emplace(start(task), Running{task, std::chrono::steady_clock::now()});
      }
      bool any_ended = false;
      for (auto it = running.begin(); it != running.end();) {
        int status = 0;
        if (::waitpid(it->first, &status, WNOHANG) != it->first) {
          ++it;
          continue;
        }
        finish(it->second, exit_status(status), stopping);
        it = running.erase(it);
        any_ended = true;
      }
      if (!any_ended) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    left_ += static_cast<int>(tasks.size() - next);
    return !stopping;
  }

  int stopped_by() const { return stopped_by_; }
  int left() const { return left_; }

 private:
  struct Running {
    Task task;
    std::chrono::steady_clock::time_point start;
  };

  pid_t start(const Task& task) {
    const fs::path dir = trial_dir(sweep_, task.trial);
    ensure_directory(dir);
    write_trial_state(sweep_, task.trial, "running");
    const auto args = train_arguments(sweep_, task, threads_);
    const bool resuming = std::find(args.begin(), args.end(), "--resume") != args.end();
    spdlog::info("trial {} {}: {}{}", task.trial.index, resuming ? "resumes" : "starts", values_text(task.trial),
                 task.pause_after > 0 ? fmt::format(" (to epoch {})", task.pause_after) : "");
    return spawn_trial(options_.program, args, dir / "train.log");
  }

  void finish(const Running& r, int code, bool stopping) {
    const Trial& trial = r.task.trial;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - r.start).count();
    const TrialOutcome o = read_trial_outcome(sweep_, trial);
    if (code == 0) {
      write_trial_state(sweep_, trial, o.status);
      spdlog::info("trial {} {} after {} epoch(s) in {:.0f} s: {} {}{}", trial.index, o.status, o.epochs, seconds,
                   sweep_.metric, o.metric ? fmt::format("{:.4f}", *o.metric) : "-",
                   o.test_accuracy ? fmt::format(", test accuracy {:.4f}", *o.test_accuracy) : "");
    } else if (stopping && (code == 128 + SIGTERM || code == 128 + SIGINT)) {
      write_trial_state(sweep_, trial, "interrupted", code);
      spdlog::warn("trial {} stopped after {} complete epoch(s); the same command resumes it", trial.index, o.epochs);
      ++left_;
    } else {
      const std::string error = error_line(trial_dir(sweep_, trial) / "train.log");
      write_trial_state(sweep_, trial, "failed", code, error);
      spdlog::error("trial {} failed (exit {}): {}", trial.index, code, error);
    }
    ++finished_tasks_;
    if (!options_.only_trial) summarize_sweep(sweep_);
    if (bar_) bar_->update(finished_tasks_, "");
  }

  const Sweep& sweep_;
  const SweepOptions& options_;
  int jobs_, threads_;
  std::unique_ptr<report::ProgressBar> bar_;
  int64_t finished_tasks_ = 0;
  int stopped_by_ = 0, left_ = 0;
};

// Whether a trial still has epochs to train to reach `budget`.
bool needs_run(const Sweep& sweep, const Trial& trial, int64_t budget, bool retry_failed) {
  const TrialOutcome o = read_trial_outcome(sweep, trial);
  if (o.status == "failed") return retry_failed;
  if (o.status == "finished") return false;  // early stopping may end a trial before its budget
  return o.epochs < budget;
}

// What a sweep folder was started with; `jobs` may change between runs.
json sweep_record(const Sweep& sweep) {
  json file = sweep.json;
  file.erase("jobs");
  return {{"sweep", file}, {"set", sweep.overrides}, {"experiment", sweep.base_config}};
}

// Records the sweep in its folder the first time; refuses to continue a folder started differently.
void check_sweep_folder(const Sweep& sweep) {
  const fs::path path = sweep.out_dir / "sweep.json";
  const json now = sweep_record(sweep);
  if (!fs::exists(path)) {
    write_json_file(path, now);
    return;
  }
  const auto changed = json_differences(read_json_file(path), now);
  if (!changed.empty()) {
    throw_usage(
        fmt::format("{}: changed since the sweep in {} started ({}); start it in a new --out folder, or delete "
                    "that one",
                    sweep.file.string(), sweep.out_dir.string(), fmt::join(changed, "; ")));
  }
}

// How many trial runs a halving sweep starts: every trial, then 1/eta of them per later rung.
int64_t halving_runs(const Sweep& sweep, size_t trials) {
  int64_t runs = 0;
  for (size_t rung = 0, n = trials; rung < halving_budgets(sweep).size(); ++rung, n = (n + sweep.eta - 1) / sweep.eta) {
    runs += static_cast<int64_t>(n);
  }
  return runs;
}

void run_halving(const Sweep& sweep, std::vector<Trial> active, TrialPool& pool, bool retry_failed) {
  const auto budgets = halving_budgets(sweep);
  for (size_t rung = 0; rung < budgets.size(); ++rung) {
    const int64_t budget = budgets[rung];
    const bool last = rung + 1 == budgets.size();
    spdlog::info("halving rung {} of {}: {} trial(s) to epoch {}", rung + 1, budgets.size(), active.size(), budget);
    std::vector<Task> tasks;
    for (const auto& t : active) {
      if (needs_run(sweep, t, budget, retry_failed)) tasks.push_back({t, last ? 0 : budget});
    }
    if (!pool.run(tasks) || last) return;
    // The metric over the rung's epochs alone, so the choice is the same when a sweep resumes.
    std::vector<std::pair<double, Trial>> scored;
    for (const auto& t : active) {
      const TrialOutcome o = read_trial_outcome(sweep, t, budget);
      if (o.status != "failed" && o.metric) scored.emplace_back(*o.metric, t);
    }
    std::stable_sort(scored.begin(), scored.end(), [&](const auto& a, const auto& b) {
      return sweep.maximize ? a.first > b.first : a.first < b.first;
    });
    const size_t keep = std::min(scored.size(), (active.size() + sweep.eta - 1) / static_cast<size_t>(sweep.eta));
    active.clear();
    std::vector<int> kept;
    for (size_t i = 0; i < keep; ++i) active.push_back(scored[i].second), kept.push_back(scored[i].second.index);
    spdlog::info("halving rung {}: continuing trial(s) {} ({} >= {:.4f})", rung + 1, fmt::join(kept, ", "),
                 sweep.metric, keep > 0 ? scored[keep - 1].first : 0.0);
    if (active.empty()) return;
  }
}

}  // namespace

SweepRun run_sweep(const Sweep& sweep, const SweepOptions& options) {
  const auto trials = expand_trials(sweep);
  if (options.only_trial) {
    if (sweep.method == "halving") {
      throw_usage("--trial: halving needs a coordinator that sees every rung: run it with --jobs instead");
    }
    if (*options.only_trial < 0 || *options.only_trial >= static_cast<int>(trials.size())) {
      throw_usage(fmt::format("--trial {}: the sweep has trials 0 to {}", *options.only_trial, trials.size() - 1));
    }
  }
  for (const auto& t : trials) trial_experiment(sweep, t);  // every trial's config is valid before one starts
  ensure_directory(sweep.out_dir);
  check_sweep_folder(sweep);

  const int jobs = options.only_trial ? 1 : (options.jobs > 0 ? options.jobs : sweep.jobs);
  const int threads = options.threads >= 0 ? options.threads
                      : options.only_trial ? -1
                                           : std::max(1, cpu_info().logical_cores / jobs);
  spdlog::info("sweep {}: {} over {} trial(s) of {}, {} at a time{}, ranked by {} ({}); folder {}", sweep.name,
               sweep.method, trials.size(), sweep.experiment.string(), jobs,
               threads > 0 ? fmt::format(" with {} thread(s) each", threads) : "", sweep.metric,
               sweep.maximize ? "max" : "min", sweep.out_dir.string());
  const StopSignals signals;
  SweepRun result;
  if (sweep.method == "halving") {
    TrialPool pool(sweep, options, jobs, threads, halving_runs(sweep, trials.size()));
    run_halving(sweep, trials, pool, options.retry_failed);
    result.interrupted_by = pool.stopped_by();
    result.trials_left = pool.left();
  } else {
    std::vector<Task> tasks;
    for (const auto& t : trials) {
      if (options.only_trial && t.index != *options.only_trial) continue;
      if (needs_run(sweep, t, sweep.epochs, options.retry_failed)) tasks.push_back({t, 0});
    }
    if (tasks.empty())
      spdlog::info("nothing to run: every trial has finished or failed (--retry-failed runs those again)");
    TrialPool pool(sweep, options, jobs, threads, static_cast<int64_t>(tasks.size()));
    pool.run(tasks);
    result.interrupted_by = pool.stopped_by();
    result.trials_left = pool.left();
  }
  if (!options.only_trial) result.summary = summarize_sweep(sweep);
  return result;
}

}  // namespace deepl::run
