// mmtp-convert: ABINIT cDFT outputs, MLIP cfg and extxyz in; one cfg or extxyz file out.
#include <fmt/core.h>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include <iostream>

#include "mmtp/error.hpp"
#include "mmtp/io/text.hpp"
#include "mmtp/io/samples.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  return mmtp::cli::run("mmtp-convert", [&] {
  std::vector<std::string> inputs;
  std::string output, species;
  mmtp::io::AbinitOptions abinit;
  po::options_description opts(
      "mmtp-convert INPUT... -o OUTPUT.{cfg,xyz} [--species Fe,Al] [--strict]\n"
      "Reads ABINIT outputs (.abo/.out: the final dataset values, cDFT targets as moments and the\n"
      "Lagrange multipliers as dE/dm), MLIP cfg and extxyz (format by content) and writes all\n"
      "structures with their labels to one file. Skipped ABINIT datasets are listed on stderr.\n"
      "Options");
  opts.add_options()("help,h", "show this help")("inputs", po::value(&inputs)->required()->multitoken(), "input files")(
      "output,o", po::value(&output)->required(), "output file (.cfg, .xyz, .extxyz)")(
      "species", po::value(&species), "type order, e.g. Fe,Al (type 0 = Fe); else order of appearance")(
      "strict", "make every skipped ABINIT dataset an error")(
      "moment-tolerance", po::value(&abinit.moment_tolerance)->default_value(abinit.moment_tolerance),
      "warn when a sphere moment differs from its cDFT target by more [μB]");
  po::positional_options_description pos;
  pos.add("inputs", -1);
  po::variables_map vm;
  if (!mmtp::cli::parse(mmtp::cli::arguments(argc, argv), opts, pos, vm)) return 0;
  abinit.strict = vm.count("strict") > 0;
  std::vector<std::string> names = mmtp::io::split_list(species, "--species"), warnings;
  const auto all = mmtp::io::read_labelled(inputs, names, abinit, warnings);
  std::size_t skipped = 0;
  for (const auto& w : warnings) {
    fmt::print(stderr, "mmtp-convert: warning: {}\n", w);
    skipped += w.find("(skipped)") != std::string::npos;
  }
  if (all.empty()) throw mmtp::Error("no usable structure in the inputs");
  mmtp::io::write_samples(output, all, names);
  std::string order;
  for (const auto& n : names) order += (order.empty() ? "" : ",") + n;
  fmt::print("wrote {} structures to {} (species order {}; {} ABINIT datasets skipped)\n", all.size(), output, order, skipped);
  return 0;
  });
}
