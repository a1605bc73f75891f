#include "server/grpc_status.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace convgen {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  // The message travels as the grpc-message trailer (percent-encoded, up to
  // three bytes per byte); clients refuse metadata over 8 KiB, so a longer
  // message would reach them as "metadata size exceeds limit" instead. Every
  // message already bounds what it echoes: this is the last line of defence.
  constexpr size_t kMaxMessageBytes = 2000;
  std::string message(status.message());
  if (message.size() > kMaxMessageBytes) {
    const size_t total = message.size();
    size_t cut = kMaxMessageBytes;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
    message.resize(cut);
    absl::StrAppend(&message, "\u2026(message cut, ", total, " bytes)");
  }
  // absl and gRPC share the canonical code numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::move(message));
}

}  // namespace convgen
