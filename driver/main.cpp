// mmtp-driver: evaluates magnetic moment tensor potentials (eval); the i-PI client (serve)
// and the spin-lattice relaxer (relax) join as sub-commands.
#include <fmt/core.h>

#include <string>
#include <vector>

#include "commands.hpp"
#include "mmtp/error.hpp"

namespace {

constexpr const char* usage =
    "usage: mmtp-driver COMMAND [options]\n"
    "commands:\n"
    "  eval   evaluate energies, forces, virials and dE/dm of every structure in a file\n"
    "  serve  i-PI socket client: serve forces to i-PI or ASE's SocketIOCalculator\n"
    "  relax  joint relaxation of positions, cell and magnetic moments (bounded-step L-BFGS)\n"
    "run 'mmtp-driver COMMAND --help' for the options of a command\n";

}  // namespace

int main(int argc, char** argv) {
  return mmtp::cli::run("mmtp-driver", [&] {
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
      fmt::print(argc < 2 ? stderr : stdout, "{}", usage);
      return argc < 2 ? 1 : 0;
    }
    const std::string command = argv[1];
    const std::vector<std::string> args(argv + 2, argv + argc);
    if (command == "eval") return mmtp::driver::run_eval(args);
    if (command == "serve") return mmtp::driver::run_serve(args);
    if (command == "relax") return mmtp::driver::run_relax(args);
    fmt::print(stderr, "mmtp-driver: unknown command '{}'\n{}", command, usage);
    return 1;
  });
}
