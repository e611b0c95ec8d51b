// Field selectors, as the Kubernetes API server reads `fieldSelector`: terms joined by ',' (all
// must hold), each `field=value`, `field==value` or `field!=value`; a backslash escapes ',', '='
// '!' and '\' in a value. Every kind supports `metadata.name` and `metadata.namespace`; a kind
// names more in ResourceType::field_selectors (pods: `status.phase`, `spec.nodeName`, ...). A
// field's value is the object's value at that path as text (a number or boolean as JSON writes
// it), "" when absent: `spec.nodeName=` selects pods on no node.
//
//   ASSIGN_OR_RETURN(FieldSelector s, FieldSelector::Parse("metadata.name=pi",
//   type.field_selectors)); if (s.Matches(obj)) ...
//
// Thread-safe once parsed (Matches is const).
#pragma once

#include <string>
#include <vector>

#include "core/resource.h"
#include "core/status.h"

namespace skiff {

class FieldSelector {
 public:
  // InvalidArgument for a malformed term, and "field label not supported: F" (the API server's
  // words) for a field that is not metadata.name, metadata.namespace or one of `fields`.
  static Result<FieldSelector> Parse(const std::string& text,
                                     const std::vector<std::string>& fields = {});
  bool Matches(const Json& obj) const;
  bool empty() const { return terms_.empty(); }

 private:
  struct Term {
    std::vector<std::string> path;  // "status.phase" -> {"status", "phase"}
    bool equal = true;              // = / == (else !=)
    std::string value;
  };
  std::vector<Term> terms_;
};

}  // namespace skiff
