#include "serving/tensor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace skiff::serving {
namespace {

using ::testing::HasSubstr;

std::string Le32(uint32_t n) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &n, 4);
  return s;
}

TEST(TensorTest, ReadsNestedAndFlatDataOfEveryNumericType) {
  auto req = DecodeInferRequest(R"({"id": "r1", "inputs": [
      {"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2.5], [3, 4]]},
      {"name": "b", "shape": [3], "datatype": "INT8", "data": [-128, 0, 127]},
      {"name": "c", "shape": [2], "datatype": "UINT64", "data": [0, 18446744073709551615]},
      {"name": "d", "shape": [2], "datatype": "BOOL", "data": [true, false]},
      {"name": "e", "shape": [1], "datatype": "FP16", "data": [1.5]},
      {"name": "f", "shape": [1], "datatype": "BF16", "data": [-2]},
      {"name": "g", "shape": [2], "datatype": "BYTES", "data": ["x", ""]},
      {"name": "h", "shape": [], "datatype": "FP64", "data": 0.125}]})",
                                std::nullopt);
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(req->id, "r1");
  ASSERT_EQ(req->inputs.size(), 8u);
  EXPECT_EQ(*req->inputs[0].ToFloats(), (std::vector<float>{1, 2.5, 3, 4}));
  EXPECT_EQ(*req->inputs[1].ToDoubles(), (std::vector<double>{-128, 0, 127}));
  EXPECT_EQ(req->inputs[2].DataJson(), nlohmann::json::parse("[0, 18446744073709551615]"));
  EXPECT_EQ(req->inputs[3].DataJson(), nlohmann::json::parse("[true, false]"));
  EXPECT_EQ(*req->inputs[4].ToFloats(), std::vector<float>{1.5});
  EXPECT_EQ(*req->inputs[5].ToFloats(), std::vector<float>{-2});
  EXPECT_EQ(req->inputs[6].bytes, (std::vector<std::string>{"x", ""}));
  EXPECT_EQ(*req->inputs[7].ToDoubles(), std::vector<double>{0.125});
  EXPECT_FALSE(req->inputs[6].ToFloats().ok());
}

TEST(TensorTest, RefusesMalformedRequestsNamingTheField) {
  struct Case {
    const char* body;
    const char* message;
  } cases[] = {
      {R"([])", "must be a JSON object"},
      {R"({})", "inputs: missing"},
      {R"({"inputs": {}})", "inputs: expected an array"},
      {R"({"inputs": []})", "inputs: empty"},
      {R"({"inputs": [{"shape": [1], "datatype": "FP32", "data": [1]}]})",
       "inputs[0].name: missing"},
      {R"({"inputs": [{"name": "x", "datatype": "FP32", "data": [1]}]})", "(x).shape: missing"},
      {R"({"inputs": [{"name": "x", "shape": [1], "data": [1]}]})", "(x).datatype: missing"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP8", "data": [1]}]})",
       "unknown datatype"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]})", "(x).data: missing"},
      {R"({"inputs": [{"name": "x", "shape": [-1], "datatype": "FP32", "data": [1]}]})",
       "shape[0]: expected a non-negative integer"},
      {R"({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1]}]})",
       "1 elements, but the shape has 2"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1, 2]}]})",
       "more elements than the shape has"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": ["1"]}]})",
       "expected a number for FP32, got string"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "INT8", "data": [128]}]})",
       "128 is out of the range of INT8"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "UINT8", "data": [-1]}]})",
       "out of the range of UINT8"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": [1.5]}]})",
       "expected an integer"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "BOOL", "data": [1]}]})",
       "expected a boolean"},
      {R"({"inputs": [{"name": "x", "shape": [65536, 65536, 65536], "datatype": "FP32",
           "data": [1]}]})",
       "more than"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}],
           "outputs": [{"parameters": {}}]})",
       "outputs[0].name: missing"},
      {R"({"id": 5, "inputs": []})", "id: expected a string"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32",
           "parameters": {"binary_data_size": 4}}]})",
       "no Inference-Header-Content-Length"},
      {R"({"inputs": [)", "inference request"},
  };
  for (const Case& c : cases) {
    auto req = DecodeInferRequest(c.body, std::nullopt);
    ASSERT_FALSE(req.ok()) << c.body;
    EXPECT_EQ(req.status().code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_THAT(req.status().message(), HasSubstr(c.message)) << c.body;
  }
}

TEST(TensorTest, ReadsBinaryTensorData) {
  std::string json = R"({"inputs": [
      {"name": "x", "shape": [1, 2], "datatype": "FP32", "parameters": {"binary_data_size": 8}},
      {"name": "j", "shape": [1], "datatype": "INT64", "data": [7]},
      {"name": "s", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 11}}]})";
  float xs[2] = {1.25f, -3};
  std::string body =
      json + std::string(reinterpret_cast<const char*>(xs), 8) + Le32(3) + "abc" + Le32(0) + "";
  body.resize(body.size());  // 8 + 4+3 + 4+0 = 19 bytes of data; s claims 11
  auto req = DecodeInferRequest(body, json.size());
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(*req->inputs[0].ToFloats(), (std::vector<float>{1.25f, -3}));
  EXPECT_EQ(*req->inputs[1].ToDoubles(), std::vector<double>{7});
  EXPECT_EQ(req->inputs[2].bytes, (std::vector<std::string>{"abc", ""}));
  EXPECT_FALSE(req->inputs[0].parameters.contains("binary_data_size"));

  // Truncated, too long, and claimed by no input.
  auto truncated = DecodeInferRequest(body.substr(0, body.size() - 5), json.size());
  EXPECT_THAT(truncated.status().message(), HasSubstr("bytes of binary data are left"));
  auto extra = DecodeInferRequest(body + "zz", json.size());
  EXPECT_THAT(extra.status().message(), HasSubstr("2 bytes of binary data follow"));
  auto header = DecodeInferRequest(body, body.size() + 1);
  EXPECT_THAT(header.status().message(), HasSubstr("Inference-Header-Content-Length is"));

  // A BYTES element whose length runs past its data.
  std::string bad_json = R"({"inputs": [{"name": "s", "shape": [1], "datatype": "BYTES",
      "parameters": {"binary_data_size": 6}}]})";
  auto bad = DecodeInferRequest(bad_json + Le32(9) + "ab", bad_json.size());
  EXPECT_THAT(bad.status().message(), HasSubstr("says 9 bytes, but only 2 are left"));
  // A fixed-size tensor whose byte count does not fit its shape.
  std::string odd_json = R"({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32",
      "parameters": {"binary_data_size": 7}}]})";
  auto odd = DecodeInferRequest(odd_json + std::string(7, 'x'), odd_json.size());
  EXPECT_THAT(odd.status().message(), HasSubstr("shape and datatype make 8"));
}

TEST(TensorTest, WritesOutputsAsJsonOrBinaryAsAsked) {
  InferResponse resp{.model_name = "m", .id = "r"};
  resp.outputs.push_back(Tensor::Fp32("p", {2}, {0.5f, 1}));
  resp.outputs.push_back(Tensor::Bytes("label", {1}, {"cat"}));

  auto all_json = EncodeInferResponse(resp, InferRequest{});
  ASSERT_TRUE(all_json.ok());
  EXPECT_FALSE(all_json->header_length);
  auto doc = nlohmann::json::parse(all_json->body);
  EXPECT_EQ(doc["model_name"], "m");
  EXPECT_EQ(doc["id"], "r");
  EXPECT_EQ(doc["outputs"][0]["data"], nlohmann::json::parse("[0.5, 1.0]"));
  EXPECT_EQ(doc["outputs"][0]["shape"], nlohmann::json::parse("[2]"));
  EXPECT_EQ(doc["outputs"][1]["datatype"], "BYTES");

  InferRequest ask;
  ask.outputs.push_back({.name = "label", .binary = true});
  auto binary = EncodeInferResponse(resp, ask);
  ASSERT_TRUE(binary.ok());
  ASSERT_TRUE(binary->header_length);
  auto head = nlohmann::json::parse(binary->body.substr(0, *binary->header_length));
  ASSERT_EQ(head["outputs"].size(), 1u);
  EXPECT_EQ(head["outputs"][0]["parameters"]["binary_data_size"], 7);
  EXPECT_EQ(binary->body.substr(*binary->header_length), Le32(3) + "cat");

  InferRequest unknown;
  unknown.outputs.push_back({.name = "nope"});
  EXPECT_THAT(EncodeInferResponse(resp, unknown).status().message(),
              HasSubstr("the model has no output \"nope\" (it has: p, label)"));
}

TEST(TensorTest, HalfPrecisionRoundTrips) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 0.000061035156f, 1e-7f}) {
    EXPECT_NEAR(HalfToFloat(FloatToHalf(f)), f, std::fabs(f) * 1e-3 + 1e-7) << f;
  }
  EXPECT_TRUE(std::isinf(HalfToFloat(FloatToHalf(1e6f))));
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(NAN))));
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(3.0f)), 3.0f);
  EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(NAN))));
}

}  // namespace
}  // namespace skiff::serving
