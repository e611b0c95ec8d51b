#include "serving/xgboost_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/testing/temp_dir.h"

namespace skiff::serving {
namespace {

using ::testing::HasSubstr;

// KServe's xgbserver example models (the shared corpus, outside this repository).
std::string CorpusModels() {
  if (const char* c = std::getenv("SKIFF_CORPUS"); c && *c)
    return std::string(c) + "/kserve/models";
  const char* src = std::getenv("SKIFF_SOURCE_DIR");
  return std::string(src ? src : ".") + "/../shared/corpus/kserve/models";
}

#define SKIP_WITHOUT_CORPUS()                                                                 \
  do {                                                                                        \
    if (!std::filesystem::exists(CorpusModels())) {                                           \
      GTEST_SKIP() << "the shared corpus is not here: " << CorpusModels()                     \
                   << " is missing (set SKIFF_CORPUS to the corpus folder to run this test)"; \
    }                                                                                         \
  } while (0)

TEST(XgboostModelTest, CorpusModelsPredictAsKServesTestsAssert) {
  SKIP_WITHOUT_CORPUS();
  // Iris, multi:softmax: the first iris row is class 0 (xgbserver's unit test).
  for (const char* file : {"python__xgbserver__xgbserver__example_model__json_model__model.json",
                           "python__xgbserver__xgbserver__example_model__ubj_model__model.ubj",
                           "python__xgbserver__xgbserver__example_model__bst_model__model.bst"}) {
    TempDir dir;
    std::string ext = std::filesystem::path(file).extension().string();
    std::filesystem::copy_file(CorpusModels() + "/" + file, dir.path() + "/model" + ext);
    auto model = LoadXgboostModel({.name = "iris", .format = "xgboost", .uri = dir.path()});
    ASSERT_TRUE(model.ok()) << file << ": " << model.status().ToString();
    EXPECT_EQ((*model)->Metadata().inputs[0].shape, (std::vector<int64_t>{-1, 4}));
    InferRequest req;
    req.inputs.push_back(Tensor::Fp32("input-0", {2, 4},
                                      {5.1f, 3.5f, 1.4f, 0.2f,  //
                                       6.8f, 2.8f, 4.8f, 1.4f}));
    auto out = (*model)->Infer(req);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_EQ(out->outputs.size(), 1u);
    EXPECT_EQ(out->outputs[0].name, "output-0");
    EXPECT_EQ(out->outputs[0].shape, std::vector<int64_t>{2});
    EXPECT_EQ(out->outputs[0].DataJson()[0], 0.0) << file;

    // The wrong number of features is refused before the library sees it.
    InferRequest three;
    three.inputs.push_back(Tensor::Fp32("input-0", {1, 3}, {1, 2, 3}));
    EXPECT_THAT((*model)->Infer(three).status().message(),
                HasSubstr("takes 4 features per row, the input has 3"));
  }
}

TEST(XgboostModelTest, RefusesWhatIsNotAModel) {
  TempDir dir;
  auto none = LoadXgboostModel({.name = "m", .format = "xgboost", .uri = dir.path()});
  if (none.status().code() == StatusCode::kFailedPrecondition) {
    GTEST_SKIP() << none.status().message();  // no libxgboost on this machine
  }
  EXPECT_THAT(none.status().message(), HasSubstr("no model file (.bst, .json, .ubj)"));
  std::ofstream(dir.path() + "/model.json") << "{\"not\": \"a model\"}";
  auto bad = LoadXgboostModel({.name = "m", .format = "xgboost", .uri = dir.path()});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("XGBoost could not load"));
  std::ofstream(dir.path() + "/other.bst") << "x";
  auto two = LoadXgboostModel({.name = "m", .format = "xgboost", .uri = dir.path()});
  EXPECT_THAT(two.status().message(), HasSubstr("more than one model file"));
}

TEST(XgboostModelTest, ColumnInputsBecomeOneMatrix) {
  std::vector<Tensor> cols = {Tensor::Fp32("a", {2}, {1, 2}), Tensor::Fp32("b", {2, 1}, {3, 4})};
  auto m = InputsAsMatrix(cols);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->rows, 2);
  EXPECT_EQ(m->cols, 2);
  EXPECT_EQ(m->values, (std::vector<float>{1, 3, 2, 4}));
  cols.push_back(Tensor::Fp32("c", {3}, {1, 2, 3}));
  EXPECT_THAT(InputsAsMatrix(cols).status().message(), HasSubstr("\"c\" has 3 rows"));
  EXPECT_THAT(InputsAsMatrix({Tensor::Fp32("x", {1, 1, 1}, {1})}).status().message(),
              HasSubstr("has 3 dimensions"));
}

}  // namespace
}  // namespace skiff::serving
