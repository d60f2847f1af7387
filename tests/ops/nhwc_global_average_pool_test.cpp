// com.tessera NhwcGlobalAveragePool against GlobalAveragePool on the channels-first transpose: batches, channel
// counts on and off the vector width, one spatial axis or two, one and two threads (the channel split); bad inputs
// are clear errors.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/nn_test_util.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

using namespace nn_test;  // NOLINT(google-build-using-namespace): the op-test helpers

// [N, P, C] (P = the spatial positions, any spatial shape flattened) -> [N, C, P].
Tensor channels_first(const Tensor& x, const std::vector<int64_t>& first_shape) {
  const int64_t n = x.dim(0), c = x.dim(x.rank() - 1), p = x.element_count() / (n * c);
  Tensor y(DType::kFloat, first_shape);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < p; ++i)
      for (int64_t ch = 0; ch < c; ++ch) y.data<float>()[(b * c + ch) * p + i] = x.data<float>()[(b * p + i) * c + ch];
  return y;
}

TEST(NhwcGlobalAveragePoolTest, MatchesGlobalAveragePoolOnTheTranspose) {
  struct Shape {
    std::vector<int64_t> last, first;
  };
  const Shape shapes[] = {
      {{1, 7, 7, 1280}, {1, 1280, 7, 7}},  // MobileNetV2's last plane: split over the threads
      {{3, 5, 4, 6}, {3, 6, 5, 4}},        // batch 3, channels off the vector width
      {{2, 9, 17}, {2, 17, 9}},            // one spatial axis
      {{1, 1, 1, 3}, {1, 3, 1, 1}},
  };
  for (const Shape& s : shapes) {
    const Tensor x = random_float(s.last, 5);
    const Tensor expected = run_op("GlobalAveragePool", 1, {}, {channels_first(x, s.first)})[0];
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      const Tensor y = run_op("NhwcGlobalAveragePool", 1, {}, {x}, 1, &pool, "com.tessera")[0];
      ASSERT_EQ(y.shape(), expected.shape()) << x.description();
      for (int64_t i = 0; i < y.element_count(); ++i) {
        const float e = expected.data<float>()[i];
        ASSERT_NEAR(y.data<float>()[i], e, 1e-5 * (1.0 + std::fabs(e)))
            << x.description() << " threads " << threads << " element " << i;
      }
    }
  }
}

TEST(NhwcGlobalAveragePoolTest, RejectsOtherTypesAndRanks) {
  EXPECT_EQ(error_code_of([] {
              run_op("NhwcGlobalAveragePool", 1, {}, {random_float({4, 3}, 1)}, 1, nullptr, "com.tessera");
            }),
            ErrorCode::kInvalidArgument);  // rank 2: no spatial axis
  EXPECT_EQ(error_code_of([] {
              run_op("NhwcGlobalAveragePool", 1, {}, {Tensor(DType::kDouble, {1, 2, 2, 3})}, 1, nullptr, "com.tessera");
            }),
            ErrorCode::kInvalidArgument);  // float32 only
}

}  // namespace
}  // namespace tessera
