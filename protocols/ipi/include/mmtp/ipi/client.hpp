#pragma once
#include <Eigen/Core>
#include <functional>
#include <string>

#include "mmtp/ipi/socket.hpp"
#include "mmtp/structure.hpp"

namespace mmtp::ipi {

/// One force request as it arrived, converted to mmtp units.
struct Request {
  int rid = 0;                  ///< request id of the last INIT (i-PI: the bead), 0 before any
  Eigen::Matrix3d cell;         ///< columns = lattice vectors [Å]
  Eigen::Matrix3Xd positions;   ///< [Å], 3×N, not wrapped into the cell
};

/// What the handler returns: the result to send and the extras string (may be empty).
struct Reply {
  Result result;
  std::string extras;
};

using Handler = std::function<Reply(const Request&)>;

struct ClientOptions {
  Index natoms = 0;               ///< atoms every POSDATA must carry (the template's)
  bool needinit_every_request = false;  ///< answer NEEDINIT after each force (per-bead rid)
  void validate() const;          ///< throws InputError
};

/// How a session ended normally.
enum class ClientEnd { exit_message, closed };

/// i-PI client state machine (shared/docs/ipi-protocol.md §4): answers STATUS with
/// NEEDINIT/READY/HAVEDATA, takes INIT, computes on POSDATA (so that i-PI ≥ 3.2's fused
/// POSDATA+GETFORCE works), replies to GETFORCE with one write. Starts in NEEDINIT so the
/// server's INIT string is known before the first reply.
class Client {
 public:
  Client(Socket socket, ClientOptions options);

  /// Serves until EXIT (ClientEnd::exit_message) or EOF at a message boundary
  /// (ClientEnd::closed; ASE never sends EXIT). Throws ProtocolError on EOF inside a message,
  /// an unknown header, a nat different from the template's, or non-finite positions/cell;
  /// mmtp::Stopped after request_stop(); whatever the handler throws.
  ClientEnd serve(const Handler& handler);

  /// Payload of the last INIT message ("" before any).
  const std::string& init_string() const { return init_; }
  /// True when the INIT string is ASE's (a single NUL byte).
  bool server_is_ase() const { return init_.size() == 1 && init_[0] == '\0'; }
  long requests_served() const { return served_; }

 private:
  Socket socket_;
  ClientOptions options_;
  std::string init_;
  int rid_ = 0;
  long served_ = 0;
};

}  // namespace mmtp::ipi
