// The CEL subset the KFP compiler emits for `triggerPolicy.condition` and
// `parameterExpressionSelector`, evaluated over JSON values:
//
//   ASSIGN_OR_RETURN(bool run, EvaluateCondition(
//       "int(inputs.parameter_values['pipelinechannel--n']) > 5", {{"pipelinechannel--n", 7}}));
//   ASSIGN_OR_RETURN(Json a, EvaluateSelector("parseJson(string_value)[\"a\"]", item));
//
// Supported: literals (int, double, 'string', "string", true, false, null, [lists]), identifiers,
// member access `a.b`, index `a['k']`/`a[0]`, `!`, unary `-`, `==`, `!=`, `<`, `<=`, `>`, `>=`,
// `in`, `&&`, `||`, parentheses, and the functions int(), double(), string(), bool(), size(),
// parseJson(). `inputs.parameter_values[name]` is the parameter value; the 2.0.0 form
// `inputs.parameters[name].string_value` is its text. Comparing values of different types with
// `==` is false (numbers compare by value), as in CEL's heterogeneous equality.
// Thread-safe: pure functions.
#pragma once

#include <map>
#include <string>

#include "core/resource.h"
#include "core/status.h"

namespace skiff::pipelines {

// Evaluates `expression` against the parameter values; it must yield a boolean.
Result<bool> EvaluateCondition(const std::string& expression,
                               const std::map<std::string, Json>& parameter_values);

// Evaluates a parameterExpressionSelector over `value` (bound as `string_value`: the text itself
// for strings, the JSON text otherwise).
Result<Json> EvaluateSelector(const std::string& expression, const Json& value);

// The text of a parameter value as KFP passes it to string contexts: strings as is, numbers
// without a trailing ".0", booleans true/false, lists and structs as compact JSON.
std::string ParameterValueText(const Json& value);

}  // namespace skiff::pipelines
