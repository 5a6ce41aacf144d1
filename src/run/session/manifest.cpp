#include "session/manifest.h"

#include "deepl/core/cpu.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/core/runtime.h"

namespace deepl::run {

using nlohmann::json;

namespace {

json cpu_manifest_entry() {
  const CpuInfo& cpu = cpu_info();
  return {{"model", cpu.model},
          {"logical_cores", cpu.logical_cores},
          {"isa_level", cpu.isa_level()},
          {"native_bf16", cpu.native_bf16()}};
}

}  // namespace

void write_manifest(const std::filesystem::path& run_dir, const config::Experiment& exp, const RunFacts& facts,
                    const std::string& status, double wall_seconds) {
  write_json_file(run_dir / "manifest.json",
                  {{"name", exp.name},
                   {"status", status},
                   {"seed", exp.seed},
                   {"threads", facts.threads},
                   {"world_size", facts.world.world_size},
                   {"launcher", facts.world.launcher},
                   {"communication", facts.communication},
                   {"deepl_version", deepl_version()},
                   {"libtorch_version", libtorch_version()},
                   {"device", facts.device},
                   {"precision", facts.precision},
                   {"cpu", cpu_manifest_entry()},
                   {"git_commit", git_commit()},
                   {"host", host_name()},
                   {"started", facts.started},
                   {"finished", status == "running" ? json() : json(utc_now_iso8601())},
                   {"wall_seconds", wall_seconds}});
}

}  // namespace deepl::run
