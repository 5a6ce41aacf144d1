// deepl: the umbrella CLI. Its subcommands live in commands/, one file per group.
#include "commands/commands.h"

int main(int argc, char** argv) { return deepl::cli::deepl_main(argc, argv); }
