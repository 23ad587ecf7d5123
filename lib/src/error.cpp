#include "mmtp/error.hpp"

#include <fmt/core.h>

namespace mmtp {

ParseError::ParseError(const std::string& file, long line, const std::string& message)
    : Error(line > 0 ? fmt::format("{}:{}: {}", file, line, message) : fmt::format("{}: {}", file, message)),
      file_(file),
      line_(line) {}

}  // namespace mmtp
