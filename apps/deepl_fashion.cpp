// deepl-fashion: notebook 4, an MLP and a CNN on Fashion-MNIST.
#include "cli_common.h"
#include "deepl/run/reproduce.h"

int main(int argc, char** argv) {
  return deepl::cli::notebook_main(argc, argv, {"Fashion-MNIST (notebook 4)", "fashion-mnist", {"fashion_mlp", "fashion_cnn"}});
}
