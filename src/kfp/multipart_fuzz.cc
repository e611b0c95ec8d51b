// Fuzz target: the multipart/form-data reader of pipeline uploads (kfp/kfp_api.h,
// MultipartField).
//
// The input is a Content-Type header value, a newline, then the request body. For any input,
// MultipartField returns the part's content or an error; it never crashes, throws or hangs. What
// it returns is a piece of the body.
//
//   build/fuzz/multipart_fuzz -dict=src/kfp/fuzz_corpus/multipart.dict \
//       build/fuzz/multipart/corpus src/kfp/fuzz_corpus/multipart
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/testing/fuzz_check.h"
#include "kfp/kfp_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  if (newline == std::string::npos) return 0;
  const std::string content_type = input.substr(0, newline);
  const std::string body = input.substr(newline + 1);
  std::string filename;
  skiff::Result<std::string> file =
      skiff::MultipartField(content_type, body, "uploadfile", &filename);
  if (!file.ok()) return 0;
  skiff::FuzzCheck("multipart_fuzz", body.find(*file) != std::string::npos,
                   "the part returned is not in the body", *file);
  skiff::FuzzCheck("multipart_fuzz", filename.size() <= body.size(),
                   "the file name is longer than the body", filename);
  return 0;
}
