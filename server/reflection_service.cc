#include "server/reflection_service.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

namespace convgen {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

// `file` and every file it imports (transitively), each once, as serialized
// FileDescriptorProtos: what a client needs to decode the types it asked for.
void AddFileWithDependencies(const FileDescriptor* file, ServerReflectionResponse* response) {
  absl::flat_hash_set<const FileDescriptor*> seen = {file};
  std::vector<const FileDescriptor*> pending = {file};
  auto* files = response->mutable_file_descriptor_response();
  while (!pending.empty()) {
    const FileDescriptor* next = pending.back();
    pending.pop_back();
    google::protobuf::FileDescriptorProto proto;
    next->CopyTo(&proto);
    proto.SerializeToString(files->add_file_descriptor_proto());
    for (int i = 0; i < next->dependency_count(); ++i) {
      if (seen.insert(next->dependency(i)).second) pending.push_back(next->dependency(i));
    }
  }
}

void SetError(absl::Status status, ServerReflectionResponse* response) {
  auto* error = response->mutable_error_response();
  error->set_error_code(static_cast<int>(status.code()));
  error->set_error_message(std::string(status.message()));
}

// The largest name a request carries (file, symbol, type or host).
size_t LongestName(const ServerReflectionRequest& request) {
  return std::max({request.host().size(), request.file_by_filename().size(),
                   request.file_containing_symbol().size(),
                   request.file_containing_extension().containing_type().size(),
                   request.all_extension_numbers_of_type().size()});
}

// One ServerReflectionInfo stream: read a request, write its answer, read
// the next; so one message in flight and a fresh reply for each request.
class ReflectionReactor
    : public grpc::ServerBidiReactor<ServerReflectionRequest, ServerReflectionResponse> {
 public:
  explicit ReflectionReactor(const ReflectionService* service) : service_(service) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed, or the call is over
      Finish(grpc::Status::OK);
      return;
    }
    response_.Clear();  // gRPC 1.51's plugin lacks this: its replies accumulate
    service_->Answer(request_, &response_);
    StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  const ReflectionService* service_;
  ServerReflectionRequest request_;
  ServerReflectionResponse response_;
};

}  // namespace

ReflectionService::ReflectionService(std::vector<std::string> services)
    : services_(std::move(services)) {}

grpc::ServerBidiReactor<ServerReflectionRequest, ServerReflectionResponse>*
ReflectionService::ServerReflectionInfo(grpc::CallbackServerContext*) {
  return new ReflectionReactor(this);
}

void ReflectionService::Answer(const ServerReflectionRequest& request,
                               ServerReflectionResponse* response) const {
  if (LongestName(request) > kMaxNameBytes) {
    SetError(absl::InvalidArgumentError(
                 absl::StrCat("names are at most ", kMaxNameBytes, " bytes long")),
             response);
    return;
  }
  response->set_valid_host(request.host());
  *response->mutable_original_request() = request;
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  switch (request.message_request_case()) {
    case ServerReflectionRequest::kListServices:
      for (const std::string& name : services_) {
        response->mutable_list_services_response()->add_service()->set_name(name);
      }
      return;
    case ServerReflectionRequest::kFileByFilename:
      if (const FileDescriptor* file = pool->FindFileByName(request.file_by_filename())) {
        AddFileWithDependencies(file, response);
      } else {
        SetError(absl::NotFoundError(absl::StrCat("no file ", request.file_by_filename())),
                 response);
      }
      return;
    case ServerReflectionRequest::kFileContainingSymbol:
      if (const FileDescriptor* file =
              pool->FindFileContainingSymbol(request.file_containing_symbol())) {
        AddFileWithDependencies(file, response);
      } else {
        SetError(absl::NotFoundError(absl::StrCat("no symbol ", request.file_containing_symbol())),
                 response);
      }
      return;
    case ServerReflectionRequest::kFileContainingExtension: {
      const auto& extension = request.file_containing_extension();
      const auto* type = pool->FindMessageTypeByName(extension.containing_type());
      const auto* field = type == nullptr
                              ? nullptr
                              : pool->FindExtensionByNumber(type, extension.extension_number());
      if (field != nullptr) {
        AddFileWithDependencies(field->file(), response);
      } else {
        SetError(absl::NotFoundError(absl::StrCat("no extension ", extension.extension_number(),
                                                  " of ", extension.containing_type())),
                 response);
      }
      return;
    }
    case ServerReflectionRequest::kAllExtensionNumbersOfType: {
      const std::string& name = request.all_extension_numbers_of_type();
      const auto* type = pool->FindMessageTypeByName(name);
      if (type == nullptr) {
        SetError(absl::NotFoundError(absl::StrCat("no message type ", name)), response);
        return;
      }
      std::vector<const google::protobuf::FieldDescriptor*> extensions;
      pool->FindAllExtensions(type, &extensions);
      auto* numbers = response->mutable_all_extension_numbers_response();
      numbers->set_base_type_name(name);
      for (const auto* field : extensions) numbers->add_extension_number(field->number());
      return;
    }
    case ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
      SetError(absl::InvalidArgumentError("the request names no question"), response);
      return;
  }
}

}  // namespace convgen
