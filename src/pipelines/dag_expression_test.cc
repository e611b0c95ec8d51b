#include "pipelines/dag_expression.h"

#include <gtest/gtest.h>

namespace skiff::pipelines {
namespace {

bool Eval(const std::string& expr, const std::map<std::string, Json>& values) {
  Result<bool> r = EvaluateCondition(expr, values);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() && *r;
}

TEST(DagExpressionTest, ComparesStringOutputs) {
  const std::string expr =
      "inputs.parameter_values['pipelinechannel--flip-coin-Output'] == 'heads'";
  EXPECT_TRUE(Eval(expr, {{"pipelinechannel--flip-coin-Output", "heads"}}));
  EXPECT_FALSE(Eval(expr, {{"pipelinechannel--flip-coin-Output", "tails"}}));
}

TEST(DagExpressionTest, IntCastsAndOrderings) {
  std::map<std::string, Json> v = {{"n", "7"}, {"threshold", 7}};
  EXPECT_TRUE(Eval("int(inputs.parameter_values['n']) > 5", v));
  EXPECT_FALSE(Eval("int(inputs.parameter_values['n']) <= 5", v));
  EXPECT_TRUE(
      Eval("int(inputs.parameter_values['n']) >= int(inputs.parameter_values['threshold'])", v));
  EXPECT_TRUE(Eval("double(inputs.parameter_values['n']) < 7.5", v));
}

TEST(DagExpressionTest, ElifChainsWithNegationAndConjunction) {
  const std::string expr =
      "!(inputs.parameter_values['d'] == 'heads') && !(inputs.parameter_values['d'] == 'tails')";
  EXPECT_TRUE(Eval(expr, {{"d", "draw"}}));
  EXPECT_FALSE(Eval(expr, {{"d", "tails"}}));
  EXPECT_TRUE(Eval("inputs.parameter_values['d'] == 'a' || inputs.parameter_values['d'] == 'draw'",
                   {{"d", "draw"}}));
}

TEST(DagExpressionTest, BooleansListsAndLegacyStringValue) {
  EXPECT_TRUE(Eval("inputs.parameter_values['pick_a'] == true", {{"pick_a", true}}));
  EXPECT_FALSE(Eval("inputs.parameter_values['pick_a'] == true", {{"pick_a", "true"}}));
  EXPECT_TRUE(Eval("inputs.parameter_values['x'] in ['a', 'b']", {{"x", "b"}}));
  EXPECT_TRUE(Eval("inputs.parameters['pipelineparam--b'].string_value == 'true'",
                   {{"pipelineparam--b", true}}));
  EXPECT_TRUE(Eval("inputs.parameter_values['a'] == inputs.parameter_values['b']",
                   {{"a", "x"}, {"b", "x"}}));
}

TEST(DagExpressionTest, BadExpressionsAreErrorsNotCrashes) {
  for (const char* expr : {"", "(", "inputs.parameter_values['missing'] == 1", "1 +", "'abc",
                           "int('x') == 1", "inputs.parameter_values['a'] < true", "5"}) {
    EXPECT_FALSE(EvaluateCondition(expr, {{"a", 1}}).ok()) << expr;
  }
}

TEST(DagExpressionTest, SelectorReadsAFieldOfADictItem) {
  Result<Json> a = EvaluateSelector("parseJson(string_value)[\"A_a\"]",
                                    Json::parse(R"({"A_a": "1", "B_b": "2"})"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, "1");
  Result<Json> b = EvaluateSelector("parseJson(string_value)[\"a\"]", "{\"a\": 3}");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, 3);
}

TEST(DagExpressionTest, ValueTextDropsTrailingZeroes) {
  EXPECT_EQ(ParameterValueText(Json(3.0)), "3");
  EXPECT_EQ(ParameterValueText(Json(2.5)), "2.5");
  EXPECT_EQ(ParameterValueText(Json("s")), "s");
  EXPECT_EQ(ParameterValueText(Json::array({1, 2})), "[1,2]");
}

}  // namespace
}  // namespace skiff::pipelines
