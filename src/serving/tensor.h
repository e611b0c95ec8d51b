// Tensors of the Open Inference Protocol (KServe's V2 protocol) and their REST encoding.
//
//   ASSIGN_OR_RETURN(InferRequest req, DecodeInferRequest(body, header_length));
//   ASSIGN_OR_RETURN(std::vector<float> x, req.inputs[0].ToFloats());
//   ...
//   EncodedResponse out = EncodeInferResponse(response, req);
//
// A tensor keeps its elements row-major: fixed-size datatypes as little-endian bytes (`raw`, what
// the binary data extension and gRPC's raw_input_contents carry), BYTES as one string per element.
// JSON `data` is read nested or flat, as the protocol allows, and checked against `shape` and
// `datatype` (a number out of an integer type's range, a string in a numeric tensor, a count that
// differs from the shape's are refused naming the input). Decoding errors are InvalidArgument with
// the field path ("inputs[1].shape"), which the server answers as 400 with the protocol's
// {"error": "..."} body.
//
// Value types; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace skiff::serving {

enum class DataType {
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kFp32,
  kFp64,
  kBf16,
  kBytes,
};

// "FP32" -> kFp32; nullopt for a name the protocol does not have.
std::optional<DataType> ParseDataType(std::string_view name);
const char* DataTypeName(DataType type);
// Bytes per element; 0 for BYTES (each element has its own length).
size_t DataTypeSize(DataType type);

// The most elements one tensor may have (shapes past it are refused before anything is allocated).
inline constexpr int64_t kMaxElements = int64_t{1} << 31;

struct Tensor {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;
  nlohmann::json parameters = nlohmann::json::object();
  std::string raw;                 // fixed-size datatypes: ElementCount() * DataTypeSize bytes
  std::vector<std::string> bytes;  // BYTES: one string per element

  // The product of the shape (1 for a scalar's empty shape).
  int64_t ElementCount() const;
  // The elements as floats/doubles (BOOL as 0/1). InvalidArgument for BYTES.
  Result<std::vector<float>> ToFloats() const;
  Result<std::vector<double>> ToDoubles() const;
  // The elements as JSON values, flat, row-major (what the REST `data` field carries).
  nlohmann::json DataJson() const;

  // A tensor of floats or strings with this shape (elements row-major).
  static Tensor Fp32(std::string name, std::vector<int64_t> shape, const std::vector<float>& v);
  static Tensor Bytes(std::string name, std::vector<int64_t> shape, std::vector<std::string> v);
};

// An output the client asked for by name, and whether it wants it as binary data.
struct RequestedOutput {
  std::string name;
  nlohmann::json parameters = nlohmann::json::object();
  bool binary = false;
};

struct InferRequest {
  std::string id;
  nlohmann::json parameters = nlohmann::json::object();
  std::vector<Tensor> inputs;
  std::vector<RequestedOutput> outputs;  // empty: every output
  bool binary_outputs = false;           // parameters.binary_data_output
};

struct InferResponse {
  std::string model_name;
  std::string model_version;
  std::string id;
  nlohmann::json parameters = nlohmann::json::object();
  std::vector<Tensor> outputs;
};

// Reads an inference request body. `header_length` is the Inference-Header-Content-Length header
// when sent: the JSON is the body's first header_length bytes and the binary tensor data follows,
// in the order of the inputs that declare parameters.binary_data_size.
Result<InferRequest> DecodeInferRequest(std::string_view body, std::optional<size_t> header_length);

struct EncodedResponse {
  std::string body;
  // Set when some output is sent as binary data: the length of the JSON part (the
  // Inference-Header-Content-Length header); the body is then application/octet-stream.
  std::optional<size_t> header_length;
};
// Writes a response, keeping only the outputs `request` asked for (all when it named none; an
// unknown name is InvalidArgument) and sending as binary data those it asked so for.
Result<EncodedResponse> EncodeInferResponse(const InferResponse& response,
                                            const InferRequest& request);

// Half-precision conversions (IEEE binary16 and bfloat16), round to nearest even.
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);
uint16_t FloatToBf16(float f);
float Bf16ToFloat(uint16_t b);

}  // namespace skiff::serving
