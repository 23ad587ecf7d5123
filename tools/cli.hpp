#pragma once
// Command-line plumbing shared by the tools: option parsing and the one catch site.
#include <boost/program_options.hpp>
#include <functional>

namespace mmtp::tools {

/// Parses argv into `vm`; returns false after printing --help. Throws boost's po::error.
bool parse(int argc, char** argv, const boost::program_options::options_description& opts,
           const boost::program_options::positional_options_description& positional,
           boost::program_options::variables_map& vm);

/// Runs `body`; bad options and mmtp::Error print "NAME: what" and give exit code 1, any other
/// exception "NAME: bug: what" and 2.
int run(const char* name, const std::function<int()>& body);

}  // namespace mmtp::tools
