#include "mmtp/ipi/client.hpp"

#include <fmt/core.h>

#include <cstdint>
#include <stdexcept>

#include "mmtp/error.hpp"
#include "mmtp/ipi/wire.hpp"

namespace mmtp::ipi {

void ClientOptions::validate() const {
  if (natoms < 1 || natoms > 100'000'000) throw InputError(fmt::format("natoms = {} is out of range", natoms));
}

Client::Client(Socket socket, ClientOptions options) : socket_(std::move(socket)), options_(options) {
  options_.validate();
}

ClientEnd Client::serve(const Handler& handler) {
  enum class State { needinit, ready, havedata } state = State::needinit;
  std::vector<char> reply;
  std::vector<double> q;
  const wire::Header status_reply[] = {wire::header("NEEDINIT"), wire::header("READY"), wire::header("HAVEDATA")};
  while (true) {
    wire::Header h;
    if (!socket_.read_exact(h.data(), h.size(), "a header", /*eof_ok=*/true)) return ClientEnd::closed;
    const std::string name = wire::printable(h);
    if (h == wire::header("STATUS")) {
      socket_.write_all(status_reply[static_cast<int>(state)].data(), wire::header_size);
    } else if (h == wire::header("INIT")) {
      std::int32_t rid = 0, len = 0;
      socket_.read_exact(&rid, sizeof rid, "INIT");
      socket_.read_exact(&len, sizeof len, "INIT");
      if (len < 0 || len > (1 << 20)) throw ProtocolError(fmt::format("INIT string length {} is out of range", len));
      init_.assign(static_cast<std::size_t>(len), '\0');
      if (len) socket_.read_exact(init_.data(), init_.size(), "INIT");
      rid_ = rid;
      state = State::ready;
    } else if (h == wire::header("POSDATA")) {
      double cell[18];
      std::int32_t nat = 0;
      socket_.read_exact(cell, sizeof cell, "POSDATA");
      socket_.read_exact(&nat, sizeof nat, "POSDATA");
      // Validate before allocating: a hostile nat must not become an allocation.
      if (nat != options_.natoms)
        throw ProtocolError(fmt::format("POSDATA has {} atoms but the template has {}", nat, options_.natoms));
      q.resize(3 * static_cast<std::size_t>(nat));
      socket_.read_exact(q.data(), q.size() * sizeof(double), "POSDATA");
      Request req;
      req.rid = rid_;
      wire::decode_positions(cell, q.data(), nat, req.cell, req.positions);
      if (!req.cell.allFinite() || !req.positions.allFinite())
        throw ProtocolError("POSDATA carries a non-finite cell or position");
      const Reply r = handler(req);
      if (r.result.forces.cols() != nat) throw std::logic_error("handler returned forces of the wrong size");
      reply = wire::force_ready(r.result, r.extras);
      state = State::havedata;
    } else if (h == wire::header("GETFORCE")) {
      if (state != State::havedata) throw ProtocolError("GETFORCE before POSDATA");
      socket_.write_all(reply.data(), reply.size());
      ++served_;
      state = options_.needinit_every_request ? State::needinit : State::ready;
    } else if (h == wire::header("EXIT")) {
      return ClientEnd::exit_message;
    } else {
      throw ProtocolError(fmt::format("unknown message header '{}'", name));
    }
  }
}

}  // namespace mmtp::ipi
