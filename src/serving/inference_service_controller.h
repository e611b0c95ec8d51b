// InferenceServiceController: runs each InferenceService's predictor as model-server replicas,
// as KServe's controller does with a Deployment, and reports on its status what KServe reports.
//
// For an InferenceService it picks the serving runtime (runtime_select.h), builds the replicas'
// pod spec, and keeps `minReplicas` (at least one) Pods of that spec, labelled
// serving.kserve.io/inferenceservice=NAME and owned by it (so the garbage collector removes them
// with it); a changed spec replaces them. It runs the pods itself (PodController::Sync), so a
// replica that dies is restarted by its restart policy (Always), and hands the endpoints of the
// ready ones to the router (ServingEndpoints). Status: url (the router's address of the
// service), address, the conditions PredictorReady, IngressReady and Ready, and modelStatus
// (transitionStatus, modelRevisionStates, lastFailureInfo, copies); a predictor no runtime here
// can serve is not run and says why (NoSupportingRuntime, RuntimeDisabled, RuntimeNotRecognized,
// RuntimeNotRunnable: an image this machine has no counterpart for, StorageNotSupported: a
// storageUri it cannot read, InvalidPredictorSpec).
//
// Thread-compatible: one ReconcileLoop calls Reconcile.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "core/clock.h"
#include "jobs/pod_controller.h"
#include "serving/endpoints.h"
#include "store/store.h"

namespace skiff::serving {

struct InferenceServiceControllerOptions {
  // The program replicas of Skiff's own model server run (`skiff serve`).
  std::string skiff_binary;
  // The API server's URL ("http://127.0.0.1:8888"), for status.url; "" while unknown.
  std::function<std::string()> server_url;
  jobs::PodEnvironment pod_env;
  const TypeRegistry* types = &TypeRegistry::Global();
  // How often a service whose replicas are not all ready is looked at again.
  std::chrono::milliseconds poll_interval{std::chrono::milliseconds(250)};
};

class InferenceServiceController {
 public:
  InferenceServiceController(Store& store, Backend& backend, Clock& clock,
                             ServingEndpoints& endpoints,
                             InferenceServiceControllerOptions options);

  Result<std::optional<std::chrono::milliseconds>> Reconcile(const std::string& ns,
                                                             const std::string& name);

 private:
  // The replicas' pod spec, or why there is none (reason, message).
  Result<Json> DesiredPodSpec(const Json& isvc, std::string* reason);
  Status WriteStatus(Json isvc, Json status);

  Store& store_;
  Backend& backend_;
  Clock& clock_;
  ServingEndpoints& endpoints_;
  InferenceServiceControllerOptions options_;
  jobs::PodController pods_;
};

// The label that ties a replica's pod to its InferenceService, as KServe labels them.
inline constexpr char kInferenceServiceLabel[] = "serving.kserve.io/inferenceservice";
// The label with the InferenceService's uid: how `skiff describe` and `skiff logs isvc/NAME` find
// the replicas of this service and not of an earlier one of the same name.
inline constexpr char kInferenceServiceUidLabel[] = "serving.skiff.dev/isvc-uid";

}  // namespace skiff::serving
