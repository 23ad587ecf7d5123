#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace mmtp::ipi {

/// Path of the UNIX socket for an i-PI address: "/tmp/ipi_NAME" (the prefix i-PI, ASE and
/// LAMMPS use), or NAME itself when it contains a '/'. Throws mmtp::Error when the path
/// exceeds the 107 bytes a Linux sockaddr_un holds.
std::string unix_socket_path(const std::string& name);

/// Asks every blocking socket call to stop: async-signal-safe, for SIGTERM/SIGINT handlers.
void request_stop();
bool stop_requested();

/// A connected stream socket to an i-PI-protocol server (owning its descriptor).
/// Reads and writes loop over short transfers and EINTR; writes never raise SIGPIPE.
/// Reads go through a buffer, so a message that arrives in one segment costs one recv().
/// Waiting for data first busy-polls for busy_poll_us (a wake-up from a sleeping poll() costs
/// ~40-60 µs on a shared VM), then sleeps in poll() slices of 200 ms, so that request_stop()
/// is honoured promptly without spinning.
class Socket {
 public:
  /// Connects to `path`, retrying every 0.2 s until `timeout_s`. Throws mmtp::Error.
  static Socket connect_unix(const std::string& path, double timeout_s);
  /// Connects to HOST:PORT (IPv4 or IPv6 by name resolution) with TCP_NODELAY, retrying
  /// until `timeout_s`. Throws mmtp::Error.
  static Socket connect_inet(const std::string& host, int port, double timeout_s);
  /// Adopts a connected descriptor (tests use one end of socketpair()).
  static Socket adopt(int fd);

  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();

  /// Reads exactly n bytes. When `eof_ok` and the peer closed before the first byte, returns
  /// false. EOF after the first byte, or no byte within the read timeout, throws ProtocolError
  /// naming `what`; a stop request throws mmtp::Stopped.
  bool read_exact(void* buf, std::size_t n, const char* what, bool eof_ok = false);
  /// Writes all n bytes (one send where the kernel allows). Throws mmtp::Error.
  void write_all(const void* buf, std::size_t n);
  int fd() const { return fd_; }
  /// Microseconds to busy-poll for data before sleeping (0 = never spin).
  void set_busy_poll_us(int us) { busy_poll_us_ = us < 0 ? 0 : us; }
  /// Seconds a read may wait for the next byte before it throws ProtocolError (0 = forever,
  /// the default: an i-PI server may be busy with other clients for as long as it likes).
  void set_read_timeout(double seconds) { read_timeout_s_ = seconds > 0 ? seconds : 0; }

 private:
  explicit Socket(int fd, bool tcp) : fd_(fd), tcp_(tcp) {}
  /// Waits until data is readable and receives what is available into the buffer; returns
  /// false on EOF. `what` names the awaited message for the timeout error.
  bool fill(const char* what);
  int fd_ = -1;
  bool tcp_ = false;
  int busy_poll_us_ = 0;
  double read_timeout_s_ = 0;
  std::vector<char> buffer_ = std::vector<char>(1 << 16);
  std::size_t head_ = 0, tail_ = 0;  ///< unread bytes are buffer_[head_, tail_)
};

}  // namespace mmtp::ipi
