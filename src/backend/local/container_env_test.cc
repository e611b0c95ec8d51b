#include "backend/local/container_env.h"

#include <gtest/gtest.h>

namespace skiff::local {
namespace {

TEST(ExpandVarRefs, ReplacesKnownNamesAndLeavesTheRestAsKubernetesDoes) {
  const std::map<std::string, std::string> env = {{"PORT", "8080"}, {"HOST", "127.0.0.1"}};
  EXPECT_EQ(ExpandVarRefs("--port=$(PORT)", env), "--port=8080");
  EXPECT_EQ(ExpandVarRefs("$(HOST):$(PORT)/x", env), "127.0.0.1:8080/x");
  EXPECT_EQ(ExpandVarRefs("$(MISSING) stays", env), "$(MISSING) stays");
  EXPECT_EQ(ExpandVarRefs("$$(PORT) is escaped, $$ is one", env), "$(PORT) is escaped, $ is one");
  EXPECT_EQ(ExpandVarRefs("$PORT and ${PORT} are the shell's", env),
            "$PORT and ${PORT} are the shell's");
  EXPECT_EQ(ExpandVarRefs("unclosed $(PORT", env), "unclosed $(PORT");
  EXPECT_EQ(ExpandVarRefs("trailing $", env), "trailing $");
  EXPECT_EQ(ExpandVarRefs("", env), "");
}

TEST(PortEnvName, IsAnEnvironmentName) {
  EXPECT_EQ(PortEnvName("http"), "SKIFF_PORT_HTTP");
  EXPECT_EQ(PortEnvName("grpc-port"), "SKIFF_PORT_GRPC_PORT");
  EXPECT_EQ(PortEnvName("8080"), "SKIFF_PORT_8080");
}

TEST(FreeLoopbackPort, GivesAPortThatCanBeBound) {
  Result<int> port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status().ToString();
  EXPECT_GT(*port, 0);
  EXPECT_LT(*port, 65536);
}

}  // namespace
}  // namespace skiff::local
