// train.precision / train.channels_last resolution against the CPU, and the CPU detection itself.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "deepl/core/cpu.h"
#include "deepl/core/precision.h"

using namespace deepl;
using nlohmann::json;

namespace {

CpuInfo avx2_cpu() {
  CpuInfo cpu;
  cpu.model = "AMD EPYC (test)";
  cpu.avx2 = cpu.fma = true;
  return cpu;
}

CpuInfo amx_cpu() {
  CpuInfo cpu = avx2_cpu();
  cpu.model = "Xeon (test)";
  cpu.avx512f = cpu.avx512_bf16 = cpu.amx_bf16 = true;
  return cpu;
}

// The flags the kernel reports for this CPU ("flags" line of /proc/cpuinfo), empty off x86 Linux.
std::set<std::string> kernel_cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    return {std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
  }
  return {};
}

}  // namespace

TEST(Precision, AutoIsFp32WithoutNativeBf16) {
  const deepl::Precision p = deepl::resolve_precision("auto", std::nullopt, avx2_cpu());
  EXPECT_FALSE(p.bf16);
  EXPECT_FALSE(p.channels_last);
  EXPECT_FALSE(p.slow_on_this_cpu);
  EXPECT_EQ(p.explain(), "fp32 (auto: CPU has no native bf16)");
}

TEST(Precision, AutoIsBf16ChannelsLastWithNativeBf16) {
  const deepl::Precision p = deepl::resolve_precision("auto", std::nullopt, amx_cpu());
  EXPECT_TRUE(p.bf16);
  EXPECT_TRUE(p.channels_last);
  EXPECT_EQ(p.explain(), "bf16 autocast (auto: CPU has native bf16 (avx512_core_amx)), channels-last (auto: with bf16)");
}

TEST(Precision, ExplicitBf16RunsButIsFlaggedSlowWithoutNativeBf16) {
  const deepl::Precision slow = deepl::resolve_precision("bf16", true, avx2_cpu());
  EXPECT_TRUE(slow.bf16);
  EXPECT_TRUE(slow.channels_last);
  EXPECT_TRUE(slow.slow_on_this_cpu);
  EXPECT_NE(slow.explain().find("much slower"), std::string::npos) << slow.explain();
  const deepl::Precision fine = deepl::resolve_precision("bf16", std::nullopt, amx_cpu());
  EXPECT_FALSE(fine.slow_on_this_cpu);
  EXPECT_EQ(fine.explain(), "bf16 autocast, channels-last (auto: with bf16)");
}

TEST(Precision, ExplicitChoicesWinOverAuto) {
  EXPECT_FALSE(deepl::resolve_precision("fp32", std::nullopt, amx_cpu()).bf16);
  EXPECT_FALSE(deepl::resolve_precision("fp32", std::nullopt, amx_cpu()).channels_last);
  EXPECT_TRUE(deepl::resolve_precision("fp32", true, avx2_cpu()).channels_last);
  EXPECT_FALSE(deepl::resolve_precision("auto", false, amx_cpu()).channels_last);
  EXPECT_EQ(deepl::resolve_precision("fp32", false, avx2_cpu()).explain(), "fp32");
  // The reason stays with the choice it explains: channels-last here was asked for, not automatic.
  EXPECT_EQ(deepl::resolve_precision("auto", true, avx2_cpu()).explain(),
            "fp32 (auto: CPU has no native bf16), channels-last");
}

TEST(Cpu, IsaLevelNamesTheHighestFeature) {
  EXPECT_EQ(CpuInfo{}.isa_level(), "baseline");
  EXPECT_EQ(avx2_cpu().isa_level(), "avx2");
  CpuInfo avx512 = avx2_cpu();
  avx512.avx512f = true;
  EXPECT_EQ(avx512.isa_level(), "avx512_core");
  avx512.avx512_bf16 = true;
  EXPECT_EQ(avx512.isa_level(), "avx512_core_bf16");
  EXPECT_TRUE(avx512.native_bf16());
  EXPECT_EQ(amx_cpu().isa_level(), "avx512_core_amx");
  EXPECT_NE(avx2_cpu().summary().find("no native bf16"), std::string::npos);
}

TEST(Cpu, DetectionAgreesWithTheKernelsFlags) {
  const CpuInfo& cpu = cpu_info();
  EXPECT_FALSE(cpu.model.empty());
  EXPECT_GE(cpu.logical_cores, 1);
  const std::set<std::string> flags = kernel_cpu_flags();
  if (flags.empty()) GTEST_SKIP() << "no flags line in /proc/cpuinfo (not x86 Linux)";
  // The kernel lists a feature only where it also saves its registers, as cpu_info() checks.
  EXPECT_EQ(cpu.avx2, flags.count("avx2") == 1);
  EXPECT_EQ(cpu.fma, flags.count("fma") == 1);
  EXPECT_EQ(cpu.avx512f, flags.count("avx512f") == 1);
  EXPECT_EQ(cpu.avx512_bf16, flags.count("avx512_bf16") == 1);
  EXPECT_EQ(cpu.amx_bf16, flags.count("amx_bf16") == 1);
}
