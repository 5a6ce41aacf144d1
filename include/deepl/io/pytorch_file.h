#pragma once
// Reading and writing PyTorch state-dict files without Python.
//
// read_state_dict understands what torch.save writes: the zip format (PyTorch >= 1.6) and the
// legacy format (before 1.6; torchvision's published weights), holding an OrderedDict (with its
// _metadata), a plain dict, or a dict nesting one under "state_dict" / "model". Its unpickler is
// restricted, like torch.load(weights_only=True): it accepts only the opcodes and globals a state
// dict needs (collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter, the
// storage types) and refuses anything else (e.g. os.system) with an error, never executing it.
// Sizes are checked against the bytes present before any allocation.
#include <ATen/core/ivalue.h>
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "deepl/core/files.h"

namespace deepl::io {

struct ReadLimits {
  uint64_t max_file_bytes = input_limits().max_file_bytes;  // larger files are refused before reading
};

/// The tensors of a state dict saved by Python's torch.save (zip or legacy format), by name.
std::map<std::string, torch::Tensor> read_state_dict(const std::filesystem::path& path, const ReadLimits& limits = {});
/// Same, from bytes already in memory; `origin` names them in errors.
std::map<std::string, torch::Tensor> read_state_dict_bytes(const std::string& bytes, const std::string& origin);

/// Any object a zip-format torch.save / torch::pickle_save file holds (dicts, lists, tuples, numbers,
/// strings, tensors), read through the same restricted unpickler; dicts and lists come back generic.
c10::IValue read_pickle_archive(const std::string& bytes, const std::string& origin);

/// Writes tensors by name so that Python's torch.load returns a dict that load_state_dict accepts.
void write_state_dict(const std::filesystem::path& path, const std::map<std::string, torch::Tensor>& tensors);

}  // namespace deepl::io
