// The XGBoost runtime: models saved by XGBoost (.json, .ubj or the binary .bst format) served in
// process through XGBoost's C library, as KServe's xgbserver serves them with the Python package.
//
// The library is loaded when the first model is (dlopen): SKIFF_XGBOOST_LIBRARY when set (for
// example the libxgboost.so an xgboost wheel ships), else the system's libxgboost (Debian's
// libxgboost0). Models saved by XGBoost 1.x to 3.x load in either.
//
// Inputs: one tensor [N, F] (or [F], one row) of any numeric datatype, or several [N]/[N, 1]
// tensors taken as the columns of the matrix in order. Output "output-0", FP32, shaped as the
// library's prediction is ([N] for a class or value per row, [N, K] for probabilities).
// Options: "nthread" (threads per prediction, default 1: requests already run in parallel).
#pragma once

#include <memory>

#include "core/status.h"
#include "serving/model.h"

namespace skiff::serving {

Result<std::unique_ptr<Model>> LoadXgboostModel(const ModelSpec& spec);

// Turns the inputs of a tabular model into one row-major float matrix of `rows` x `cols`.
struct DenseMatrix {
  std::vector<float> values;
  int64_t rows = 0;
  int64_t cols = 0;
};
Result<DenseMatrix> InputsAsMatrix(const std::vector<Tensor>& inputs);

}  // namespace skiff::serving
