// The ONNX protobuf encoding against bytes Python's protobuf writes for the same messages
// (onnx 1.12's onnx.helper on Debian 12): attributes of each kind, a value info with a named
// batch dimension, the opset and the start of a model.
#include <gtest/gtest.h>

#include <string>

#include "deepl/io/onnx_model.h"

namespace deepl::testing {
namespace {

using namespace io::onnx;

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (const int v : values) out.push_back(static_cast<char>(v));
  return out;
}

// A one-node model whose node carries `attribute`, with input x:[N, 4] and output y:[N, 3].
Model model_with(const Attribute& attribute) {
  Model m;
  m.graph.name = "g";
  m.graph.nodes.push_back({"Flatten", "flatten", {"x"}, {"y"}, {attribute}});
  m.graph.inputs.push_back({"x", DataType::kFloat, {Dim::named("N"), Dim::sized(4)}});
  m.graph.outputs.push_back({"y", DataType::kFloat, {Dim::named("N"), Dim::sized(3)}});
  return m;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(OnnxModel, AttributesAreEncodedAsProtobufWritesThem) {
  const std::string axis = serialize(model_with(Attribute::of_int("axis", -1)));
  EXPECT_TRUE(contains(axis, bytes({0x0a, 0x04, 'a', 'x', 'i', 's', 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0x01, 0xa0, 0x01, 0x02})));
  const std::string epsilon = serialize(model_with(Attribute::of_float("epsilon", 1e-5F)));
  EXPECT_TRUE(contains(epsilon, bytes({0x0a, 0x07, 'e', 'p', 's', 'i', 'l', 'o', 'n', 0x15, 0xac, 0xc5, 0x27, 0x37,
                                       0xa0, 0x01, 0x01})));
  const std::string pads = serialize(model_with(Attribute::of_ints("pads", {1, 1, 1, 1})));
  EXPECT_TRUE(contains(pads, bytes({0x0a, 0x04, 'p', 'a', 'd', 's', 0x40, 0x01, 0x40, 0x01, 0x40, 0x01, 0x40, 0x01,
                                    0xa0, 0x01, 0x07})));
}

TEST(OnnxModel, ValueInfoOpsetAndModelHeader) {
  Model m = model_with(Attribute::of_int("axis", 1));
  m.metadata = {{"classes", "a,b,c"}};
  const std::string encoded = serialize(m);
  // ir_version 7, producer "deepl", then the graph
  EXPECT_EQ(encoded.substr(0, 9), bytes({0x08, 0x07, 0x12, 0x05, 'd', 'e', 'e', 'p', 'l'}));
  EXPECT_EQ(encoded[9], 0x3a);
  // x: float [N, 4] as a ValueInfoProto, inside GraphProto.input (field 11)
  EXPECT_TRUE(contains(encoded, bytes({0x5a, 0x14, 0x0a, 0x01, 'x', 0x12, 0x0f, 0x0a, 0x0d, 0x08, 0x01, 0x12, 0x09, 0x0a,
                                       0x03, 0x12, 0x01, 'N', 0x0a, 0x02, 0x08, 0x04})));
  // opset_import (field 8): domain "" version 13; metadata_props (field 14): classes = a,b,c
  EXPECT_TRUE(contains(encoded, bytes({0x42, 0x04, 0x0a, 0x00, 0x10, 0x0d})));
  EXPECT_TRUE(contains(encoded, bytes({0x72, 0x10, 0x0a, 0x07, 'c', 'l', 'a', 's', 's', 'e', 's', 0x12, 0x05, 'a', ',',
                                       'b', ',', 'c'})));
}

TEST(OnnxModel, InitializersHoldLittleEndianValues) {
  Model m = model_with(Attribute::of_int("axis", 1));
  m.graph.initializers.push_back(Tensor::floats("w", {2}, {1.0F, -2.0F}));
  m.graph.initializers.push_back(Tensor::int64s("shape", {2}, {-1, 300}));
  const std::string encoded = serialize(m);
  // TensorProto: dims 2, data_type FLOAT (1), name "w", raw_data 1.0f -2.0f
  EXPECT_TRUE(contains(encoded, bytes({0x08, 0x02, 0x10, 0x01, 0x42, 0x01, 'w', 0x4a, 0x08, 0x00, 0x00, 0x80, 0x3f, 0x00,
                                       0x00, 0x00, 0xc0})));
  // data_type INT64 (7), raw_data -1 and 300 as 8-byte little-endian integers
  EXPECT_TRUE(contains(encoded, bytes({0x10, 0x07, 0x42, 0x05, 's', 'h', 'a', 'p', 'e', 0x4a, 0x10, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0x2c, 0x01, 0, 0, 0, 0, 0, 0})));
}

}  // namespace
}  // namespace deepl::testing
