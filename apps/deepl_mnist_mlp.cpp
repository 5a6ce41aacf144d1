// deepl-mnist-mlp: notebook 2, an MLP with one hidden layer then a deeper one, on MNIST.
#include "cli_common.h"
#include "deepl/run/reproduce.h"

int main(int argc, char** argv) {
  return deepl::cli::notebook_main(argc, argv, {"MLP on MNIST (notebook 2)", "mnist", {"mlp_mnist", "mlp_deep_mnist"}});
}
