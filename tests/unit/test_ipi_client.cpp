#include "mmtp/ipi/client.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "helpers.hpp"
#include "mmtp/error.hpp"
#include "mmtp/ipi/wire.hpp"
#include "mmtp/units.hpp"

namespace mmtp::ipi {
namespace {

constexpr double bohr = units::angstrom_per_bohr;  // Å per Bohr
constexpr double hartree = units::ev_per_hartree;  // eV per Hartree

/// The server side of a socketpair, speaking i-PI like a scripted fake server.
class FakeServer {
 public:
  explicit FakeServer(int fd) : fd_(fd) {}
  ~FakeServer() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send(const std::string& bytes) { ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size())); }
  static std::string header(const char* name) {
    const auto h = wire::header(name);
    return std::string(h.begin(), h.end());
  }
  template <class T>
  static std::string raw(const T* p, std::size_t n) {
    return std::string(reinterpret_cast<const char*>(p), sizeof(T) * n);
  }
  static std::string init(std::int32_t rid, const std::string& text) {
    const std::int32_t len = static_cast<std::int32_t>(text.size());
    return header("INIT") + raw(&rid, 1) + raw(&len, 1) + text;
  }
  /// POSDATA with h (row-major, columns = lattice vectors) and positions in Bohr.
  static std::string posdata(const double h[9], const std::vector<double>& q, std::int32_t nat) {
    double ih[9] = {0};
    return header("POSDATA") + raw(h, 9) + raw(ih, 9) + raw(&nat, 1) + raw(q.data(), q.size());
  }
  std::string read(std::size_t n) {
    std::string s(n, '\0');
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::recv(fd_, s.data() + got, n - got, 0);
      if (r <= 0) throw std::runtime_error("fake server: short read");
      got += static_cast<std::size_t>(r);
    }
    return s;
  }
  std::string status() {
    send(header("STATUS"));
    std::string r = read(12);
    while (!r.empty() && r.back() == ' ') r.pop_back();
    return r;
  }
  struct Force {
    double pot;
    std::int32_t nat;
    std::vector<double> f;
    double vir[9];
    std::string extras;
  };
  Force force_ready() {
    EXPECT_EQ(read(12), header("FORCEREADY"));
    Force out;
    std::memcpy(&out.pot, read(8).data(), 8);
    std::memcpy(&out.nat, read(4).data(), 4);
    out.f.resize(3 * static_cast<std::size_t>(out.nat));
    std::memcpy(out.f.data(), read(out.f.size() * 8).data(), out.f.size() * 8);
    std::memcpy(out.vir, read(72).data(), 72);
    std::int32_t nx = 0;
    std::memcpy(&nx, read(4).data(), 4);
    out.extras = read(static_cast<std::size_t>(nx));
    return out;
  }

 private:
  int fd_;
};

struct Pair {
  Pair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) throw std::runtime_error("socketpair");
    client_fd = sv[0];
    server = std::make_unique<FakeServer>(sv[1]);
  }
  int client_fd;
  std::unique_ptr<FakeServer> server;
};

const double tric_h[9] = {6.0, 0.5, -0.4,  // a_x b_x c_x
                          0.3, 5.5, 0.8,   // a_y b_y c_y
                          -0.2, 0.6, 6.5}; // a_z b_z c_z (Bohr)

/// A handler that records the request and answers with recognisable numbers.
struct Recorder {
  std::vector<Request> seen;
  Reply operator()(const Request& r) {
    seen.push_back(r);
    Reply rep;
    rep.result.energy = 2.0;
    rep.result.forces = Eigen::Matrix3Xd::Zero(3, r.positions.cols());
    rep.result.forces(0, 0) = 1.0;
    rep.result.forces(2, 1) = -3.0;
    rep.result.virial << 1, 2, 3, 4, 5, 6, 7, 8, 9;
    rep.extras = "{\"x\": 1}";
    return rep;
  }
};

TEST(IpiClient, BaseProtocolWithTriclinicCell) {
  Pair p;
  Recorder rec;
  Client client(Socket::adopt(p.client_fd), {2, false});
  std::thread server([&] {
    auto& s = *p.server;
    EXPECT_EQ(s.status(), "NEEDINIT");
    s.send(FakeServer::init(7, " "));
    EXPECT_EQ(s.status(), "READY");
    s.send(FakeServer::posdata(tric_h, {0, 0, 0, 1, 2, 3}, 2));
    EXPECT_EQ(s.status(), "HAVEDATA");
    s.send(FakeServer::header("GETFORCE"));
    const auto f = s.force_ready();
    EXPECT_DOUBLE_EQ(f.pot, 2.0 / hartree);
    EXPECT_EQ(f.nat, 2);
    EXPECT_DOUBLE_EQ(f.f[0], 1.0 / hartree * bohr);
    EXPECT_DOUBLE_EQ(f.f[5], -3.0 / hartree * bohr);
    EXPECT_DOUBLE_EQ(f.vir[1], 3.0 / hartree);  // symmetrised (2 + 4)/2
    EXPECT_DOUBLE_EQ(f.vir[3], 3.0 / hartree);
    EXPECT_DOUBLE_EQ(f.vir[8], 9.0 / hartree);
    EXPECT_EQ(f.extras, "{\"x\": 1}");
    EXPECT_EQ(s.status(), "READY");
    s.send(FakeServer::header("EXIT"));
  });
  EXPECT_EQ(client.serve(std::ref(rec)), ClientEnd::exit_message);
  server.join();
  ASSERT_EQ(rec.seen.size(), 1u);
  EXPECT_EQ(rec.seen[0].rid, 7);
  EXPECT_EQ(client.init_string(), " ");
  EXPECT_FALSE(client.server_is_ase());
  // Wire h[i][j] = component i of lattice vector j: our cell is that matrix, not its transpose.
  EXPECT_DOUBLE_EQ(rec.seen[0].cell(0, 1), 0.5 * bohr);
  EXPECT_DOUBLE_EQ(rec.seen[0].cell(1, 0), 0.3 * bohr);
  EXPECT_DOUBLE_EQ(rec.seen[0].positions(2, 1), 3.0 * bohr);
}

TEST(IpiClient, FusedPosdataGetforceAndEofBetweenMessages) {
  Pair p;
  Recorder rec;
  Client client(Socket::adopt(p.client_fd), {2, false});
  std::thread server([&] {
    auto& s = *p.server;
    EXPECT_EQ(s.status(), "NEEDINIT");
    s.send(FakeServer::init(0, std::string(1, '\0')));  // ASE's INIT string
    for (int call = 0; call < 3; ++call) {
      EXPECT_EQ(s.status(), "READY");
      s.send(FakeServer::posdata(tric_h, {0, 0, 0, 1, 2, 3.0 + call}, 2) + FakeServer::header("GETFORCE"));
      EXPECT_EQ(s.force_ready().nat, 2);
    }
    s.close();  // ASE never sends EXIT
  });
  EXPECT_EQ(client.serve(std::ref(rec)), ClientEnd::closed);
  server.join();
  EXPECT_EQ(rec.seen.size(), 3u);
  EXPECT_TRUE(client.server_is_ase());
  EXPECT_EQ(client.requests_served(), 3);
}

TEST(IpiClient, NeedinitBeforeEveryRequestGivesTheBead) {
  Pair p;
  Recorder rec;
  Client client(Socket::adopt(p.client_fd), {2, true});
  std::thread server([&] {
    auto& s = *p.server;
    for (int bead : {4, 9}) {
      EXPECT_EQ(s.status(), "NEEDINIT");
      s.send(FakeServer::init(bead, " "));
      s.send(FakeServer::posdata(tric_h, {0, 0, 0, 1, 2, 3}, 2) + FakeServer::header("GETFORCE"));
      s.force_ready();
    }
    EXPECT_EQ(s.status(), "NEEDINIT");
    s.send(FakeServer::header("EXIT"));
  });
  client.serve(std::ref(rec));
  server.join();
  ASSERT_EQ(rec.seen.size(), 2u);
  EXPECT_EQ(rec.seen[0].rid, 4);
  EXPECT_EQ(rec.seen[1].rid, 9);
}

/// Runs the client against a server that sends `bytes` and closes; expects a ProtocolError
/// whose message contains `fragment`, and that the handler never ran.
void expect_protocol_error(const std::string& bytes, const std::string& fragment) {
  Pair p;
  Recorder rec;
  Client client(Socket::adopt(p.client_fd), {2, false});
  p.server->send(bytes);
  p.server->close();
  try {
    client.serve(std::ref(rec));
    ADD_FAILURE() << "no error for " << fragment;
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
  EXPECT_TRUE(rec.seen.empty());
}

TEST(IpiClient, BrokenAndHostileMessages) {
  const std::string init = FakeServer::init(0, " ");
  expect_protocol_error(init + "POSDA", "connection closed inside a header");
  expect_protocol_error(init + FakeServer::posdata(tric_h, {0, 0, 0}, 2).substr(0, 100), "inside POSDATA");
  expect_protocol_error(init + FakeServer::header("HELLO"), "unknown message header 'HELLO'");
  expect_protocol_error(init + FakeServer::posdata(tric_h, {0, 0, 0, 1, 1, 1, 2, 2, 2}, 3), "3 atoms but the template has 2");
  // 2^31−1 atoms announced, no payload: rejected before any allocation.
  expect_protocol_error(init + FakeServer::posdata(tric_h, {}, 2147483647), "2147483647 atoms");
  expect_protocol_error(init + FakeServer::posdata(tric_h, {0, 0, 0, 1, std::nan(""), 1}, 2), "non-finite");
  expect_protocol_error(init + FakeServer::header("GETFORCE"), "GETFORCE before POSDATA");
  expect_protocol_error(FakeServer::header("INIT") + std::string("\0\0\0\0\xff\xff\xff\x7f", 8), "INIT string length");
}

TEST(IpiClient, HandlerEvaluatesPositionsFarOutsideTheCell) {
  const MagneticMtp mtp = test::load("rand16_2sp_mag2.mtp");
  const Structure tmpl = test::structure("tric4_2sp_mag.cfg");
  std::vector<double> energies;
  auto handler = [&](const Request& r) {
    Structure s = tmpl;
    s.cell = r.cell;
    s.positions = r.positions;
    Reply rep{mtp.evaluate(s), {}};
    energies.push_back(rep.result.energy);
    return rep;
  };
  double h[9];
  Eigen::Map<Eigen::Matrix<double, 3, 3, Eigen::RowMajor>> h_map(h);
  h_map = tmpl.cell / bohr;
  std::vector<double> q(tmpl.positions.data(), tmpl.positions.data() + tmpl.positions.size());
  for (double& x : q) x /= bohr;
  std::vector<double> far = q;
  for (int i = 0; i < 4; ++i)
    for (int d = 0; d < 3; ++d) far[3 * i + d] += (3 * tmpl.cell(d, 0) - 5 * tmpl.cell(d, 2)) / bohr * (i % 2 ? 1 : -1);
  Pair p;
  Client client(Socket::adopt(p.client_fd), {4, false});
  std::thread server([&] {
    auto& s = *p.server;
    s.send(FakeServer::init(0, " "));
    s.send(FakeServer::posdata(h, q, 4) + FakeServer::header("GETFORCE"));
    s.force_ready();
    s.send(FakeServer::posdata(h, far, 4) + FakeServer::header("GETFORCE"));
    s.force_ready();
    s.close();
  });
  client.serve(handler);
  server.join();
  ASSERT_EQ(energies.size(), 2u);
  EXPECT_NEAR(energies[0], energies[1], 1e-10 * std::abs(energies[0]));
  EXPECT_NEAR(energies[0], mtp.evaluate(tmpl).energy, 1e-9 * std::abs(energies[0]));
}

TEST(IpiWire, ExtrasJsonForCommittees) {
  Result a, b, mean;
  for (Result* r : {&a, &b, &mean}) {
    r->forces = Eigen::Matrix3Xd::Random(3, 2);
    r->virial = Eigen::Matrix3d::Random();
    r->dE_dm = Eigen::VectorXd::Random(2);
  }
  a.energy = 1.0;
  b.energy = 3.0;
  const auto j = nlohmann::json::parse(wire::extras_json(mean, {a, b}, Eigen::Vector2d(2.0, -1.0)));
  EXPECT_EQ(j["magmom"][1].get<double>(), -1.0);
  EXPECT_EQ(j["committee_pot"].size(), 2u);
  EXPECT_DOUBLE_EQ(j["committee_pot"][1].get<double>(), 3.0 / hartree);
  EXPECT_EQ(j["committee_force"][0].size(), 6u);
  EXPECT_EQ(j["committee_virial"][1].size(), 9u);
  for (const char* reserved : {"raw", "pot", "force", "virial", "uncertainty"}) EXPECT_FALSE(j.contains(reserved));
  a.energy = std::nan("");
  EXPECT_THROW(wire::extras_json(mean, {a, b}, Eigen::Vector2d(2.0, -1.0)), Error);
}

TEST(IpiSocket, UnixPathLimit) {
  EXPECT_EQ(unix_socket_path("md"), "/tmp/ipi_md");
  EXPECT_EQ(unix_socket_path("/run/x.sock"), "/run/x.sock");
  EXPECT_THROW(unix_socket_path(std::string(100, 'a')), Error);
  EXPECT_THROW(Socket::connect_unix("/tmp/ipi_mmtp_nobody_listens", 0.3), Error);
}

}  // namespace
}  // namespace mmtp::ipi
