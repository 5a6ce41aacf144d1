#include "deepl/dist/replicas.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include "deepl/core/error.h"
#include "deepl/core/torch_compat.h"

namespace deepl::dist {

namespace {

constexpr int64_t kVotes = 2;  // elements of train::StepVotes

std::string message_of(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) {
    const std::string what = c10->what_without_backtrace();
    return what.substr(0, what.find('\n'));
  }
  return e.what();
}

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0; }

std::shared_ptr<::gloo::transport::Device> make_device(const WorldInfo& world) {
  if (const auto ifname = getenv_lookup("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(*ifname);
  }
  if (is_loopback(world.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

struct GlooReplicas::State {
  struct Bucket {
    std::vector<size_t> members;  // positions in the parameter list
    torch::Tensor flat;           // contiguous buffer all-reduced in one call
  };
  WorldInfo world;
  ReplicaOptions options;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
  std::vector<Bucket> buckets;
  size_t parameter_count = 0;

  // Runs a collective and waits for it, turning a dead or silent peer into one clear error.
  void wait(const char* what, const c10::intrusive_ptr<c10d::Work>& work) const {
    try {
      work->wait();
    } catch (const std::exception& e) {
      throw_failure(fmt::format("rank {}: {} failed: {} (another rank exited or did not answer within {} s)",
                                world.rank, what, message_of(e), options.timeout.count() / 1000.0));
    }
  }

  // Runs a one-tensor collective on `t` (through a contiguous copy when Gloo needs one) and waits.
  template <typename Collective>
  void in_place(const char* what, torch::Tensor& t, Collective collective) const {
    std::vector<torch::Tensor> one = {t.contiguous()};
    wait(what, collective(one));
    if (!one[0].is_same(t)) t.copy_(one[0]);
  }

  void plan_buckets(const std::vector<torch::Tensor>& parameters) {
    buckets.clear();
    parameter_count = parameters.size();
    int64_t bytes = 0;
    for (size_t i = 0; i < parameters.size(); ++i) {
      const auto& p = parameters[i];
      const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
      const bool fits = !buckets.empty() && bytes + size <= options.bucket_bytes &&
                        parameters[buckets.back().members.front()].scalar_type() == p.scalar_type();
      if (!fits) {
        buckets.emplace_back();
        bytes = 0;
      }
      buckets.back().members.push_back(i);
      bytes += size;
    }
    for (auto& b : buckets) {
      int64_t numel = 0;
      for (size_t i : b.members) numel += parameters[i].numel();
      // The first bucket carries two more elements: the ranks' votes, summed with the gradients.
      if (&b == &buckets.front()) numel += kVotes;
      b.flat = torch::empty({numel}, parameters[b.members.front()].options().requires_grad(false));
    }
  }
};

GlooReplicas::GlooReplicas(const WorldInfo& world, const ReplicaOptions& options) : state_(std::make_unique<State>()) {
  state_->world = world;
  state_->options = options;
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(world.master_port);
    store_options.isServer = world.rank == 0 && !world.agent_store_prefix;
    compat::use_plain_tcp_store(store_options);
    store_options.numWorkers = world.agent_store_prefix ? c10::nullopt : c10::optional<size_t>(world.world_size);
    store_options.timeout = options.timeout;
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, store_options);
    if (world.agent_store_prefix) store = c10::make_intrusive<c10d::PrefixStore>(*world.agent_store_prefix, store);
    state_->store = c10::make_intrusive<c10d::PrefixStore>("deepl", store);
    auto group_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
    group_options->devices.push_back(make_device(world));
    state_->group =
        c10::make_intrusive<c10d::ProcessGroupGloo>(state_->store, world.rank, world.world_size, group_options);
  } catch (const std::exception& e) {
    throw_failure(fmt::format("rank {}: could not join the group at {}:{} within {} s: {}", world.rank,
                              world.master_addr, world.master_port, options.timeout.count() / 1000.0, message_of(e)));
  }
  spdlog::info("joined data-parallel group: {}", world.describe());
}

GlooReplicas::~GlooReplicas() = default;

int GlooReplicas::rank() const { return state_->world.rank; }
int GlooReplicas::world_size() const { return state_->world.world_size; }

train::StepVotes GlooReplicas::reduce_gradients(const std::vector<torch::Tensor>& parameters, train::StepVotes votes) {
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  if (parameters.empty()) throw_failure("data-parallel training with no trainable parameters");
  if (state_->parameter_count != parameters.size() || state_->buckets.empty()) state_->plan_buckets(parameters);
  torch::Tensor& first = state_->buckets.front().flat;
  const int64_t vote_at = first.numel() - kVotes;
  first[vote_at] = votes.stop ? 1.0 : 0.0;
  first[vote_at + 1] = votes.snapshot ? 1.0 : 0.0;
  std::vector<c10::intrusive_ptr<c10d::Work>> pending;
  for (auto& b : state_->buckets) {
    int64_t offset = 0;
    for (size_t i : b.members) {
      const auto& p = parameters[i];
      torch::Tensor slot = b.flat.narrow(0, offset, p.numel()).view(p.sizes());
      if (p.grad().defined()) slot.copy_(p.grad());
      else slot.zero_();
      offset += p.numel();
    }
    std::vector<torch::Tensor> one = {b.flat};
    pending.push_back(state_->group->allreduce(one));  // buckets overlap on the wire
  }
  int64_t bytes = 0;
  for (size_t k = 0; k < state_->buckets.size(); ++k) {
    state_->wait("gradient all-reduce", pending[k]);
    auto& b = state_->buckets[k];
    int64_t offset = 0;
    for (size_t i : b.members) {
      auto p = parameters[i];
      const torch::Tensor slot = b.flat.narrow(0, offset, p.numel()).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(slot);
      else p.mutable_grad() = slot.clone();
      offset += p.numel();
    }
    bytes += b.flat.numel() * static_cast<int64_t>(b.flat.element_size());
  }
  stats_.steps += 1;
  stats_.buckets_per_step = static_cast<int64_t>(state_->buckets.size());
  stats_.bytes_per_step = bytes;
  stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const torch::Tensor tally = first.narrow(0, vote_at, kVotes).to(torch::kFloat64);
  return {tally[0].item<double>() > 0, tally[1].item<double>() > 0};
}

void GlooReplicas::sum(std::vector<torch::Tensor>& tensors) {
  for (auto& t : tensors) state_->in_place("all-reduce", t, [&](auto& one) { return state_->group->allreduce(one); });
}

void GlooReplicas::broadcast(std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  for (auto& t : tensors) state_->in_place("broadcast", t, [&](auto& one) { return state_->group->broadcast(one); });
}

void GlooReplicas::barrier() { state_->wait("barrier", state_->group->barrier()); }

}  // namespace deepl::dist
