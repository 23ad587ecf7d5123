#include "mmtp/ipi/socket.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

#include "mmtp/error.hpp"

namespace mmtp::ipi {
namespace {

using Clock = std::chrono::steady_clock;
volatile std::sig_atomic_t stop_flag = 0;

/// Retries `attempt` (returning a connected fd or −1 with errno) until the deadline.
template <class F>
int retry_connect(const std::string& what, double timeout_s, F attempt) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (true) {
    const int fd = attempt();
    if (fd >= 0) return fd;
    const int err = errno;
    if (stop_requested()) throw Stopped("stopped while connecting");
    if (std::chrono::steady_clock::now() >= deadline)
      throw Error(fmt::format("cannot connect to {} within {} s: {}", what, timeout_s, std::strerror(err)));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

void request_stop() { stop_flag = 1; }
bool stop_requested() { return stop_flag != 0; }

std::string unix_socket_path(const std::string& name) {
  if (name.empty()) throw Error("empty UNIX socket name");
  const std::string path = name.find('/') == std::string::npos ? "/tmp/ipi_" + name : name;
  if (path.size() > sizeof(sockaddr_un::sun_path) - 1)
    throw Error(fmt::format("UNIX socket path '{}' has {} bytes; the limit is {}", path, path.size(),
                            sizeof(sockaddr_un::sun_path) - 1));
  return path;
}

Socket Socket::connect_unix(const std::string& path, double timeout_s) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) throw Error(fmt::format("UNIX socket path '{}' is too long", path));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = retry_connect(path, timeout_s, [&] {
    const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    if (::connect(s, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) return s;
    const int err = errno;
    ::close(s);
    errno = err;
    return -1;
  });
  return Socket(fd, false);
}

Socket Socket::connect_inet(const std::string& host, int port, double timeout_s) {
  if (port < 1 || port > 65535) throw Error(fmt::format("TCP port {} is not in 1..65535", port));
  const std::string what = fmt::format("{}:{}", host, port);
  const int fd = retry_connect(what, timeout_s, [&] {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (rc != 0) {
      if (rc == EAI_NONAME) throw Error(fmt::format("cannot resolve host '{}': {}", host, ::gai_strerror(rc)));
      errno = EAGAIN;
      return -1;
    }
    int connected = -1, err = ECONNREFUSED;
    for (addrinfo* a = res; a && connected < 0; a = a->ai_next) {
      const int s = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (s < 0) continue;
      if (::connect(s, a->ai_addr, a->ai_addrlen) == 0) connected = s;
      else {
        err = errno;
        ::close(s);
      }
    }
    ::freeaddrinfo(res);
    errno = err;
    return connected;
  });
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return Socket(fd, true);
}

Socket Socket::adopt(int fd) { return Socket(fd, false); }

Socket::Socket(Socket&& other) noexcept
    : fd_(other.fd_), tcp_(other.tcp_), busy_poll_us_(other.busy_poll_us_), read_timeout_s_(other.read_timeout_s_),
      buffer_(std::move(other.buffer_)),
      head_(other.head_), tail_(other.tail_) {
  other.fd_ = -1;
}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    tcp_ = other.tcp_;
    busy_poll_us_ = other.busy_poll_us_;
    read_timeout_s_ = other.read_timeout_s_;
    buffer_ = std::move(other.buffer_);
    head_ = other.head_;
    tail_ = other.tail_;
    other.fd_ = -1;
  }
  return *this;
}

Socket::~Socket() {
  if (fd_ >= 0) ::close(fd_);
}

bool Socket::fill(const char* what) {
  const auto start = Clock::now();
  const auto spin_end = start + std::chrono::microseconds(busy_poll_us_);
  bool spinning = busy_poll_us_ > 0;
  while (true) {
    if (stop_requested()) throw Stopped("stopped by a signal");
#ifdef TCP_QUICKACK
    // ASE's server writes with Nagle on; without an immediate ACK each call stalls ~40 ms.
    if (tcp_) {
      const int one = 1;
      ::setsockopt(fd_, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
    }
#endif
    const ssize_t r = ::recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (r > 0) {
      head_ = 0;
      tail_ = static_cast<std::size_t>(r);
      return true;
    }
    if (r == 0) return false;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      throw Error(fmt::format("socket read failed: {}", std::strerror(errno)));
    if (spinning && Clock::now() < spin_end) continue;
    spinning = false;
    if (read_timeout_s_ > 0 && Clock::now() - start >= std::chrono::duration<double>(read_timeout_s_))
      throw ProtocolError(fmt::format("no data from the server for {} s while waiting for {} (read timeout)", read_timeout_s_, what));
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 200) < 0 && errno != EINTR) throw Error(fmt::format("socket poll failed: {}", std::strerror(errno)));
  }
}

bool Socket::read_exact(void* buf, std::size_t n, const char* what, bool eof_ok) {
  auto* p = static_cast<char*>(buf);
  std::size_t got = 0;
  while (got < n) {
    if (head_ == tail_ && !fill(what)) {
      if (got == 0 && eof_ok) return false;
      throw ProtocolError(fmt::format("connection closed inside {} ({} of {} bytes read)", what, got, n));
    }
    const std::size_t take = std::min(n - got, tail_ - head_);
    std::memcpy(p + got, buffer_.data() + head_, take);
    head_ += take;
    got += take;
  }
  return true;
}

void Socket::write_all(const void* buf, std::size_t n) {
  const auto* p = static_cast<const char*>(buf);
  std::size_t sent = 0;
  while (sent < n) {
    const ssize_t w = ::send(fd_, p + sent, n - sent, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw Error(fmt::format("socket write failed: {}", std::strerror(errno)));
    }
    sent += static_cast<std::size_t>(w);
  }
}

}  // namespace mmtp::ipi
