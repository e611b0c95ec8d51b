#include "core/kube_protobuf.h"

#include <gtest/gtest.h>

#include <string>

namespace skiff {
namespace {

// Protobuf wire pieces, to write what client-go sends.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string Bytes(int field, const std::string& data) {
  return Varint(static_cast<uint64_t>(field) << 3 | 2) + Varint(data.size()) + data;
}
std::string Number(int field, uint64_t v) {
  return Varint(static_cast<uint64_t>(field) << 3) + Varint(v);
}
std::string Envelope(const std::string& api_version, const std::string& kind,
                     const std::string& raw) {
  return std::string("k8s\0", 4) + Bytes(1, Bytes(1, api_version) + Bytes(2, kind)) +
         Bytes(2, raw) + Bytes(3, "") + Bytes(4, "");
}

TEST(KubeProtobufTest, ReadsAnAccessReviewAsKubectlSendsIt) {
  const std::string attributes =
      Bytes(1, "team-a") + Bytes(2, "create") + Bytes(3, "batch") + Bytes(5, "jobs");
  const std::string raw = Bytes(1, "") + Bytes(2, Bytes(1, attributes)) + Bytes(3, "");
  auto obj =
      DecodeKubeProtobuf(Envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", raw));
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ((*obj)["kind"], "SelfSubjectAccessReview");
  EXPECT_EQ(
      (*obj)["spec"]["resourceAttributes"],
      (Json{
          {"namespace", "team-a"}, {"verb", "create"}, {"group", "batch"}, {"resource", "jobs"}}));
}

TEST(KubeProtobufTest, ReadsAConfigMapAndASecretWithTheirMetadata) {
  const std::string meta = Bytes(1, "settings") + Bytes(3, "default") +
                           Bytes(11, Bytes(1, "app") + Bytes(2, "web")) + Bytes(14, "f1") +
                           Bytes(14, "f2") + Bytes(8, Number(1, 0));
  auto cm = DecodeKubeProtobuf(Envelope(
      "v1", "ConfigMap", Bytes(1, meta) + Bytes(2, Bytes(1, "k") + Bytes(2, "v")) + Number(4, 1)));
  ASSERT_TRUE(cm.ok()) << cm.status().ToString();
  EXPECT_EQ((*cm)["metadata"]["name"], "settings");
  EXPECT_EQ((*cm)["metadata"]["labels"], (Json{{"app", "web"}}));
  EXPECT_EQ((*cm)["metadata"]["finalizers"], Json::array({"f1", "f2"}));
  EXPECT_EQ((*cm)["metadata"]["creationTimestamp"], "1970-01-01T00:00:00Z");
  EXPECT_EQ((*cm)["data"], (Json{{"k", "v"}}));
  EXPECT_EQ((*cm)["immutable"], true);
  auto secret = DecodeKubeProtobuf(Envelope(
      "v1", "Secret", Bytes(2, Bytes(1, "pw") + Bytes(2, "hunter2")) + Bytes(3, "Opaque")));
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ((*secret)["data"]["pw"], "aHVudGVyMg==");  // bytes are base64 in JSON
  EXPECT_EQ((*secret)["type"], "Opaque");
}

TEST(KubeProtobufTest, ReadsTheDeleteOptionsOfATypedClientsDelete) {
  const std::string raw = Number(1, 0) + Bytes(2, Bytes(1, "uid-1") + Bytes(2, "7")) +
                          Bytes(4, "Background") + Bytes(5, "All");
  auto obj = DecodeKubeProtobuf(Envelope("batch/v1", "DeleteOptions", raw));
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ((*obj)["preconditions"], (Json{{"uid", "uid-1"}, {"resourceVersion", "7"}}));
  EXPECT_EQ((*obj)["propagationPolicy"], "Background");
  EXPECT_EQ((*obj)["dryRun"], Json::array({"All"}));
}

TEST(KubeProtobufTest, UnknownFieldsAreSkippedAndAnUnknownKindOrBadBytesAreRefused) {
  auto cm = DecodeKubeProtobuf(Envelope("v1", "ConfigMap", Number(9, 5) + Bytes(10, "zz")));
  ASSERT_TRUE(cm.ok());
  EXPECT_EQ(*cm, (Json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}}));
  auto pod = DecodeKubeProtobuf(Envelope("v1", "Pod", ""));
  ASSERT_FALSE(pod.ok());
  EXPECT_NE(pod.status().message().find("Pod (v1) is not read in protobuf"), std::string::npos);
  for (const std::string& bad :
       {std::string("{}"), std::string("k8s\0", 4) + "\x0a\x05" + "ab",
        Envelope("v1", "ConfigMap", "\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
        Envelope("v1", "ConfigMap", Number(1, 3))}) {
    auto st = DecodeKubeProtobuf(bad);
    EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace skiff
