// The PEM files of a TLS setup (a certificate, its private key, a CA),
// read and checked the way OpenSSL will read them, so that a wrong file is
// named at start. gRPC takes any bytes and fails later without naming the
// file: at bind, at each handshake, or as "empty address list" on a client.
//
// Every error is FailedPrecondition with a message naming the flag and the
// file ("--tls-key key.pem: not the key of the certificate in --tls-cert
// cert.pem").
#ifndef CONVGEN_CORE_TLS_FILES_H_
#define CONVGEN_CORE_TLS_FILES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convgen {

// The largest PEM file read (a certificate chain is a few KiB).
inline constexpr int64_t kMaxPemFileBytes = int64_t{1} << 20;

// A PEM file given to a flag: `flag` as typed ("--tls-cert"), its path, and
// the text.
struct PemFile {
  std::string flag;
  std::string path;
  std::string text;
};

// Reads the regular file `path` given to `flag`, which must hold a PEM block
// of `kind` ("CERTIFICATE", "PRIVATE KEY": "-----BEGIN RSA PRIVATE KEY-----"
// counts as one).
absl::StatusOr<PemFile> ReadPemFile(absl::string_view flag, const std::string& path,
                                    absl::string_view kind);

// At least one certificate of `file` parses.
absl::Status CheckCertificates(const PemFile& file);

// `cert`'s first certificate parses, `key` holds an unencrypted private key
// that parses, and it is that certificate's key.
absl::Status CheckKeyPair(const PemFile& cert, const PemFile& key);

}  // namespace convgen

#endif  // CONVGEN_CORE_TLS_FILES_H_
