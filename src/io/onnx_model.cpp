// ONNX's protobuf encoding, field by field. Field numbers are onnx.proto's (the same in onnx 1.12
// and 1.17); repeated numbers are written unpacked, as protobuf's own encoder writes onnx.proto's.
#include "deepl/io/onnx_model.h"

#include <cstring>

namespace deepl::io::onnx {

namespace {

enum WireType : uint32_t { kVarint = 0, kLengthDelimited = 2, kFixed32 = 5 };

// Appends protobuf fields to a byte string.
class ProtoWriter {
 public:
  void varint_field(uint32_t field, int64_t value) {
    tag(field, kVarint);
    varint(static_cast<uint64_t>(value));  // negatives take ten bytes, as int64 fields are encoded
  }
  void float_field(uint32_t field, float value) {
    tag(field, kFixed32);
    uint32_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    for (int b = 0; b < 4; ++b) out_.push_back(static_cast<char>((bits >> (8 * b)) & 0xff));
  }
  void bytes_field(uint32_t field, const std::string& bytes) {
    tag(field, kLengthDelimited);
    varint(bytes.size());
    out_ += bytes;
  }
  std::string take() { return std::move(out_); }

 private:
  void tag(uint32_t field, WireType wire) { varint((uint64_t{field} << 3) | wire); }
  void varint(uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<char>(value));
  }

  std::string out_;
};

std::string encode(const Tensor& t) {  // TensorProto
  ProtoWriter w;
  for (const int64_t d : t.dims) w.varint_field(1, d);
  w.varint_field(2, static_cast<int32_t>(t.type));
  w.bytes_field(8, t.name);
  w.bytes_field(9, t.raw);
  return w.take();
}

std::string encode(const Attribute& a) {  // AttributeProto
  ProtoWriter w;
  w.bytes_field(1, a.name);
  switch (a.kind) {
    case Attribute::Kind::kFloat: w.float_field(2, a.f); break;
    case Attribute::Kind::kInt: w.varint_field(3, a.i); break;
    case Attribute::Kind::kString: w.bytes_field(4, a.s); break;
    case Attribute::Kind::kFloats:
      for (const float f : a.floats) w.float_field(7, f);
      break;
    case Attribute::Kind::kInts:
      for (const int64_t i : a.ints) w.varint_field(8, i);
      break;
  }
  w.varint_field(20, static_cast<int32_t>(a.kind));
  return w.take();
}

std::string encode(const Node& n) {  // NodeProto
  ProtoWriter w;
  for (const auto& input : n.inputs) w.bytes_field(1, input);
  for (const auto& output : n.outputs) w.bytes_field(2, output);
  if (!n.name.empty()) w.bytes_field(3, n.name);
  w.bytes_field(4, n.op_type);
  for (const auto& a : n.attributes) w.bytes_field(5, encode(a));
  return w.take();
}

std::string encode(const Dim& d) {  // TensorShapeProto.Dimension
  ProtoWriter w;
  if (d.param.empty()) {
    w.varint_field(1, d.value);
  } else {
    w.bytes_field(2, d.param);
  }
  return w.take();
}

std::string encode(const ValueInfo& v) {  // ValueInfoProto { name, TypeProto { tensor_type { elem_type, shape } } }
  ProtoWriter shape, tensor_type, type, info;
  for (const auto& d : v.shape) shape.bytes_field(1, encode(d));
  tensor_type.varint_field(1, static_cast<int32_t>(v.type));
  tensor_type.bytes_field(2, shape.take());  // present even when empty: the checker wants a shape
  type.bytes_field(1, tensor_type.take());
  info.bytes_field(1, v.name);
  info.bytes_field(2, type.take());
  return info.take();
}

std::string encode(const Graph& g) {  // GraphProto
  ProtoWriter w;
  for (const auto& n : g.nodes) w.bytes_field(1, encode(n));
  w.bytes_field(2, g.name);
  for (const auto& t : g.initializers) w.bytes_field(5, encode(t));
  for (const auto& v : g.inputs) w.bytes_field(11, encode(v));
  for (const auto& v : g.outputs) w.bytes_field(12, encode(v));
  return w.take();
}

std::string encode_opset(int64_t version) {  // OperatorSetIdProto of the default domain
  ProtoWriter w;
  w.bytes_field(1, "");
  w.varint_field(2, version);
  return w.take();
}

std::string encode_entry(const std::string& key, const std::string& value) {  // StringStringEntryProto
  ProtoWriter w;
  w.bytes_field(1, key);
  w.bytes_field(2, value);
  return w.take();
}

template <typename T>
std::string little_endian(const std::vector<T>& values) {
  std::string raw(values.size() * sizeof(T), '\0');
  for (size_t k = 0; k < values.size(); ++k) {
    uint64_t bits = 0;
    std::memcpy(&bits, &values[k], sizeof(T));
    for (size_t b = 0; b < sizeof(T); ++b) raw[k * sizeof(T) + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
  return raw;
}

}  // namespace

Tensor Tensor::floats(std::string name, std::vector<int64_t> dims, const std::vector<float>& values) {
  return {std::move(name), DataType::kFloat, std::move(dims), little_endian(values)};
}

Tensor Tensor::int64s(std::string name, std::vector<int64_t> dims, const std::vector<int64_t>& values) {
  return {std::move(name), DataType::kInt64, std::move(dims), little_endian(values)};
}

Attribute Attribute::of_int(std::string name, int64_t value) {
  Attribute a;
  a.name = std::move(name), a.kind = Kind::kInt, a.i = value;
  return a;
}

Attribute Attribute::of_float(std::string name, float value) {
  Attribute a;
  a.name = std::move(name), a.kind = Kind::kFloat, a.f = value;
  return a;
}

Attribute Attribute::of_string(std::string name, std::string value) {
  Attribute a;
  a.name = std::move(name), a.kind = Kind::kString, a.s = std::move(value);
  return a;
}

Attribute Attribute::of_ints(std::string name, std::vector<int64_t> values) {
  Attribute a;
  a.name = std::move(name), a.kind = Kind::kInts, a.ints = std::move(values);
  return a;
}

Attribute Attribute::of_floats(std::string name, std::vector<float> values) {
  Attribute a;
  a.name = std::move(name), a.kind = Kind::kFloats, a.floats = std::move(values);
  return a;
}

std::string serialize(const Model& model) {  // ModelProto
  ProtoWriter w;
  w.varint_field(1, model.ir_version);
  w.bytes_field(2, model.producer_name);
  if (!model.producer_version.empty()) w.bytes_field(3, model.producer_version);
  if (!model.doc_string.empty()) w.bytes_field(6, model.doc_string);
  w.bytes_field(7, encode(model.graph));
  w.bytes_field(8, encode_opset(model.opset));
  for (const auto& [key, value] : model.metadata) w.bytes_field(14, encode_entry(key, value));
  return w.take();
}

}  // namespace deepl::io::onnx
