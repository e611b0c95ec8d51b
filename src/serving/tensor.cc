#include "serving/tensor.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "core/resource.h"
#include "core/text.h"

namespace skiff::serving {
namespace {

using Json = nlohmann::json;

struct TypeInfo {
  DataType type;
  const char* name;
  size_t size;
};
constexpr TypeInfo kTypes[] = {
    {DataType::kBool, "BOOL", 1},     {DataType::kUint8, "UINT8", 1},
    {DataType::kUint16, "UINT16", 2}, {DataType::kUint32, "UINT32", 4},
    {DataType::kUint64, "UINT64", 8}, {DataType::kInt8, "INT8", 1},
    {DataType::kInt16, "INT16", 2},   {DataType::kInt32, "INT32", 4},
    {DataType::kInt64, "INT64", 8},   {DataType::kFp16, "FP16", 2},
    {DataType::kFp32, "FP32", 4},     {DataType::kFp64, "FP64", 8},
    {DataType::kBf16, "BF16", 2},     {DataType::kBytes, "BYTES", 0},
};

const TypeInfo& Info(DataType type) { return kTypes[static_cast<size_t>(type)]; }

template <typename T>
void Put(std::string& out, T value) {
  char buf[sizeof(T)];
  std::memcpy(buf, &value, sizeof(T));
  out.append(buf, sizeof(T));
}

template <typename T>
T Get(const std::string& raw, size_t i) {
  T value;
  std::memcpy(&value, raw.data() + i * sizeof(T), sizeof(T));
  return value;
}

bool IsSigned(DataType t) {
  return t == DataType::kInt8 || t == DataType::kInt16 || t == DataType::kInt32 ||
         t == DataType::kInt64;
}
bool IsUnsigned(DataType t) {
  return t == DataType::kUint8 || t == DataType::kUint16 || t == DataType::kUint32 ||
         t == DataType::kUint64;
}

// Appends one JSON element of `type` to `out`; false (with `why`) when it does not fit the type.
bool AppendElement(const Json& v, DataType type, std::string& raw, std::vector<std::string>& bytes,
                   std::string& why) {
  switch (type) {
    case DataType::kBool:
      if (!v.is_boolean()) break;
      raw.push_back(v.get<bool>() ? 1 : 0);
      return true;
    case DataType::kBytes:
      if (!v.is_string()) break;
      bytes.push_back(v.get<std::string>());
      return true;
    case DataType::kFp16:
    case DataType::kFp32:
    case DataType::kFp64:
    case DataType::kBf16: {
      if (!v.is_number()) break;
      double d = v.get<double>();
      if (type == DataType::kFp64) Put(raw, d);
      if (type == DataType::kFp32) Put(raw, static_cast<float>(d));
      if (type == DataType::kFp16) Put(raw, FloatToHalf(static_cast<float>(d)));
      if (type == DataType::kBf16) Put(raw, FloatToBf16(static_cast<float>(d)));
      return true;
    }
    default: {
      if (!v.is_number_integer()) break;
      size_t size = Info(type).size;
      if (IsSigned(type)) {
        if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)) {
          why = "out of the range of " + std::string(Info(type).name);
          return false;
        }
        int64_t n = v.get<int64_t>();
        int64_t lo = size == 8 ? INT64_MIN : -(int64_t{1} << (size * 8 - 1));
        int64_t hi = size == 8 ? INT64_MAX : (int64_t{1} << (size * 8 - 1)) - 1;
        if (n < lo || n > hi) {
          why = std::to_string(n) + " is out of the range of " + Info(type).name;
          return false;
        }
        if (size == 1) Put(raw, static_cast<int8_t>(n));
        if (size == 2) Put(raw, static_cast<int16_t>(n));
        if (size == 4) Put(raw, static_cast<int32_t>(n));
        if (size == 8) Put(raw, n);
        return true;
      }
      if (IsUnsigned(type)) {
        if (!v.is_number_unsigned()) {
          why = v.dump() + " is out of the range of " + Info(type).name;
          return false;
        }
        uint64_t n = v.get<uint64_t>();
        if (size < 8 && n > (uint64_t{1} << (size * 8)) - 1) {
          why = std::to_string(n) + " is out of the range of " + Info(type).name;
          return false;
        }
        if (size == 1) Put(raw, static_cast<uint8_t>(n));
        if (size == 2) Put(raw, static_cast<uint16_t>(n));
        if (size == 4) Put(raw, static_cast<uint32_t>(n));
        if (size == 8) Put(raw, n);
        return true;
      }
    }
  }
  const char* want = type == DataType::kBool              ? "a boolean"
                     : type == DataType::kBytes           ? "a string"
                     : IsSigned(type) || IsUnsigned(type) ? "an integer"
                                                          : "a number";
  why = std::string("expected ") + want + " for " + Info(type).name + ", got " +
        std::string(v.type_name());
  return false;
}

// Flattens nested JSON arrays row-major into the tensor, refusing more than `limit` elements.
Status AppendData(const Json& data, Tensor& t, int64_t limit, const std::string& field) {
  if (!data.is_array()) {
    std::string why;
    if (static_cast<int64_t>(t.datatype == DataType::kBytes
                                 ? t.bytes.size()
                                 : t.raw.size() / DataTypeSize(t.datatype)) >= limit) {
      return InvalidArgument(field + ": more elements than the shape has (" +
                             std::to_string(limit) + ")");
    }
    if (!AppendElement(data, t.datatype, t.raw, t.bytes, why)) {
      return InvalidArgument(field + ": " + why);
    }
    return Status::Ok();
  }
  for (const Json& item : data) RETURN_IF_ERROR(AppendData(item, t, limit, field));
  return Status::Ok();
}

Result<std::vector<int64_t>> ReadShape(const Json& shape, const std::string& field) {
  if (!shape.is_array()) return InvalidArgument(field + ": expected an array of integers");
  std::vector<int64_t> out;
  int64_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    const Json& d = shape[i];
    if (!d.is_number_integer() || (!d.is_number_unsigned() && d.get<int64_t>() < 0)) {
      return InvalidArgument(field + "[" + std::to_string(i) +
                             "]: expected a non-negative integer, got " + d.dump());
    }
    if (d.is_number_unsigned() && d.get<uint64_t>() > uint64_t(kMaxElements)) {
      return InvalidArgument(field + ": more than " + std::to_string(kMaxElements) + " elements");
    }
    int64_t n = d.get<int64_t>();
    if (n != 0 && count > kMaxElements / n) {
      return InvalidArgument(field + ": more than " + std::to_string(kMaxElements) + " elements");
    }
    count *= n;
    out.push_back(n);
  }
  return out;
}

// Reads `size` bytes of binary tensor data into t.
Status ReadBinary(std::string_view data, Tensor& t, const std::string& field) {
  int64_t count = t.ElementCount();
  if (t.datatype != DataType::kBytes) {
    size_t want = static_cast<size_t>(count) * DataTypeSize(t.datatype);
    if (data.size() != want) {
      return InvalidArgument(field + ": binary_data_size is " + std::to_string(data.size()) +
                             " bytes, but shape and datatype make " + std::to_string(want));
    }
    t.raw.assign(data);
    return Status::Ok();
  }
  size_t pos = 0;
  while (pos < data.size()) {
    if (data.size() - pos < 4) {
      return InvalidArgument(field + ": BYTES element " + std::to_string(t.bytes.size()) +
                             " is truncated (its 4-byte length is cut off)");
    }
    uint32_t len;
    std::memcpy(&len, data.data() + pos, 4);
    pos += 4;
    if (data.size() - pos < len) {
      return InvalidArgument(field + ": BYTES element " + std::to_string(t.bytes.size()) +
                             " says " + std::to_string(len) + " bytes, but only " +
                             std::to_string(data.size() - pos) + " are left");
    }
    if (static_cast<int64_t>(t.bytes.size()) >= count) {
      return InvalidArgument(field + ": more BYTES elements than the shape has (" +
                             std::to_string(count) + ")");
    }
    t.bytes.emplace_back(data.substr(pos, len));
    pos += len;
  }
  if (static_cast<int64_t>(t.bytes.size()) != count) {
    return InvalidArgument(field + ": " + std::to_string(t.bytes.size()) +
                           " BYTES elements, but the shape has " + std::to_string(count));
  }
  return Status::Ok();
}

Result<Json> ObjectOrEmpty(const Json& obj, const char* key, const std::string& field) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Json::object();
  if (!it->is_object()) return InvalidArgument(field + ": expected an object");
  return *it;
}

// The binary_data_size parameter, when set.
Result<std::optional<size_t>> BinarySize(const Json& params, const std::string& field) {
  auto it = params.find("binary_data_size");
  if (it == params.end()) return std::optional<size_t>();
  if (!it->is_number_unsigned()) {
    return InvalidArgument(field + ".binary_data_size: expected a non-negative integer");
  }
  return std::optional<size_t>(it->get<uint64_t>());
}

}  // namespace

std::optional<DataType> ParseDataType(std::string_view name) {
  for (const TypeInfo& t : kTypes) {
    if (name == t.name) return t.type;
  }
  return std::nullopt;
}

const char* DataTypeName(DataType type) { return Info(type).name; }
size_t DataTypeSize(DataType type) { return Info(type).size; }

int64_t Tensor::ElementCount() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Result<std::vector<double>> Tensor::ToDoubles() const {
  if (datatype == DataType::kBytes) {
    return InvalidArgument("input " + name + " is BYTES; a numeric tensor is needed");
  }
  size_t n = raw.size() / DataTypeSize(datatype);
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    switch (datatype) {
      case DataType::kBool:
        out[i] = raw[i] != 0 ? 1 : 0;
        break;
      case DataType::kUint8:
        out[i] = Get<uint8_t>(raw, i);
        break;
      case DataType::kUint16:
        out[i] = Get<uint16_t>(raw, i);
        break;
      case DataType::kUint32:
        out[i] = Get<uint32_t>(raw, i);
        break;
      case DataType::kUint64:
        out[i] = static_cast<double>(Get<uint64_t>(raw, i));
        break;
      case DataType::kInt8:
        out[i] = Get<int8_t>(raw, i);
        break;
      case DataType::kInt16:
        out[i] = Get<int16_t>(raw, i);
        break;
      case DataType::kInt32:
        out[i] = Get<int32_t>(raw, i);
        break;
      case DataType::kInt64:
        out[i] = static_cast<double>(Get<int64_t>(raw, i));
        break;
      case DataType::kFp16:
        out[i] = HalfToFloat(Get<uint16_t>(raw, i));
        break;
      case DataType::kBf16:
        out[i] = Bf16ToFloat(Get<uint16_t>(raw, i));
        break;
      case DataType::kFp32:
        out[i] = Get<float>(raw, i);
        break;
      case DataType::kFp64:
        out[i] = Get<double>(raw, i);
        break;
      case DataType::kBytes:
        break;
    }
  }
  return out;
}

Result<std::vector<float>> Tensor::ToFloats() const {
  if (datatype == DataType::kFp32) {
    std::vector<float> out(raw.size() / 4);
    if (!out.empty()) std::memcpy(out.data(), raw.data(), raw.size());
    return out;
  }
  ASSIGN_OR_RETURN(std::vector<double> d, ToDoubles());
  return std::vector<float>(d.begin(), d.end());
}

Json Tensor::DataJson() const {
  Json out = Json::array();
  if (datatype == DataType::kBytes) {
    for (const std::string& b : bytes) out.push_back(b);
    return out;
  }
  if (datatype == DataType::kBool) {
    for (char c : raw) out.push_back(c != 0);
    return out;
  }
  size_t n = raw.size() / DataTypeSize(datatype);
  for (size_t i = 0; i < n; ++i) {
    switch (datatype) {
      case DataType::kUint8:
        out.push_back(Get<uint8_t>(raw, i));
        break;
      case DataType::kUint16:
        out.push_back(Get<uint16_t>(raw, i));
        break;
      case DataType::kUint32:
        out.push_back(Get<uint32_t>(raw, i));
        break;
      case DataType::kUint64:
        out.push_back(Get<uint64_t>(raw, i));
        break;
      case DataType::kInt8:
        out.push_back(Get<int8_t>(raw, i));
        break;
      case DataType::kInt16:
        out.push_back(Get<int16_t>(raw, i));
        break;
      case DataType::kInt32:
        out.push_back(Get<int32_t>(raw, i));
        break;
      case DataType::kInt64:
        out.push_back(Get<int64_t>(raw, i));
        break;
      case DataType::kFp16:
        out.push_back(HalfToFloat(Get<uint16_t>(raw, i)));
        break;
      case DataType::kBf16:
        out.push_back(Bf16ToFloat(Get<uint16_t>(raw, i)));
        break;
      case DataType::kFp32:
        out.push_back(Get<float>(raw, i));
        break;
      case DataType::kFp64:
        out.push_back(Get<double>(raw, i));
        break;
      case DataType::kBool:
      case DataType::kBytes:
        break;
    }
  }
  return out;
}

Tensor Tensor::Fp32(std::string name, std::vector<int64_t> shape, const std::vector<float>& v) {
  Tensor t{.name = std::move(name), .datatype = DataType::kFp32, .shape = std::move(shape)};
  t.raw.assign(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  return t;
}

Tensor Tensor::Bytes(std::string name, std::vector<int64_t> shape, std::vector<std::string> v) {
  Tensor t{.name = std::move(name), .datatype = DataType::kBytes, .shape = std::move(shape)};
  t.bytes = std::move(v);
  return t;
}

Result<InferRequest> DecodeInferRequest(std::string_view body,
                                        std::optional<size_t> header_length) {
  size_t json_size = body.size();
  if (header_length) {
    if (*header_length > body.size()) {
      return InvalidArgument("Inference-Header-Content-Length is " +
                             std::to_string(*header_length) + ", but the body has only " +
                             std::to_string(body.size()) + " bytes");
    }
    json_size = *header_length;
  }
  Result<Json> parsed = ParseJson(std::string(body.substr(0, json_size)), "inference request");
  if (!parsed.ok()) return InvalidArgument(parsed.status().message());
  const Json& doc = *parsed;
  if (!doc.is_object()) return InvalidArgument("the inference request must be a JSON object");

  InferRequest req;
  if (auto it = doc.find("id"); it != doc.end() && !it->is_null()) {
    if (!it->is_string()) return InvalidArgument("id: expected a string");
    req.id = it->get<std::string>();
  }
  ASSIGN_OR_RETURN(req.parameters, ObjectOrEmpty(doc, "parameters", "parameters"));
  if (auto it = req.parameters.find("binary_data_output"); it != req.parameters.end()) {
    if (!it->is_boolean())
      return InvalidArgument("parameters.binary_data_output: expected a boolean");
    req.binary_outputs = it->get<bool>();
  }

  auto inputs = doc.find("inputs");
  if (inputs == doc.end()) return InvalidArgument("inputs: missing (the request has no inputs)");
  if (!inputs->is_array()) return InvalidArgument("inputs: expected an array");
  if (inputs->empty()) return InvalidArgument("inputs: empty (the request has no inputs)");

  size_t offset = json_size;  // where the next input's binary data starts
  for (size_t i = 0; i < inputs->size(); ++i) {
    const Json& in = (*inputs)[i];
    std::string field = "inputs[" + std::to_string(i) + "]";
    if (!in.is_object()) return InvalidArgument(field + ": expected an object");
    Tensor t;
    auto name = in.find("name");
    if (name == in.end()) return InvalidArgument(field + ".name: missing");
    if (!name->is_string()) return InvalidArgument(field + ".name: expected a string");
    t.name = name->get<std::string>();
    field = "inputs[" + std::to_string(i) + "] (" + t.name + ")";

    auto datatype = in.find("datatype");
    if (datatype == in.end()) return InvalidArgument(field + ".datatype: missing");
    if (!datatype->is_string()) return InvalidArgument(field + ".datatype: expected a string");
    std::optional<DataType> type = ParseDataType(datatype->get<std::string>());
    if (!type) {
      return InvalidArgument(field + ".datatype: unknown datatype " + datatype->dump() +
                             " (BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BF16, BYTES)");
    }
    t.datatype = *type;

    auto shape = in.find("shape");
    if (shape == in.end()) return InvalidArgument(field + ".shape: missing");
    ASSIGN_OR_RETURN(t.shape, ReadShape(*shape, field + ".shape"));
    ASSIGN_OR_RETURN(t.parameters, ObjectOrEmpty(in, "parameters", field + ".parameters"));
    int64_t count = t.ElementCount();

    ASSIGN_OR_RETURN(std::optional<size_t> binary_size,
                     BinarySize(t.parameters, field + ".parameters"));
    auto data = in.find("data");
    if (binary_size) {
      if (data != in.end()) {
        return InvalidArgument(field + ": has both data and parameters.binary_data_size");
      }
      if (!header_length) {
        return InvalidArgument(field +
                               ": binary_data_size is set, but the request has no "
                               "Inference-Header-Content-Length header");
      }
      if (*binary_size > body.size() - offset) {
        return InvalidArgument(field + ": binary_data_size is " + std::to_string(*binary_size) +
                               ", but only " + std::to_string(body.size() - offset) +
                               " bytes of binary data are left in the body");
      }
      RETURN_IF_ERROR(ReadBinary(body.substr(offset, *binary_size), t, field));
      offset += *binary_size;
      t.parameters.erase("binary_data_size");
    } else {
      if (data == in.end()) return InvalidArgument(field + ".data: missing");
      if (t.datatype != DataType::kBytes) {
        t.raw.reserve(static_cast<size_t>(std::min<int64_t>(count, 1 << 20)) *
                      DataTypeSize(t.datatype));
      }
      RETURN_IF_ERROR(AppendData(*data, t, count, field + ".data"));
      int64_t got = t.datatype == DataType::kBytes
                        ? static_cast<int64_t>(t.bytes.size())
                        : static_cast<int64_t>(t.raw.size() / DataTypeSize(t.datatype));
      if (got != count) {
        return InvalidArgument(field + ".data: " + std::to_string(got) +
                               " elements, but the shape has " + std::to_string(count));
      }
    }
    req.inputs.push_back(std::move(t));
  }
  if (offset != body.size()) {
    return InvalidArgument(std::to_string(body.size() - offset) +
                           " bytes of binary data follow the inputs that no input claims");
  }

  if (auto outputs = doc.find("outputs"); outputs != doc.end() && !outputs->is_null()) {
    if (!outputs->is_array()) return InvalidArgument("outputs: expected an array");
    for (size_t i = 0; i < outputs->size(); ++i) {
      const Json& out = (*outputs)[i];
      std::string field = "outputs[" + std::to_string(i) + "]";
      if (!out.is_object()) return InvalidArgument(field + ": expected an object");
      RequestedOutput r;
      auto name = out.find("name");
      if (name == out.end()) return InvalidArgument(field + ".name: missing");
      if (!name->is_string()) return InvalidArgument(field + ".name: expected a string");
      r.name = name->get<std::string>();
      ASSIGN_OR_RETURN(r.parameters, ObjectOrEmpty(out, "parameters", field + ".parameters"));
      r.binary = req.binary_outputs;
      if (auto b = r.parameters.find("binary_data"); b != r.parameters.end()) {
        if (!b->is_boolean()) {
          return InvalidArgument(field + ".parameters.binary_data: expected a boolean");
        }
        r.binary = b->get<bool>();
      }
      req.outputs.push_back(std::move(r));
    }
  }
  return req;
}

Result<EncodedResponse> EncodeInferResponse(const InferResponse& response,
                                            const InferRequest& request) {
  // Which outputs, in which order, and which of them as binary data.
  std::vector<std::pair<const Tensor*, bool>> chosen;
  if (request.outputs.empty()) {
    for (const Tensor& t : response.outputs) chosen.emplace_back(&t, request.binary_outputs);
  } else {
    for (size_t i = 0; i < request.outputs.size(); ++i) {
      const RequestedOutput& r = request.outputs[i];
      const Tensor* found = nullptr;
      for (const Tensor& t : response.outputs) {
        if (t.name == r.name) found = &t;
      }
      if (found == nullptr) {
        std::string names;
        for (const Tensor& t : response.outputs) names += (names.empty() ? "" : ", ") + t.name;
        return InvalidArgument("outputs[" + std::to_string(i) + "].name: the model has no output " +
                               Quote(r.name) + " (it has: " + names + ")");
      }
      chosen.emplace_back(found, r.binary);
    }
  }

  Json doc = {{"model_name", response.model_name}};
  if (!response.model_version.empty()) doc["model_version"] = response.model_version;
  if (!response.id.empty()) doc["id"] = response.id;
  if (!response.parameters.empty()) doc["parameters"] = response.parameters;
  Json outputs = Json::array();
  std::string binary;
  for (const auto& [t, as_binary] : chosen) {
    Json out = {{"name", t->name}, {"datatype", DataTypeName(t->datatype)}, {"shape", t->shape}};
    Json params = t->parameters.is_object() ? t->parameters : Json::object();
    if (as_binary) {
      size_t before = binary.size();
      if (t->datatype == DataType::kBytes) {
        for (const std::string& b : t->bytes) {
          Put(binary, static_cast<uint32_t>(b.size()));
          binary += b;
        }
      } else {
        binary += t->raw;
      }
      params["binary_data_size"] = binary.size() - before;
    } else {
      out["data"] = t->DataJson();
    }
    if (!params.empty()) out["parameters"] = std::move(params);
    outputs.push_back(std::move(out));
  }
  doc["outputs"] = std::move(outputs);
  EncodedResponse encoded;
  encoded.body = doc.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (!binary.empty() ||
      std::any_of(chosen.begin(), chosen.end(), [](const auto& c) { return c.second; })) {
    encoded.header_length = encoded.body.size();
    encoded.body += binary;
  }
  return encoded;
}

uint16_t FloatToHalf(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t exp = (x >> 23) & 0xff;
  uint32_t mant = x & 0x7fffff;
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00 | (mant ? 0x200 : 0));  // Inf/NaN
  int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00);  // overflow: Inf
  if (e <= 0) {                                              // subnormal or zero
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    int shift = 14 - e;
    uint32_t half = mant >> shift;
    uint32_t rest = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;  // may carry into Inf: correct
  return static_cast<uint16_t>(sign | half);
}

float HalfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0) {
    float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000 | (mant << 13));
  return std::bit_cast<float>(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

uint16_t FloatToBf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((x >> 16) | 0x40);  // NaN
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

float Bf16ToFloat(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

}  // namespace skiff::serving
