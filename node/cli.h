// The `pave` command line.
#pragma once

namespace pave {

int run_cli(int argc, char** argv);

}  // namespace pave
