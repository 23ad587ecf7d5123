#pragma once
#include <stdexcept>
#include <string>

namespace mmtp {

/// Base of every error mmtp reports to a user (bad input, failed I/O).
/// Bad user data throws InputError; programming misuse (arrays of the wrong size handed between
/// library functions) throws std::invalid_argument instead.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bad user data: a structure, potential or option value that cannot be used (a singular
/// cell, NaN coordinates, sizes that do not match, a negative tolerance). Thrown where the
/// data is checked; the message describes the data, not a command-line flag.
class InputError : public Error {
 public:
  using Error::Error;
};

/// A malformed input file. what() is "FILE:LINE: message" (LINE omitted when 0).
class ParseError : public Error {
 public:
  ParseError(const std::string& file, long line, const std::string& message);
  const std::string& file() const { return file_; }
  long line() const { return line_; }

 private:
  std::string file_;
  long line_;
};

/// A violation of a wire protocol (unknown header, EOF inside a message, bad sizes).
class ProtocolError : public Error {
 public:
  using Error::Error;
};

/// A run stopped on request (SIGTERM/SIGINT): a clean end, not a failure.
class Stopped : public Error {
 public:
  using Error::Error;
};

}  // namespace mmtp
