#include "node/cli.h"

int main(int argc, char** argv) { return pave::run_cli(argc, argv); }
