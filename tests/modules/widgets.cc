// A throwaway kind registered from outside the product: the `skiff` command plus a module that
// registers `Widget` (widgets.test.skiff.dev/v1) and its controller, exactly as a real module does
// (src/controller/README.md). tests/e2e/test_module_kind.py runs this binary and checks that the
// kind is served, printed, reconciled and covered by the generated schema and tenancy tests, with
// nothing outside this file naming it.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "cli/cli.h"
#include "cli/modules.h"
#include "controller/controller.h"
#include "core/schema.h"
#include "core/text.h"

namespace skiff::test_modules {
namespace {

constexpr char kWidgetType[] = "widgets.test.skiff.dev";

ResourceType WidgetKind() {
  using namespace openapi;  // NOLINT(google-build-using-namespace): the builders read as a schema
  ResourceType widget{"test.skiff.dev", "v1", "Widget", "widgets", true, {"wd"}};
  widget.schema = KindSchema(
      {{"spec", Object({{"size", Integer(0, 100)},
                        {"color", Enum({"red", "green", "blue"})},
                        {"fragile", Boolean()},
                        {"weight", Number()},
                        {"tags", StringMap()},
                        {"parts", Array(Object({{"name", String()}, {"count", Int32(0)}}))}})},
       {"status", OpenObject({{"phase", String()}, {"observedSize", Integer(0)}})}},
      {"spec"});
  widget.validate = [](Json& obj, bool) -> Status {
    if (At(obj, {"spec", "fragile"}) == Json(true) && IntAt(obj, {"spec", "size"}, 0) > 50) {
      return InvalidArgument("spec.size: a fragile widget is at most 50");
    }
    return Status::Ok();
  };
  widget.columns = {{"SIZE",
                     [](const Json& o, TimePoint) {
                       return TextAt(o, {"spec", "size"});
                     }},
                    {"PHASE", [](const Json& o, TimePoint) {
                       return TextAt(o, {"status", "phase"}, "Pending");
                     }}};
  return widget;
}

// Marks each widget Ready with the size it saw: its status is written by no one else.
class WidgetController : public Controller {
 public:
  explicit WidgetController(const ControllerContext& ctx) : store_(ctx.store) {}

  std::string StoreType() const override { return kWidgetType; }
  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name) override {
    auto got = store_.Get(kWidgetType, ns, name);
    if (!got.ok()) {
      if (got.status().code() == StatusCode::kNotFound) {
        return std::optional<std::chrono::milliseconds>();
      }
      return got.status();
    }
    Json widget = std::move(got).value();
    const Json status = {{"phase", "Ready"}, {"observedSize", IntAt(widget, {"spec", "size"}, 0)}};
    if (widget.value("status", Json()) != status) {
      widget["status"] = status;
      auto updated = store_.Update(kWidgetType, widget);
      if (!updated.ok() && updated.status().code() != StatusCode::kConflict) {
        return updated.status();
      }
    }
    return std::optional<std::chrono::milliseconds>();
  }

 private:
  Store& store_;
};

void RegisterWidgets(ModuleRegistry& modules) {
  modules.types().Add(WidgetKind());
  modules.AddController(
      "widgets", [](const ControllerContext& ctx) -> Result<std::unique_ptr<Controller>> {
        return std::unique_ptr<Controller>(std::make_unique<WidgetController>(ctx));
      });
}

}  // namespace
}  // namespace skiff::test_modules

int main(int argc, char** argv) {
  skiff::cli::RegisterModules();
  skiff::test_modules::RegisterWidgets(skiff::ModuleRegistry::Global());
  return skiff::RunCli(argc, argv);
}
