// deepl-fashion: notebook 4, an MLP, a CNN and a VGG16 fine-tune on Fashion-MNIST.
#include "cli_common.h"
#include "deepl/run/reproduce.h"

int main(int argc, char** argv) {
  return deepl::cli::notebook_main(argc, argv, {"Fashion-MNIST (notebook 4)", "fashion-mnist", {"fashion_mlp", "fashion_cnn", "fashion_vgg16"}});
}
