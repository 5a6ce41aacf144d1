// Classifies pictures with a model exported by `deepl export --format onnx`, using onnxruntime alone:
//   onnx_inference MODEL.onnx PICTURE.png [PICTURE.png ...]
// prints, per picture, its class and probability, then the next two. The exported graph normalises
// the pixels as deepl's loader did, so the program only feeds pixel values 0..255 in NCHW order; the
// class names come from the model's metadata. Exit status: 0 done, 1 a file could not be used, 2 usage.
#include <onnxruntime_cxx_api.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct PictureShape {
  int64_t channels = 0, height = 0, width = 0;
};

// The picture's pixels as floats 0..255, channel-major (CHW), in the model's channel count (libpng
// converts gray to RGB and back). A picture of another size is refused rather than resized: the model
// expects the framing deepl trained it with.
std::vector<float> read_picture(const std::string& path, const PictureShape& shape) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_file(&image, path.c_str()) == 0) {
    throw std::runtime_error(path + ": " + image.message);
  }
  if (image.width != static_cast<png_uint_32>(shape.width) || image.height != static_cast<png_uint_32>(shape.height)) {
    const std::string size = std::to_string(image.width) + "x" + std::to_string(image.height);
    png_image_free(&image);
    throw std::runtime_error(path + ": " + size + " pixels; the model takes " + std::to_string(shape.width) + "x" +
                             std::to_string(shape.height));
  }
  image.format = shape.channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  std::vector<png_byte> interleaved(PNG_IMAGE_SIZE(image));
  if (png_image_finish_read(&image, nullptr, interleaved.data(), 0, nullptr) == 0) {
    throw std::runtime_error(path + ": " + image.message);
  }
  std::vector<float> planar(interleaved.size());
  const int64_t plane = shape.height * shape.width;
  for (int64_t pixel = 0; pixel < plane; ++pixel) {
    for (int64_t c = 0; c < shape.channels; ++c) planar[c * plane + pixel] = interleaved[pixel * shape.channels + c];
  }
  return planar;
}

PictureShape picture_shape(const Ort::Session& session) {
  const std::vector<int64_t> dims = session.GetInputTypeInfo(0).GetTensorTypeAndShapeInfo().GetShape();
  if (dims.size() != 4 || (dims[1] != 1 && dims[1] != 3)) {
    throw std::runtime_error("the model's input is not [N, 1 or 3, H, W] pictures (a table model?)");
  }
  return {dims[1], dims[2], dims[3]};
}

std::vector<std::string> class_names(const Ort::Session& session) {
  Ort::AllocatorWithDefaultOptions allocator;
  const Ort::AllocatedStringPtr names =
      session.GetModelMetadata().LookupCustomMetadataMapAllocated("class_names", allocator);
  if (!names) return {};
  return nlohmann::json::parse(names.get()).get<std::vector<std::string>>();
}

// Class probabilities from one picture's logits: softmax, or for a binary model's single logit the
// sigmoid for class 1.
std::vector<float> probabilities(const float* logits, size_t count) {
  if (count == 1) {
    const float p = 1.0F / (1.0F + std::exp(-logits[0]));
    return {1.0F - p, p};
  }
  const float top = *std::max_element(logits, logits + count);
  std::vector<float> p(count);
  for (size_t i = 0; i < count; ++i) p[i] = std::exp(logits[i] - top);
  const float sum = std::accumulate(p.begin(), p.end(), 0.0F);
  for (float& v : p) v /= sum;
  return p;
}

void print_ranking(const std::string& picture, const std::vector<float>& p, const std::vector<std::string>& names) {
  std::vector<size_t> order(p.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
  std::printf("%s:", picture.c_str());
  for (size_t rank = 0; rank < std::min<size_t>(3, order.size()); ++rank) {
    const size_t k = order[rank];
    std::printf(" %s %.4f", k < names.size() ? names[k].c_str() : std::to_string(k).c_str(), p[k]);
  }
  std::printf("\n");
}

int classify(const std::string& model_path, const std::vector<std::string>& pictures) {
  Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "onnx_inference");
  Ort::SessionOptions options;
  options.SetIntraOpNumThreads(1);
  Ort::Session session(env, model_path.c_str(), options);
  const PictureShape shape = picture_shape(session);
  const std::vector<std::string> names = class_names(session);

  std::vector<float> batch;
  for (const std::string& picture : pictures) {
    const std::vector<float> pixels = read_picture(picture, shape);
    batch.insert(batch.end(), pixels.begin(), pixels.end());
  }
  const std::vector<int64_t> dims = {static_cast<int64_t>(pictures.size()), shape.channels, shape.height, shape.width};
  const Ort::MemoryInfo cpu = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  const Ort::Value input = Ort::Value::CreateTensor<float>(cpu, batch.data(), batch.size(), dims.data(), dims.size());

  Ort::AllocatorWithDefaultOptions allocator;
  const Ort::AllocatedStringPtr input_name = session.GetInputNameAllocated(0, allocator);
  const Ort::AllocatedStringPtr output_name = session.GetOutputNameAllocated(0, allocator);
  const char* input_names[] = {input_name.get()};
  const char* output_names[] = {output_name.get()};
  std::vector<Ort::Value> outputs = session.Run(Ort::RunOptions{nullptr}, input_names, &input, 1, output_names, 1);

  const size_t per_picture = outputs[0].GetTensorTypeAndShapeInfo().GetElementCount() / pictures.size();
  const float* logits = outputs[0].GetTensorData<float>();
  for (size_t i = 0; i < pictures.size(); ++i) {
    print_ranking(pictures[i], probabilities(logits + i * per_picture, per_picture), names);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL.onnx PICTURE.png [PICTURE.png ...]\n", argv[0]);
    return 2;
  }
  try {
    return classify(argv[1], std::vector<std::string>(argv + 2, argv + argc));
  } catch (const std::exception& e) {  // Ort::Exception included
    std::fprintf(stderr, "onnx_inference: %s\n", e.what());
    return 1;
  }
}
