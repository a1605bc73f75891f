#include "server/listen_address.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace convgen {
namespace {

absl::Status BadAddress(absl::string_view flag, absl::string_view address, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " \"", address, "\": ", why));
}

// Closes a descriptor when it goes out of scope.
struct ScopedFd {
  int fd;
  ~ScopedFd() {
    if (fd >= 0) close(fd);
  }
};

std::string Reason(int error) {
  if (error == EADDRINUSE) return "address in use (another server is listening on it)";
  if (error == EADDRNOTAVAIL) return "no interface of this host has that address";
  if (error == EACCES) return "permission denied (ports below 1024 need privileges)";
  return std::strerror(error);
}

absl::Status ProbeUnix(absl::string_view purpose, absl::string_view flag,
                       const ListenAddress& address) {
  const auto cannot = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot ", purpose, " --", flag, " ", address.text, ": ", why));
  };
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, address.unix_path.data(), address.unix_path.size());
  const std::string directory =
      address.unix_path.find('/') == std::string::npos
          ? "."
          : address.unix_path.substr(0, std::max<size_t>(address.unix_path.rfind('/'), 1));
  if (access(directory.c_str(), W_OK | X_OK) != 0) {
    return cannot(absl::StrCat("directory ", directory, ": ", std::strerror(errno)));
  }
  struct stat st {};
  if (lstat(address.unix_path.c_str(), &st) == 0) {
    // gRPC replaces a socket file nobody accepts on, and fails on anything else.
    if (S_ISDIR(st.st_mode)) return cannot("is a directory");
    if (!S_ISSOCK(st.st_mode)) return cannot("a file that is not a socket is in the way");
    ScopedFd probe{socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (probe.fd < 0) return cannot(std::strerror(errno));
    if (connect(probe.fd, reinterpret_cast<const sockaddr*>(&sun), sizeof(sun)) == 0) {
      return cannot("address in use (another server is accepting on this socket)");
    }
    return absl::OkStatus();
  }
  // Nothing there yet: bind a socket there and remove it, which finds what
  // access() does not (root in /proc, a read-only file system).
  ScopedFd probe{socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (probe.fd < 0) return cannot(std::strerror(errno));
  if (bind(probe.fd, reinterpret_cast<const sockaddr*>(&sun), sizeof(sun)) != 0) {
    return cannot(std::strerror(errno));
  }
  unlink(address.unix_path.c_str());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view flag, absl::string_view address,
                                                 bool allow_unix, bool allow_port_zero) {
  const char* const rule =
      allow_unix ? "expected HOST:PORT (e.g. 0.0.0.0:50051, [::]:50051) or unix:/path"
                 : "expected HOST:PORT, IPv4 only (e.g. 0.0.0.0:9090, 127.0.0.1:9090)";
  ListenAddress parsed;
  parsed.text = std::string(address);
  if (address.empty()) return BadAddress(flag, address, absl::StrCat("empty; ", rule));
  if (absl::StartsWith(address, "unix:")) {
    if (!allow_unix) return BadAddress(flag, address, absl::StrCat("no unix sockets; ", rule));
    parsed.unix_path = std::string(address.substr(5));
    if (parsed.unix_path.empty()) return BadAddress(flag, address, "expected unix:/path");
    if (parsed.unix_path.size() >= sizeof(sockaddr_un::sun_path)) {
      return BadAddress(flag, address,
                        absl::StrCat("a unix socket path has at most ",
                                     sizeof(sockaddr_un::sun_path) - 1, " bytes"));
    }
    return parsed;
  }
  if (absl::StrContains(address, "://")) {
    return BadAddress(flag, address, absl::StrCat("no scheme; ", rule));
  }
  const char* const example_port = allow_unix ? "50051" : "9090";
  const size_t colon = address.rfind(':');
  const bool all_digits = std::all_of(address.begin(), address.end(), absl::ascii_isdigit);
  if (colon == absl::string_view::npos && all_digits) {
    return BadAddress(
        flag, address,
        absl::StrCat("no host; use HOST:PORT, e.g. 0.0.0.0:", address,
                     " for every interface or 127.0.0.1:", address, " for this host only"));
  }
  // "localhost", "127.0.0.1", "[::1]": a host without a port.
  if (colon == absl::string_view::npos ||
      (absl::StartsWith(address, "[") && absl::EndsWith(address, "]"))) {
    return BadAddress(flag, address,
                      absl::StrCat("no port; use HOST:PORT, e.g. ", address, ":", example_port));
  }
  absl::string_view host = address.substr(0, colon);
  const absl::string_view port = address.substr(colon + 1);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  } else if (absl::StrContains(host, ':')) {
    return BadAddress(flag, address, "an IPv6 host goes in brackets: [::1]:PORT");
  }
  if (host.empty()) return BadAddress(flag, address, absl::StrCat("no host; ", rule));
  int port_number = 0;
  const int min_port = allow_port_zero ? 0 : 1;
  if (port.empty() || !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port, &port_number) || port_number < min_port || port_number > 65535) {
    return BadAddress(flag, address,
                      absl::StrCat("port \"", port, "\" is not a number from ", min_port,
                                   " to 65535", allow_port_zero ? " (0: any free port)" : ""));
  }
  parsed.host = std::string(host);
  parsed.port = port_number;
  return parsed;
}

absl::Status ProbeListenAddress(absl::string_view purpose, absl::string_view flag,
                                const ListenAddress& address) {
  if (!address.unix_path.empty()) return ProbeUnix(purpose, flag, address);
  if (address.port == 0) return absl::OkStatus();
  const auto cannot = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot ", purpose, " --", flag, " ", address.text, ": ", why));
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* resolved = nullptr;
  const std::string port = std::to_string(address.port);
  if (const int error = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &resolved);
      error != 0) {
    return cannot(
        absl::StrCat("cannot resolve host \"", address.host, "\": ", gai_strerror(error)));
  }
  // gRPC listens on every address the host resolves to and fails only if it
  // can bind none; a port in use on any of them is another server's.
  int bound = 0, first_error = 0;
  for (const addrinfo* a = resolved; a != nullptr; a = a->ai_next) {
    ScopedFd probe{socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol)};
    int error = 0;
    if (probe.fd < 0) {
      error = errno;
    } else {
      const int one = 1;
      setsockopt(probe.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (bind(probe.fd, a->ai_addr, a->ai_addrlen) != 0) error = errno;
    }
    if (error == 0) {
      ++bound;
    } else if (first_error == 0 || error == EADDRINUSE) {
      first_error = error;
    }
    if (error == EADDRINUSE) break;
  }
  freeaddrinfo(resolved);
  if (first_error == EADDRINUSE || bound == 0) return cannot(Reason(first_error));
  return absl::OkStatus();
}

}  // namespace convgen
