// mmtp-ipi-bench: a minimal in-process i-PI-style server that drives `mmtp-driver serve` over
// UNIX and TCP sockets and measures the time per force call, and the part of it that is not
// the model's evaluation (protocol, copies, conversions, process hops).
#include <arpa/inet.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <omp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <Eigen/LU>
#include <boost/program_options.hpp>

#include "cli.hpp"
#include <chrono>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "mmtp/error.hpp"
#include "mmtp/io/cfg.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/ipi/wire.hpp"
#include "mmtp/mtp.hpp"
#include "mmtp/units.hpp"

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

/// bcc supercell of nx·ny·nz conventional cells (2 atoms each), a = 2.86 Å, type 0, moments 2.2 μB.
mmtp::Structure bcc(int nx, int ny, int nz) {
  const double a = 2.86;
  mmtp::Structure s;
  s.cell = Eigen::Vector3d(nx * a, ny * a, nz * a).asDiagonal();
  const int n = 2 * nx * ny * nz;
  s.positions.resize(3, n);
  s.species.assign(static_cast<std::size_t>(n), 0);
  s.magmoms = Eigen::VectorXd::Constant(n, 2.2);
  int k = 0;
  for (int i = 0; i < nx; ++i)
    for (int j = 0; j < ny; ++j)
      for (int l = 0; l < nz; ++l)
        for (double h : {0.0, 0.5}) s.positions.col(k++) = a * Eigen::Vector3d(i + h, j + h, l + h);
  return s;
}

void write_all(int fd, const std::string& b) {
  std::size_t sent = 0;
  while (sent < b.size()) {
    const ssize_t w = ::send(fd, b.data() + sent, b.size() - sent, MSG_NOSIGNAL);
    if (w <= 0) throw mmtp::Error("bench server: write failed");
    sent += static_cast<std::size_t>(w);
  }
}

/// Reads n bytes; a polling server spins on non-blocking reads instead of sleeping.
void read_exact(int fd, void* buf, std::size_t n, bool poll_server) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, static_cast<char*>(buf) + got, n - got, poll_server ? MSG_DONTWAIT : 0);
    if (r < 0 && poll_server && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (r <= 0) throw mmtp::Error("bench server: the driver closed the connection");
    got += static_cast<std::size_t>(r);
  }
}

std::string hdr(const char* name) {
  const auto h = mmtp::ipi::wire::header(name);
  return std::string(h.begin(), h.end());
}

template <class T>
std::string raw(const T* p, std::size_t n) {
  return std::string(reinterpret_cast<const char*>(p), sizeof(T) * n);
}

/// Serves `calls` force requests of structure `s` to a freshly started driver; returns the
/// median wall time per call (fused POSDATA+GETFORCE, FORCEREADY, post-force STATUS, as i-PI ≥ 3.2).
double drive(const std::string& driver, const std::string& pot, const std::string& tmpl, const mmtp::Structure& s,
             bool tcp, int calls, bool poll_server) {
  int listener = -1;
  std::vector<std::string> args{driver, "serve", "-p", pot, "--structure", tmpl, "--threads", "1", "--extras", "none"};
  std::string unix_path;
  if (tcp) {
    listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw mmtp::Error("bind failed");
    socklen_t len = sizeof addr;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    args.insert(args.end(), {"--inet", fmt::format("127.0.0.1:{}", ntohs(addr.sin_port))});
  } else {
    unix_path = fmt::format("/tmp/ipi_mmtp_bench_{}", ::getpid());
    ::unlink(unix_path.c_str());
    listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, unix_path.c_str(), sizeof(addr.sun_path) - 1);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw mmtp::Error("bind failed");
    args.insert(args.end(), {"--unix", unix_path});
  }
  ::listen(listener, 1);
  const pid_t child = ::fork();
  if (child == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  const int fd = ::accept(listener, nullptr, nullptr);
  if (fd < 0) throw mmtp::Error("accept failed");
  const int one = 1;
  if (tcp) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char reply[12];
  write_all(fd, hdr("STATUS"));
  read_exact(fd, reply, 12, poll_server);
  const std::int32_t rid = 0, len = 1;
  write_all(fd, hdr("INIT") + raw(&rid, 1) + raw(&len, 1) + " ");
  const std::int32_t nat = static_cast<std::int32_t>(s.size());
  Eigen::Matrix<double, 3, 3, Eigen::RowMajor> h = s.cell / mmtp::units::angstrom_per_bohr;
  const Eigen::Matrix<double, 3, 3, Eigen::RowMajor> ih = h.inverse();
  const Eigen::Matrix3Xd q = s.positions / mmtp::units::angstrom_per_bohr;
  const std::string request = hdr("POSDATA") + raw(h.data(), 9) + raw(ih.data(), 9) + raw(&nat, 1) +
                              raw(q.data(), static_cast<std::size_t>(q.size())) + hdr("GETFORCE");
  std::vector<char> answer(12 + 8 + 4 + 24 * static_cast<std::size_t>(nat) + 72 + 4);
  std::vector<double> us;
  for (int c = 0; c < calls + 5; ++c) {
    const auto t0 = Clock::now();
    write_all(fd, request);
    read_exact(fd, answer.data(), answer.size(), poll_server);
    write_all(fd, hdr("STATUS"));
    read_exact(fd, reply, 12, poll_server);
    const auto t1 = Clock::now();
    if (c >= 5) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  write_all(fd, hdr("EXIT"));
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(fd);
  ::close(listener);
  if (!unix_path.empty()) ::unlink(unix_path.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw mmtp::Error("the driver did not exit cleanly");
  return median(us);
}

}  // namespace

int main(int argc, char** argv) {
  return mmtp::cli::run("mmtp-ipi-bench", [&] {
  std::string driver, pot;
  int calls = 2000;
  po::options_description opts(
      "mmtp-ipi-bench --driver build/driver/mmtp-driver -p POT.mtp [--calls N]\n"
      "Round trips of `mmtp-driver serve` (one thread) against an in-process i-PI-style server, over\n"
      "UNIX and TCP, with 2 and 1000 atoms. Overhead = time per call − model evaluation time. Each\n"
      "call is i-PI >= 3.2's exchange: POSDATA+GETFORCE, FORCEREADY, STATUS, READY. The server either\n"
      "sleeps in recv() (its own wake-ups then count, ~20-60 us each on a shared VM) or polls.\n"
      "The last line is 'roundtrip_overhead_us_median: X' for 2 atoms over UNIX, polling server. Options");
  opts.add_options()("help,h", "show this help")("driver", po::value(&driver)->required(), "path of mmtp-driver")(
      "potential,p", po::value(&pot)->required(), "single-species potential file")(
      "calls", po::value(&calls)->default_value(2000), "force calls for 2 atoms (1000 atoms: calls/20)");
  po::positional_options_description pos;
  po::variables_map vm;
  if (!mmtp::cli::parse(mmtp::cli::arguments(argc, argv), opts, pos, vm)) return 0;
  if (calls < 20) throw mmtp::Error("--calls must be >= 20");
  omp_set_num_threads(1);
  const mmtp::MagneticMtp mtp(mmtp::io::read_mtp(pot));
  double overhead_2_unix = 0.0;
  for (int nat : {2, 1000}) {
    const mmtp::Structure s = nat == 2 ? bcc(1, 1, 1) : bcc(10, 10, 5);
    const std::string tmpl = fmt::format("/tmp/mmtp_bench_{}_{}.cfg", ::getpid(), nat);
    mmtp::Sample smp;
    smp.structure = s;
    mmtp::io::write_cfg(tmpl, {smp});
    const int n = nat == 2 ? calls : std::max(10, calls / 20);
    std::vector<double> eval_us;
    for (int c = 0; c < n + 2; ++c) {
      const auto t0 = Clock::now();
      const auto r = mtp.evaluate(s);
      const auto t1 = Clock::now();
      if (c >= 2) eval_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    const double eval = median(eval_us);
    for (bool poll_server : {false, true})
      for (bool tcp : {false, true}) {
        const double call = drive(driver, pot, tmpl, s, tcp, n, poll_server);
        fmt::print("{:4d} atoms {:4s} server {:8s}: {:9.1f} us/call, model {:9.1f} us, overhead {:7.1f} us, {:8.0f} round trips/s\n",
                   nat, tcp ? "TCP" : "UNIX", poll_server ? "polling" : "sleeping", call, eval, call - eval, 1e6 / call);
        if (nat == 2 && !tcp && poll_server) overhead_2_unix = call - eval;
      }
    ::unlink(tmpl.c_str());
  }
  fmt::print("roundtrip_overhead_us_median: {:.1f}\n", overhead_2_unix);
  return 0;
  });
}
