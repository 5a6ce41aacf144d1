#include "deepl/train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/core/torch_compat.h"
#include "deepl/io/pytorch_file.h"

namespace deepl::train {

using nlohmann::json;

namespace {

constexpr const char* kFormat = "deepl-checkpoint-v1";

std::vector<torch::Tensor> optimizer_params(const torch::optim::Optimizer& optimizer) {
  std::vector<torch::Tensor> params;
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params()) params.push_back(p);
  return params;
}

// Checkpoints hold CPU tensors, so they load on any machine whatever device trained them.
c10::impl::GenericDict param_state_to_dict(torch::optim::OptimizerParamState& state) {
  c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
  if (auto* s = dynamic_cast<torch::optim::AdamParamState*>(&state)) {
    d.insert("step", s->step());
    d.insert("exp_avg", s->exp_avg().cpu());
    d.insert("exp_avg_sq", s->exp_avg_sq().cpu());
    if (s->max_exp_avg_sq().defined()) d.insert("max_exp_avg_sq", s->max_exp_avg_sq().cpu());
  } else if (auto* s = dynamic_cast<torch::optim::AdamWParamState*>(&state)) {
    d.insert("step", s->step());
    d.insert("exp_avg", s->exp_avg().cpu());
    d.insert("exp_avg_sq", s->exp_avg_sq().cpu());
    if (s->max_exp_avg_sq().defined()) d.insert("max_exp_avg_sq", s->max_exp_avg_sq().cpu());
  } else if (auto* s = dynamic_cast<torch::optim::SGDParamState*>(&state)) {
    d.insert("momentum_buffer", s->momentum_buffer().cpu());
  } else {
    throw_failure("checkpoint: unsupported optimizer state type");
  }
  return d;
}

c10::IValue optimizer_to_ivalue(const torch::optim::Optimizer& optimizer) {
  const auto params = optimizer_params(optimizer);
  c10::impl::GenericDict state(c10::IntType::get(), c10::AnyType::get());
  for (size_t i = 0; i < params.size(); ++i) {
    const auto it = optimizer.state().find(compat::optimizer_state_key(params[i]));
    if (it != optimizer.state().end()) state.insert(static_cast<int64_t>(i), param_state_to_dict(*it->second));
  }
  c10::impl::GenericList groups(c10::AnyType::get());
  int64_t index = 0;
  for (const auto& group : optimizer.param_groups()) {
    c10::impl::GenericDict g(c10::StringType::get(), c10::AnyType::get());
    g.insert("lr", group.options().get_lr());
    c10::List<int64_t> ids;
    for (size_t k = 0; k < group.params().size(); ++k) ids.push_back(index++);
    g.insert("params", ids);
    groups.push_back(g);
  }
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  out.insert("state", state);
  out.insert("param_groups", groups);
  return out;
}

torch::Tensor tensor_entry(const c10::impl::GenericDict& d, const std::string& key, const std::string& origin) {
  const auto it = d.find(key);
  if (it == d.end() || !it->value().isTensor()) throw_data(origin + ": optimizer state lacks tensor \"" + key + "\"");
  return it->value().toTensor();
}

int64_t int_entry(const c10::impl::GenericDict& d, const std::string& key, const std::string& origin) {
  const auto it = d.find(key);
  if (it == d.end() || !it->value().isInt()) throw_data(origin + ": optimizer state lacks integer \"" + key + "\"");
  return it->value().toInt();
}

// A saved state tensor copied into the layout and onto the device of its parameter, so a
// channels-last weight's Adam state stays channels-last (FusedAdam needs matching layouts).
torch::Tensor state_like(const torch::Tensor& p, const torch::Tensor& saved, const std::string& origin) {
  if (saved.sizes() != p.sizes()) {
    throw_data(fmt::format("{}: optimizer state of shape {} for a parameter of shape {}", origin,
                           fmt::join(saved.sizes(), "x"), fmt::join(p.sizes(), "x")));
  }
  return torch::empty_like(p, torch::MemoryFormat::Preserve).copy_(saved);
}

template <typename State>
std::unique_ptr<torch::optim::OptimizerParamState> adam_state(const c10::impl::GenericDict& d, const torch::Tensor& p,
                                                              const std::string& origin) {
  auto s = std::make_unique<State>();
  s->step(int_entry(d, "step", origin));
  s->exp_avg(state_like(p, tensor_entry(d, "exp_avg", origin), origin));
  s->exp_avg_sq(state_like(p, tensor_entry(d, "exp_avg_sq", origin), origin));
  if (d.contains("max_exp_avg_sq")) {
    s->max_exp_avg_sq(state_like(p, tensor_entry(d, "max_exp_avg_sq", origin), origin));
  }
  return s;
}

std::string shape(const torch::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

c10::impl::GenericDict as_dict(const c10::IValue& v, const std::string& what) {
  if (!v.isGenericDict()) throw_data(what + " is not a dict");
  return v.toGenericDict();
}

}  // namespace

std::map<std::string, torch::Tensor> model_state_dict(const models::NetworkImpl& model) {
  std::map<std::string, torch::Tensor> state;
  for (const auto& p : model.named_parameters()) state[p.key()] = p.value();
  for (const auto& b : model.named_buffers()) state[b.key()] = b.value();
  return state;
}

void save_checkpoint(const std::filesystem::path& path, const models::NetworkImpl& model,
                     const torch::optim::Optimizer* optimizer, const json& meta, bool with_rng,
                     const std::map<std::string, torch::Tensor>& ema) {
  const auto tensor_dict = [](const std::map<std::string, torch::Tensor>& tensors) {
    c10::Dict<std::string, torch::Tensor> dict;
    for (const auto& [name, t] : tensors) dict.insert(name, t.detach().cpu());
    return dict;
  };
  c10::impl::GenericDict root(c10::StringType::get(), c10::AnyType::get());
  root.insert("format", std::string(kFormat));
  root.insert("model", tensor_dict(model_state_dict(model)));
  if (!ema.empty()) root.insert("ema", tensor_dict(ema));
  if (optimizer) root.insert("optimizer", optimizer_to_ivalue(*optimizer));
  if (with_rng) {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    root.insert("rng", gen.get_state());
  }
  root.insert("meta", meta.dump());
  const std::vector<char> bytes = torch::pickle_save(root);
  write_file_atomic(path, std::string_view(bytes.data(), bytes.size()));
}

Checkpoint read_checkpoint(const std::filesystem::path& path) {
  const std::string origin = path.string();
  const std::string bytes = read_file(path);
  // Our own zip reader and restricted unpickler, not torch::pickle_load: LibTorch 1.13's reads past
  // the buffer on a truncated archive (found by the sanitizer run), and checkpoints travel.
  const c10::IValue root = io::read_pickle_archive(bytes, origin);
  if (!root.isGenericDict()) throw_data(origin + ": not a deepl checkpoint (top level is not a dict)");
  const auto dict = root.toGenericDict();
  const auto format = dict.find("format");
  if (format == dict.end() || !format->value().isString() || format->value().toStringRef() != kFormat) {
    throw_data(origin + ": not a deepl checkpoint (no \"format\": \"" + kFormat + "\")");
  }
  Checkpoint ckpt;
  const auto read_tensors = [&](const char* key, std::map<std::string, torch::Tensor>& out) {
    for (const auto& item : as_dict(dict.at(key), fmt::format("{}: \"{}\"", origin, key))) {
      if (!item.key().isString() || !item.value().isTensor()) {
        throw_data(fmt::format("{}: \"{}\" holds a non-tensor entry", origin, key));
      }
      out[item.key().toStringRef()] = item.value().toTensor();
    }
  };
  if (dict.find("model") == dict.end()) throw_data(origin + ": checkpoint has no \"model\" entry");
  read_tensors("model", ckpt.model);
  if (dict.find("ema") != dict.end()) read_tensors("ema", ckpt.ema);
  if (const auto opt = dict.find("optimizer"); opt != dict.end()) ckpt.optimizer = opt->value();
  if (const auto rng = dict.find("rng"); rng != dict.end() && rng->value().isTensor()) ckpt.rng = rng->value().toTensor();
  const auto meta = dict.find("meta");
  if (meta == dict.end() || !meta->value().isString()) throw_data(origin + ": checkpoint has no \"meta\" entry");
  try {
    ckpt.meta = json::parse(meta->value().toStringRef());
  } catch (const json::exception& e) {
    throw_data(origin + ": checkpoint \"meta\" is not valid JSON");
  }
  return ckpt;
}

void load_model_state(models::NetworkImpl& model, const std::map<std::string, torch::Tensor>& state,
                      const std::string& origin, const std::string& prefix) {
  auto selected = [&](const std::string& name) { return name.rfind(prefix, 0) == 0; };
  std::map<std::string, torch::Tensor> own;
  for (const auto& [name, t] : model_state_dict(model))
    if (selected(name)) own[name] = t;
  std::vector<std::string> problems;
  for (const auto& [name, t] : own) {
    const auto it = state.find(name);
    if (it == state.end()) {
      problems.push_back("missing " + name);
    } else if (!it->second.sizes().equals(t.sizes())) {
      problems.push_back(fmt::format("{} has shape {} in the file, {} in the model", name, shape(it->second), shape(t)));
    }
  }
  for (const auto& [name, t] : state)
    if (selected(name) && !own.count(name)) problems.push_back("unexpected " + name);
  if (!problems.empty()) {
    throw_data(fmt::format("{}: weights do not match the model: {}", origin, fmt::join(problems, "; ")));
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : own) t.copy_(state.at(name));
}

void load_optimizer_state(torch::optim::Optimizer& optimizer, const c10::IValue& value, const std::string& origin) {
  const auto dict = as_dict(value, origin + ": \"optimizer\"");
  const auto params = optimizer_params(optimizer);
  const auto state_it = dict.find("state");
  const auto groups_it = dict.find("param_groups");
  if (state_it == dict.end() || groups_it == dict.end() || !groups_it->value().isList()) {
    throw_data(origin + ": \"optimizer\" lacks \"state\" or \"param_groups\"");
  }
  const auto groups = groups_it->value().toList();
  if (groups.size() != optimizer.param_groups().size()) {
    throw_data(fmt::format("{}: optimizer has {} parameter groups in the file, {} here", origin, groups.size(),
                           optimizer.param_groups().size()));
  }
  optimizer.state().clear();
  for (const auto& item : as_dict(state_it->value(), origin + ": optimizer \"state\"")) {
    if (!item.key().isInt() || item.key().toInt() < 0 || item.key().toInt() >= static_cast<int64_t>(params.size())) {
      throw_data(origin + ": optimizer state refers to a parameter the model does not have");
    }
    const auto& p = params[static_cast<size_t>(item.key().toInt())];
    const auto d = as_dict(item.value(), origin + ": optimizer state entry");
    std::unique_ptr<torch::optim::OptimizerParamState> s;
    if (dynamic_cast<torch::optim::AdamW*>(&optimizer)) {
      s = adam_state<torch::optim::AdamWParamState>(d, p, origin);
    } else if (dynamic_cast<torch::optim::Adam*>(&optimizer)) {
      s = adam_state<torch::optim::AdamParamState>(d, p, origin);
    } else if (dynamic_cast<torch::optim::SGD*>(&optimizer)) {
      auto sgd = std::make_unique<torch::optim::SGDParamState>();
      sgd->momentum_buffer(state_like(p, tensor_entry(d, "momentum_buffer", origin), origin));
      s = std::move(sgd);
    } else {
      throw_failure(origin + ": unsupported optimizer type for resuming");
    }
    optimizer.state()[compat::optimizer_state_key(p)] = std::move(s);
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto group = as_dict(groups.get(g), origin + ": optimizer param group");
    const auto lr = group.find("lr");
    if (lr == group.end() || !lr->value().isDouble()) throw_data(origin + ": optimizer param group lacks \"lr\"");
    optimizer.param_groups()[g].options().set_lr(lr->value().toDouble());
  }
}

void restore_rng(const torch::Tensor& state) {
  if (!state.defined()) return;
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

void load_pretrained(models::NetworkImpl& model, const std::filesystem::path& weights, const std::string& prefix,
                     const std::string& if_missing) {
  if (!std::filesystem::exists(weights)) throw_data(if_missing);
  load_model_state(model, io::read_state_dict(weights), weights.string(), prefix);
}

nlohmann::json scheduler_state_to_json(const SchedulerState& s) {
  return {{"epochs_done", s.epochs_done}, {"steps_done", s.steps_done}, {"lr", s.lr},       {"plateau_lr", s.plateau_lr},
          {"best", s.best},               {"has_best", s.has_best},     {"bad_epochs", s.bad_epochs}};
}

SchedulerState scheduler_state_from_json(const nlohmann::json& j, int64_t steps_per_epoch) {
  SchedulerState s;
  s.epochs_done = j.at("epochs_done");
  s.lr = j.at("lr");
  s.steps_done = j.value("steps_done", s.epochs_done * steps_per_epoch);
  s.plateau_lr = j.value("plateau_lr", s.lr);
  s.best = j.at("best");
  s.has_best = j.at("has_best");
  s.bad_epochs = j.at("bad_epochs");
  return s;
}

}  // namespace deepl::train
