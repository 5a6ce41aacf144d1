// deepl-mnist-cnn: notebook 3, the two-conv CNN on MNIST.
#include "cli_common.h"
#include "deepl/run/reproduce.h"

int main(int argc, char** argv) {
  return deepl::cli::notebook_main(argc, argv, {"CNN on MNIST (notebook 3)", "mnist", {"cnn_mnist"}});
}
