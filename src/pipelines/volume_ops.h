// PVC operations of kfp-kubernetes (`kubernetes.CreatePVC`, `kubernetes.DeletePVC`). They compile
// to container executors with the placeholder images argostub/createpvc and argostub/deletepvc,
// which no one runs: the KFP driver sees the image and creates or deletes the claim itself. Skiff's
// launcher does the same with the local meaning of a claim, a folder
// <volumes_root>/<namespace>/<claim> that pvcMount links into a task.
//
//   if (VolumeOp op = VolumeOpOf(inv.executor_spec); op != VolumeOp::kNone) {
//     TaskOutcome outcome = RunVolumeOp(op, inv, volumes_root);  // no workload
//   }
//
// As in KFP: CreatePVC takes `pvc_name` or `pvc_name_suffix` (not both; neither gives a generated
// name) and a required `size`, and outputs the claim's name as parameter `name`; DeletePVC takes
// `pvc_name`. Access modes, storage class, annotations, size and volume_name have no local meaning
// and are reported as warnings; a data_source naming another PersistentVolumeClaim clones its
// folder. Both are idempotent, so a task re-run after a restart finds the same result: a generated
// name derives from the task's workload id, and deleting a claim that is gone is not an error.
#pragma once

#include <string>

#include "pipelines/task.h"

namespace skiff::pipelines {

enum class VolumeOp { kNone, kCreate, kDelete };

// kCreate or kDelete for the placeholder images, kNone for every other executor.
VolumeOp VolumeOpOf(const Json& executor_spec);

// The folder that stands for claim `claim` of namespace `ns`.
std::string ClaimDir(const std::string& volumes_root, const std::string& ns,
                     const std::string& claim);

// Carries out the operation; a bad input or a file system error is a failed outcome whose
// message names the task and the cause.
TaskOutcome RunVolumeOp(VolumeOp op, const TaskInvocation& invocation,
                        const std::string& volumes_root);

}  // namespace skiff::pipelines
