#pragma once
// Data-parallel replicas over c10d, the collective engine torch.distributed uses (Gloo on CPUs).
#include <chrono>
#include <cstdint>
#include <memory>

#include "deepl/dist/world.h"
#include "deepl/train/trainer.h"

namespace deepl::dist {

struct ReplicaOptions {
  /// How long a collective (and the rendezvous) waits for the other ranks before failing.
  std::chrono::milliseconds timeout = std::chrono::seconds(300);
  /// Gradients are all-reduced in buckets of about this many bytes, several in flight at once.
  int64_t bucket_bytes = 25 << 20;
};

/// Communication figures since the group was made (gradient all-reduces only).
struct CommStats {
  int64_t steps = 0;
  int64_t buckets_per_step = 0;
  int64_t bytes_per_step = 0;
  double seconds = 0;  // wall time inside reduce_gradients, summed
};

class GlooReplicas final : public train::Replicas {
 public:
  /// Joins the group: rank 0 hosts the TCP store at MASTER_ADDR:MASTER_PORT (or torchrun's agent
  /// hosts it), then every pair of ranks connects. Fails with a clear error after the timeout.
  GlooReplicas(const WorldInfo& world, const ReplicaOptions& options);
  ~GlooReplicas() override;

  int rank() const override;
  int world_size() const override;
  train::StepVotes reduce_gradients(const std::vector<torch::Tensor>& parameters, train::StepVotes votes) override;
  void sum(std::vector<torch::Tensor>& tensors) override;
  void broadcast(std::vector<torch::Tensor>& tensors) override;
  /// Waits until every rank gets here.
  void barrier();

  const CommStats& stats() const { return stats_; }

 private:
  struct State;
  std::unique_ptr<State> state_;
  CommStats stats_;
};

}  // namespace deepl::dist
