#pragma once
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "mmtp/ensemble.hpp"

namespace mmtp::driver {

/// Reads the potentials given with -p and attaches element names: `species_csv` ("Fe,Al",
/// type 0 = Fe) when given, otherwise the names stored in the first potential.
/// Throws mmtp::Error / ParseError.
Ensemble load_ensemble(const std::vector<std::string>& paths, const std::string& species_csv);

/// Parses a sub-command's arguments. Returns false after printing --help. Throws mmtp::Error
/// ("COMMAND: what") on bad options. `positional` names the options taken by position.
bool parse_arguments(const char* command, const std::vector<std::string>& args,
                     const boost::program_options::options_description& opts,
                     const boost::program_options::positional_options_description& positional,
                     boost::program_options::variables_map& vm);

/// --threads N: 0 keeps OMP_NUM_THREADS (or all cores). Throws mmtp::Error for N < 0.
void set_threads(int threads);

/// The output sample of an evaluated structure: the committee mean as labels, dE/dm and the
/// magnetic forces −dE/dm, per-atom energies, extrapolation counts, and for a committee the
/// standard deviations. Features of `features` are kept; those set here are replaced.
Sample labelled_sample(const Structure& s, const EnsembleResult& r,
                       std::vector<std::pair<std::string, std::string>> features);

int run_eval(const std::vector<std::string>& args);
int run_serve(const std::vector<std::string>& args);
int run_relax(const std::vector<std::string>& args);

}  // namespace mmtp::driver
