// Fuzz target: request bodies in the Kubernetes protobuf encoding (core/kube_protobuf.h).
//
// For any bytes, DecodeKubeProtobuf returns an object or InvalidArgument (never crashes, throws
// or hangs), and an object it returns serializes as JSON.
//
//   build/fuzz/kube_protobuf_fuzz build/fuzz/kube_protobuf/corpus \
//       src/core/fuzz_corpus/kube_protobuf
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/kube_protobuf.h"
#include "core/testing/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  skiff::Result<skiff::Json> obj = skiff::DecodeKubeProtobuf(input);
  if (!obj.ok()) {
    skiff::FuzzCheck(
        "kube_protobuf_fuzz", obj.status().code() == skiff::StatusCode::kInvalidArgument,
        "a body was refused with a code other than InvalidArgument", obj.status().ToString());
    return 0;
  }
  skiff::FuzzCheck("kube_protobuf_fuzz", obj->is_object(), "a decoded body is not an object");
  (void)obj->dump(-1, ' ', false, skiff::Json::error_handler_t::replace);
  return 0;
}
