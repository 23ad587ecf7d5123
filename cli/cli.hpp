#pragma once
// Command-line plumbing shared by mmtp-driver and the tools: option parsing, the one catch
// site, threads, loading potentials and labelled data, and the output sample of an evaluation.
#include <boost/program_options.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "mmtp/ensemble.hpp"

namespace mmtp::cli {

/// Parses `args` (without the program or sub-command name) into `vm`; returns false after
/// printing --help to stdout. Throws boost's po::error on bad options (run() reports them).
bool parse(const std::vector<std::string>& args, const boost::program_options::options_description& opts,
           const boost::program_options::positional_options_description& positional,
           boost::program_options::variables_map& vm);

/// argv[1..] as strings.
std::vector<std::string> arguments(int argc, char** argv);

/// Runs `body`: bad options and mmtp::Error print "NAME: what" and give exit code 1, any other
/// exception "NAME: bug: what" and 2.
int run(const std::string& name, const std::function<int()>& body);

/// --threads N: 0 keeps OMP_NUM_THREADS (or all cores). Throws mmtp::Error for N < 0.
void set_threads(int threads);

/// Reads the potentials given with -p and attaches element names: `species_csv` ("Fe,Al",
/// type 0 = Fe) when given, otherwise the names stored in the first potential. The committee's
/// α is `committee_alpha` when positive, else the one stored in the potentials (when they
/// agree), else 1. Throws mmtp::Error / ParseError.
Ensemble load_ensemble(const std::vector<std::string>& paths, const std::string& species_csv, double committee_alpha = 0.0);

/// Labelled structures from ABINIT outputs, cfg or extxyz (io::read_labelled); its warnings go
/// to stderr as "PROGRAM: warning: ...".
std::vector<Sample> load_labelled(const std::vector<std::string>& files, std::vector<std::string>& species, bool strict,
                                  const std::string& program);

/// The output sample of an evaluated structure: the committee mean as labels, dE/dm and the
/// magnetic forces −dE/dm, per-atom energies, extrapolation counts, and for a committee the
/// standard deviations. Features of `features` are kept; those set here are replaced.
Sample labelled_sample(const Structure& s, const EnsembleResult& r, std::vector<std::pair<std::string, std::string>> features);

}  // namespace mmtp::cli
