#include "core/tls_files.h"

#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/files.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"

namespace convgen {
namespace {

// Frees an OpenSSL object when it goes out of scope.
template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* object) const { Free(object); }
};
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;

// OpenSSL's reason for the last failure as " (reason)", or "".
std::string OpenSslReason() {
  const unsigned long error = ERR_get_error();
  ERR_clear_error();
  if (error == 0) return "";
  char text[256];
  ERR_error_string_n(error, text, sizeof(text));
  return absl::StrCat(" (", text, ")");
}

BioPtr MemoryBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// The first certificate of a PEM text, or null.
X509Ptr FirstCertificate(const std::string& pem) {
  return X509Ptr(PEM_read_bio_X509(MemoryBio(pem).get(), nullptr, nullptr, nullptr));
}

absl::Status Problem(const PemFile& file, absl::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat(file.flag, " ", file.path, ": ", what));
}

}  // namespace

absl::StatusOr<PemFile> ReadPemFile(absl::string_view flag, const std::string& path,
                                    absl::string_view kind) {
  absl::StatusOr<std::string> text = ReadRegularFile(path, kMaxPemFileBytes);
  if (!text.ok()) {  // "PATH: reason"
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", flag, " ", text.status().message()));
  }
  PemFile file{std::string(flag), path, *std::move(text)};
  if (!absl::StrContains(file.text, "-----BEGIN ") ||
      !absl::StrContains(file.text, absl::StrCat(kind, "-----"))) {
    return Problem(file,
                   absl::StrCat("not a PEM file with a ", kind, " (-----BEGIN ", kind, "-----)"));
  }
  return file;
}

absl::Status CheckCertificates(const PemFile& file) {
  if (FirstCertificate(file.text) == nullptr) {
    return Problem(file, absl::StrCat("no certificate can be read", OpenSslReason()));
  }
  return absl::OkStatus();
}

absl::Status CheckKeyPair(const PemFile& cert, const PemFile& key) {
  X509Ptr certificate = FirstCertificate(cert.text);
  if (certificate == nullptr) {
    return Problem(cert, absl::StrCat("no certificate can be read", OpenSslReason()));
  }
  // No passphrase callback: OpenSSL would prompt on the terminal.
  const auto no_passphrase = [](char*, int, int, void*) { return 0; };
  KeyPtr private_key(
      PEM_read_bio_PrivateKey(MemoryBio(key.text).get(), nullptr, no_passphrase, nullptr));
  if (private_key == nullptr) {
    return Problem(key, absl::StrCat("no private key can be read (an encrypted key is not "
                                     "supported)",
                                     OpenSslReason()));
  }
  if (X509_check_private_key(certificate.get(), private_key.get()) != 1) {
    ERR_clear_error();
    return Problem(key,
                   absl::StrCat("not the key of the certificate in ", cert.flag, " ", cert.path));
  }
  return absl::OkStatus();
}

}  // namespace convgen
