#include <fmt/core.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <algorithm>
#include <csignal>
#include <deque>
#include <map>
#include <numeric>
#include <stdexcept>

#include "commands.hpp"
#include "mmtp/error.hpp"
#include "mmtp/io/text.hpp"
#include "mmtp/io/samples.hpp"
#include "mmtp/ipi/client.hpp"
#include "mmtp/ipi/wire.hpp"
#include "mmtp/relax.hpp"

namespace po = boost::program_options;

namespace mmtp::driver {
namespace {

/// The first SIGTERM/SIGINT asks for a clean stop (the request in progress is finished and
/// answered, the next wait ends with exit 0); a second one leaves at once with 128 + signal.
extern "C" void on_stop_signal(int sig) {
  if (ipi::stop_requested()) ::_exit(128 + sig);
  ipi::request_stop();
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR and see the request
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

/// What `serve`'s command line says, checked.
struct ServeOptions {
  std::vector<std::string> potentials;
  double committee_alpha = 0.0;
  std::string structure, unix_name, inet, extras = "auto", species;
  double connect_timeout = 60.0, read_timeout = 0.0;
  int threads = 0, busy_poll_us = 50;
  bool use_unix = false, relax = false, exit_unconverged = false;
  TrainedRegion region;
  MomentRelaxOptions relax_options;  // --moments relax: its fields and defaults
};

/// Parses and validates serve's flags; false after --help.
bool parse_serve(const std::vector<std::string>& args, ServeOptions& o) {
  std::string moments = "fixed";
  po::options_description opts(
      "mmtp-driver serve -p POT.mtp [-p POT2.mtp ...] --structure TEMPLATE.{xyz,cfg} (--unix NAME | --inet HOST:PORT)\n"
      "i-PI socket client for i-PI and ASE's SocketIOCalculator. The template gives species, atom order,\n"
      "periodicity and initial moments; the server sends positions and cell. Several -p form a committee\n"
      "(the socket values are the committee mean). Options");
  MomentRelaxOptions& relax = o.relax_options;
  opts.add_options()("help,h", "show this help")(
      "potential,p", po::value(&o.potentials)->required(), "MLIP potential file; repeat for a committee")(
      "committee-alpha", po::value(&o.committee_alpha)->default_value(0.0),
      "calibration α of a committee\'s std (0: the α and error floor stored in the potentials, else 1; a "
      "given α means no floor)")(
      "structure", po::value(&o.structure)->required(), "template structure (.xyz or .cfg)")(
      "unix", po::value(&o.unix_name), "UNIX socket: NAME (→ /tmp/ipi_NAME) or a full path")(
      "inet", po::value(&o.inet), "TCP socket HOST:PORT")(
      "moments", po::value(&moments)->default_value("fixed"), "fixed: template moments; relax: minimise E over moments per call")(
      "extras", po::value(&o.extras)->default_value("auto"), "auto (none for ASE, json otherwise), json or none")(
      "connect-timeout", po::value(&o.connect_timeout)->default_value(60.0), "seconds to retry connecting")(
      "read-timeout", po::value(&o.read_timeout)->default_value(0.0),
      "exit 1 when the server sends nothing for this many seconds (0 = wait forever)")(
      "threads", po::value(&o.threads)->default_value(0), "OpenMP threads (0 = OMP_NUM_THREADS or all cores)")(
      "species", po::value(&o.species), "element of each potential type, e.g. Fe,Al")(
      "raw", "plain E(M) instead of E_symm = (E(M)+E(-M))/2")(
      "mmax", po::value(&relax.mmax)->default_value(relax.mmax), "relax: converged when max|dE/dm| <= mmax [eV/μB]")(
      "max-steps", po::value(&relax.max_steps)->default_value(relax.max_steps), "relax: L-BFGS iterations per call")(
      "busy-poll-us", po::value(&o.busy_poll_us)->default_value(50),
      "microseconds to poll for the next message before sleeping (lower latency; 0 = never spin)")(
      "bound-moments", po::value(&relax.bound_moments)->default_value(relax.bound_moments),
      "relax: keep each moment within its species' trained range")(
      "exit-on-unconverged", "relax: exit (code 1) instead of answering when a moment relaxation does not converge")(
      "max-std", po::value(&o.region.max_std)->default_value(o.region.max_std),
      "committee: warn when the std of E exceeds this [eV/atom] (0 = never)");
  po::variables_map vm;
  if (!cli::parse(args, opts, {}, vm)) return false;
  if (vm.count("unix") == vm.count("inet")) throw Error("serve: give exactly one of --unix NAME and --inet HOST:PORT");
  if (!(o.connect_timeout >= 0 && o.connect_timeout < 1e9) || !(o.read_timeout >= 0 && o.read_timeout < 1e9))
    throw Error("serve: --connect-timeout and --read-timeout must be seconds in [0, 1e9)");
  if (moments != "fixed" && moments != "relax") throw Error(fmt::format("serve: --moments '{}' is not fixed or relax", moments));
  if (o.extras != "auto" && o.extras != "json" && o.extras != "none")
    throw Error(fmt::format("serve: --extras '{}' is not auto, json or none", o.extras));
  o.use_unix = vm.count("unix") > 0;
  o.exit_unconverged = vm.count("exit-on-unconverged") > 0;
  o.relax = moments == "relax";
  relax.mode = vm.count("raw") ? EvalMode::raw : EvalMode::symmetrized;
  relax.validate();
  o.region.validate();
  return true;
}

/// The socket of --unix or --inet, connected (retrying for --connect-timeout seconds).
ipi::Socket connect(const ServeOptions& o) {
  if (o.use_unix) return ipi::Socket::connect_unix(ipi::unix_socket_path(o.unix_name), o.connect_timeout);
  const auto colon = o.inet.rfind(':');
  if (colon == std::string::npos || colon == 0) throw Error(fmt::format("serve: --inet '{}' is not HOST:PORT", o.inet));
  const long port = io::parse_count(o.inet.substr(colon + 1), fmt::format("serve: --inet '{}': the port", o.inet));
  return ipi::Socket::connect_inet(o.inet.substr(0, colon), static_cast<int>(port), o.connect_timeout);
}

/// Answers one request: the template with the server's positions and cell, evaluated (moments
/// fixed) or with its moments relaxed from that bead's trajectory; warns about extrapolation and
/// moment relaxations, and keeps the counts for the summary.
class RequestHandler {
 public:
  RequestHandler(const ServeOptions& o, const Ensemble& ensemble, const Structure& tmpl, const ipi::Client& client)
      : o_(o), ensemble_(ensemble), tmpl_(tmpl), client_(client),
        periodic_(tmpl.pbc[0] || tmpl.pbc[1] || tmpl.pbc[2]) {}

  ipi::Reply operator()(const ipi::Request& req) {
    Structure s = tmpl_;
    if (periodic_) s.cell = req.cell;
    s.positions = req.positions;
    const long request = client_.requests_served() + 1;
    ipi::wire::ExtrasNotes notes;
    EnsembleResult r = o_.relax ? relaxed(s, req.rid, request, notes) : ensemble_.evaluate(s, o_.relax_options.mode);
    notes.extrapolation = extrapolation_cause(r, s.size(), o_.region);
    if (!notes.extrapolation.empty())
      fmt::print(stderr, "mmtp-driver: warning: request {}: outside the trained region: {}\n", request, notes.extrapolation);
    const bool json = o_.extras == "json" || (o_.extras == "auto" && !client_.server_is_ase());
    ipi::Reply reply{r.mean, {}};
    if (json) reply.extras = ipi::wire::extras_json(r.mean, r.members, s.has_magmoms() ? s.magmoms : Eigen::VectorXd(), notes);
    return reply;
  }

  /// The moment relaxations' statistics, after the last request.
  void print_summary() {
    if (moment_evaluations_.empty()) return;
    std::sort(moment_evaluations_.begin(), moment_evaluations_.end());
    const double mean = std::accumulate(moment_evaluations_.begin(), moment_evaluations_.end(), 0.0) /
                        static_cast<double>(moment_evaluations_.size());
    fmt::print(stderr, "mmtp-driver: moment relaxations: median {} moment-only evaluations per request (mean {:.1f}, max {})\n",
               moment_evaluations_[moment_evaluations_.size() / 2], mean, moment_evaluations_.back());
    if (pushed_requests_ > 0)
      fmt::print(stderr, "mmtp-driver: warning: in {} of {} requests moments ended at the edge of their trained range, pushed outwards\n",
                 pushed_requests_, moment_evaluations_.size());
  }

 private:
  EnsembleResult relaxed(Structure& s, int rid, long request, ipi::wire::ExtrasNotes& notes) {
    MomentRelaxReport rep = relax_moments(ensemble_, s, o_.relax_options, &beads_[rid]);
    moment_evaluations_.push_back(rep.evaluations);
    notes.moment_relaxation = to_string(rep.status);
    notes.moments_pushed_out = rep.moments_pushed_out;
    if (!rep.moments_pushed_out.empty() && pushed_requests_++ == 0)
      fmt::print(stderr,
                 "mmtp-driver: warning: request {}: {} moments end at the edge of their trained range, pushed outwards: "
                 "the model's minimum lies beyond the data (said once; each request's extras list them)\n",
                 request, rep.moments_pushed_out.size());
    if (rep.status != RelaxStatus::converged) {
      const std::string what = fmt::format("request {}: the moment relaxation did not converge ({}, max|dE/dm| = {:.3g} eV/μB{})",
                                           request, to_string(rep.status), rep.mmax, rep.newton ? ", projected Newton too" : "");
      if (o_.exit_unconverged) throw Error(what + "; exiting (--exit-on-unconverged) instead of answering");
      fmt::print(stderr, "mmtp-driver: warning: {}: answering with these moments\n", what);
    }
    return std::move(rep.result);
  }

  const ServeOptions& o_;
  const Ensemble& ensemble_;
  const Structure& tmpl_;
  const ipi::Client& client_;
  const bool periodic_;
  std::map<int, MomentTrajectory> beads_;  // per bead (i-PI's request id): extrapolated starts, L-BFGS memory
  std::vector<int> moment_evaluations_;    // per request
  long pushed_requests_ = 0;               // requests whose relaxed moments end pushed against a bound
};

}  // namespace

int run_serve(const std::vector<std::string>& args) {
  ServeOptions o;
  if (!parse_serve(args, o)) return 0;
  cli::set_threads(o.threads);
  const Ensemble ensemble = cli::load_ensemble(o.potentials, o.species, o.committee_alpha);
  const auto& p0 = ensemble.members().front().parameters();
  const auto samples = io::read_samples(o.structure, p0.species_names);
  if (samples.size() != 1) fmt::print(stderr, "mmtp-driver: warning: {}: using the first of {} structures\n", o.structure, samples.size());
  const Structure tmpl = samples.front().structure;
  if (o.relax && (!p0.magnetic || !tmpl.has_magmoms()))
    throw Error("serve: --moments relax needs a magnetic potential and initial moments in the template");
  if (o.relax && tmpl.magmoms.cwiseAbs().maxCoeff() == 0.0)
    fmt::print(stderr, "mmtp-driver: warning: every initial moment is zero, a stationary point of the symmetric energy; "
                       "relaxation stays non-magnetic\n");

  install_stop_handlers();
  ipi::Socket socket = connect(o);
  socket.set_busy_poll_us(o.busy_poll_us);
  socket.set_read_timeout(o.read_timeout);
  ipi::ClientOptions copts;
  copts.natoms = tmpl.size();
  copts.needinit_every_request = o.relax;  // i-PI then tells the bead (rid) of every request
  ipi::Client client(std::move(socket), copts);
  RequestHandler handler(o, ensemble, tmpl, client);
  try {
    const auto end = client.serve(std::ref(handler));
    fmt::print(stderr, "mmtp-driver: served {} requests; {}\n", client.requests_served(),
               end == ipi::ClientEnd::exit_message ? "the server sent EXIT" : "the server closed the connection");
    handler.print_summary();
  } catch (const Stopped&) {
    fmt::print(stderr, "mmtp-driver: stopped by a signal after {} requests\n", client.requests_served());
  }
  return 0;
}

}  // namespace mmtp::driver
