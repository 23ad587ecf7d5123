#include "cli.hpp"

#include <fmt/core.h>

#include <iostream>

#include "mmtp/error.hpp"

namespace po = boost::program_options;

namespace mmtp::tools {

bool parse(int argc, char** argv, const po::options_description& opts, const po::positional_options_description& positional,
           po::variables_map& vm) {
  po::store(po::command_line_parser(argc, argv).options(opts).positional(positional).run(), vm);
  if (vm.count("help")) {
    std::cout << opts << '\n';
    return false;
  }
  po::notify(vm);
  return true;
}

int run(const char* name, const std::function<int()>& body) {
  try {
    return body();
  } catch (const po::error& e) {
    fmt::print(stderr, "{}: {}\n", name, e.what());
    return 1;
  } catch (const Error& e) {
    fmt::print(stderr, "{}: {}\n", name, e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: bug: {}\n", name, e.what());
    return 2;
  }
}

}  // namespace mmtp::tools
