// A throwaway kind registered from outside the product: the `skiff` command plus a module that
// registers `Widget` (widgets.test.skiff.dev/v1), its controller, a route, a setting and a metric,
// exactly as a real module does (src/controller/README.md). tests/e2e/test_module_kind.py runs
// this binary and checks that the kind is served, printed, reconciled and covered by the generated
// schema and tenancy tests, and that the route, the setting and the metric are the platform's,
// with nothing outside this file naming any of them.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "cli/cli.h"
#include "cli/modules.h"
#include "controller/controller.h"
#include "core/schema.h"
#include "core/text.h"
#include "http/status_json.h"

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

// Marks each widget with the phase its setting names (--widget-phase, "Ready" by default) and the
// size it saw: its status is written by no one else. Counts what it marked in
// skiff_widgets_marked_total.
class WidgetController : public Controller {
 public:
  explicit WidgetController(const ControllerContext& ctx)
      : store_(ctx.store), metrics_(*ctx.metrics) {
    auto it = ctx.settings.find("widget-phase");
    if (it != ctx.settings.end()) phase_ = it->second;
  }

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
    const Json status = {{"phase", phase_}, {"observedSize", IntAt(widget, {"spec", "size"}, 0)}};
    if (widget.value("status", Json()) != status) {
      widget["status"] = status;
      auto updated = store_.Update(kWidgetType, widget);
      if (!updated.ok() && updated.status().code() != StatusCode::kConflict) {
        return updated.status();
      }
      if (updated.ok()) metrics_.Add("skiff_widgets_marked_total", "Widgets marked", {}, 1);
    }
    return std::optional<std::chrono::milliseconds>();
  }

 private:
  Store& store_;
  ControllerMetrics& metrics_;
  std::string phase_ = "Ready";
};

// GET .../widgets/{name}/size: the widget's size as text, to whoever may get the widget.
void ServeSize(const RouteContext& ctx, const HttpRequest& req, HttpResponder& res) {
  const std::string ns = req.Param("namespace");
  Status allowed = ctx.authorizer.Check(
      req.principal, AccessRequest{kWidgetType, ns, Verb::kGet, req.Param("name")});
  if (!allowed.ok()) return SendStatusError(res, allowed);
  auto widget = ctx.store.Get(kWidgetType, ns, req.Param("name"));
  if (!widget.ok()) return SendStatusError(res, widget.status());
  res.Send(200, TextAt(*widget, {"spec", "size"}, "0"), {{"content-type", "text/plain"}});
}

void RegisterWidgets(ModuleRegistry& modules) {
  modules.types().Add(WidgetKind());
  modules.AddController(
      "widgets", [](const ControllerContext& ctx) -> Result<std::unique_ptr<Controller>> {
        return std::unique_ptr<Controller>(std::make_unique<WidgetController>(ctx));
      });
  modules.AddSetting(
      {"widget-phase", "the phase the widget controller marks widgets with", "Ready"});
  modules.AddRoutes("widgets", [](const RouteContext& ctx) -> Result<std::shared_ptr<void>> {
    ctx.add_route("GET", "/apis/test.skiff.dev/v1/namespaces/{namespace}/widgets/{name}/size",
                  [ctx](const HttpRequest& req, HttpResponder& res) { ServeSize(ctx, req, res); });
    return std::shared_ptr<void>();
  });
}

}  // namespace
}  // namespace skiff::test_modules

int main(int argc, char** argv) {
  skiff::cli::RegisterModules();
  skiff::test_modules::RegisterWidgets(skiff::ModuleRegistry::Global());
  return skiff::RunCli(argc, argv);
}
