#pragma once
// ONNX models as plain structs, and their encoding in ONNX's protobuf format (onnx.proto, proto2):
// the few messages an inference graph needs (model, opset, graph, node, attribute, tensor, value
// info, metadata), written field by field, so deepl exports ONNX without protobuf, libonnx or Python.
// Nothing is checked here beyond what the encoding needs; models/ builds valid graphs and the tests
// run ONNX's own checker on them.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace deepl::io::onnx {

/// TensorProto.DataType values deepl writes.
enum class DataType : int32_t { kFloat = 1, kInt64 = 7 };

/// A constant tensor (an initializer): its values little-endian in `raw` (TensorProto.raw_data).
struct Tensor {
  std::string name;
  DataType type = DataType::kFloat;
  std::vector<int64_t> dims;
  std::string raw;

  static Tensor floats(std::string name, std::vector<int64_t> dims, const std::vector<float>& values);
  static Tensor int64s(std::string name, std::vector<int64_t> dims, const std::vector<int64_t>& values);
};

/// A node attribute; `kind` says which member holds the value (AttributeProto.AttributeType).
struct Attribute {
  enum class Kind : int32_t { kFloat = 1, kInt = 2, kString = 3, kFloats = 6, kInts = 7 };
  std::string name;
  Kind kind = Kind::kInt;
  float f = 0;
  int64_t i = 0;
  std::string s;
  std::vector<float> floats;
  std::vector<int64_t> ints;

  static Attribute of_int(std::string name, int64_t value);
  static Attribute of_float(std::string name, float value);
  static Attribute of_string(std::string name, std::string value);
  static Attribute of_ints(std::string name, std::vector<int64_t> values);
  static Attribute of_floats(std::string name, std::vector<float> values);
};

struct Node {
  std::string op_type;
  std::string name;
  std::vector<std::string> inputs, outputs;
  std::vector<Attribute> attributes;
};

/// One dimension of a graph input or output: a size, or a named free size ("N" for the batch).
struct Dim {
  int64_t value = 0;
  std::string param;  // set: a symbolic dimension, `value` unused

  static Dim sized(int64_t value) { return {value, {}}; }
  static Dim named(std::string param) { return {0, std::move(param)}; }
};

/// A graph input or output: a tensor of `type` and `shape`.
struct ValueInfo {
  std::string name;
  DataType type = DataType::kFloat;
  std::vector<Dim> shape;
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;  // in topological order
  std::vector<Tensor> initializers;
  std::vector<ValueInfo> inputs, outputs;
};

struct Model {
  int64_t ir_version = 7;  // IR 7 goes with opset 13; Debian 12's onnx (1.12) checks up to IR 8
  int64_t opset = 13;      // the default ("ai.onnx") domain's version
  std::string producer_name = "deepl";
  std::string producer_version;
  std::string doc_string;
  Graph graph;
  std::vector<std::pair<std::string, std::string>> metadata;  // ModelProto.metadata_props, keys unique
};

/// The model as the bytes of an .onnx file (a serialized ModelProto).
std::string serialize(const Model& model);

}  // namespace deepl::io::onnx
