// libFuzzer target: the i-PI client's message reader fed a byte stream as a server's side of
// the socket (protocols/ipi Client::serve over a socketpair), evaluating every POSDATA with a
// two-atom magnetic template as `mmtp-driver serve` does and encoding FORCEREADY and the JSON
// extras. The client's replies are drained by a thread so that no input can fill the socket.
#include <sys/socket.h>

#include <thread>

#include "fuzz_input.hpp"
#include "mmtp/ipi/client.hpp"
#include "mmtp/ipi/wire.hpp"

using namespace mmtp;

namespace {

// Reads the client's replies until EOF. How many recv calls that takes depends on scheduling,
// so it is left out of the coverage that guides libFuzzer (Clang's no_sanitize("coverage");
// g++ builds the replay harness, which has no coverage).
#ifdef __clang__
__attribute__((no_sanitize("coverage")))
#endif
void drain_replies(int fd) {
  char sink[4096];
  while (::recv(fd, sink, sizeof sink, 0) > 0) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) std::abort();
  // The whole input is written before the client reads, so that every recv sees the same bytes
  // on every run and machine: libFuzzer's coverage, and so the fixed-seed fuzz.run.ipi test, do
  // not depend on thread scheduling. Only an input larger than the socket's buffer is written
  // by a thread as the client reads it.
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = ::send(sv[0], data + written, size - written, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  std::thread server;
  if (written == size)
    ::shutdown(sv[0], SHUT_WR);
  else
    server = std::thread([fd = sv[0], data, size, written] {
      for (std::size_t done = written; done < size;) {
        const ssize_t n = ::send(fd, data + done, size - done, MSG_NOSIGNAL);
        if (n <= 0) break;  // the client stopped reading (error) and closed
        done += static_cast<std::size_t>(n);
      }
      ::shutdown(fd, SHUT_WR);
    });
  std::thread drain(drain_replies, sv[0]);

  Structure tmpl;
  tmpl.cell = 3.0 * Eigen::Matrix3d::Identity();
  tmpl.species = {0, 1};
  tmpl.positions = Eigen::Matrix3Xd::Zero(3, 2);
  tmpl.magmoms = Eigen::Vector2d(2.0, 0.1);
  {
    ipi::ClientOptions options;
    options.natoms = 2;
    ipi::Client client(ipi::Socket::adopt(sv[1]), options);
    auto handler = [&](const ipi::Request& req) {
      Structure s = tmpl;
      s.cell = req.cell;
      s.positions = req.positions;
      EnsembleResult r;
      try {
        r = fuzz::test_ensemble().evaluate(s);
      } catch (const std::invalid_argument& e) {
        throw Error(e.what());
      }
      fuzz::require_finite(r.mean);
      return ipi::Reply{r.mean, ipi::wire::extras_json(r.mean, r.members, s.magmoms)};
    };
    try {
      client.serve(handler);
    } catch (const Error&) {
    }
  }  // closes the client's end: the drain thread sees EOF
  if (server.joinable()) server.join();
  drain.join();
  ::close(sv[0]);
  return 0;
}
