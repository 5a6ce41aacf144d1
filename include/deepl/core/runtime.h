#pragma once
// Process-wide run settings (threads, seeds) and facts recorded in every run's manifest.
#include <cstdint>
#include <string>

namespace deepl {

/// Sets LibTorch's intra-op thread count and returns the count in effect. 0 = this process's share
/// of the cores: all of them, divided among `processes_per_machine` data-parallel ranks.
/// LibTorch defaults to hardware_concurrency()/2 here, i.e. 1 thread on a 2-core machine.
int configure_threads(int requested, int processes_per_machine = 1);
/// Makes glibc's malloc keep freed buffers of up to 32 MiB for reuse instead of handing them back to
/// the kernel after every batch: a fresh process evaluating a ResNet with test-time augmentation
/// otherwise spends more time in page faults than in convolutions (4x slower). Process-wide, so
/// the apps call it, not the library; false where the malloc is not glibc's
/// (or a sanitizer's, which ignores it).
bool keep_freed_memory_for_reuse();
/// Seeds LibTorch's global generator (dropout, initialisation).
void seed_everything(uint64_t seed);
/// Mixes a seed with a stream number (epoch, rank, ...) into an independent 63-bit seed.
uint64_t derive_seed(uint64_t seed, uint64_t stream);

std::string deepl_version();
std::string libtorch_version();
std::string git_commit();
std::string host_name();
/// Current UTC time as ISO 8601 ("2026-11-29T10:00:00Z").
std::string utc_now_iso8601();

}  // namespace deepl
