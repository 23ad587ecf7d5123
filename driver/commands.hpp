#pragma once
#include <string>
#include <vector>

#include "cli.hpp"

namespace mmtp::driver {

int run_eval(const std::vector<std::string>& args);
int run_serve(const std::vector<std::string>& args);
int run_relax(const std::vector<std::string>& args);

}  // namespace mmtp::driver
