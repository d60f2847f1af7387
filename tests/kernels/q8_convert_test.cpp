// q8-convert: every variant the CPU runs gives the bytes of the scalar definition of QuantizeLinear (x / scale in
// float, round half to even, plus the zero point, saturated; NaN -> the zero point) and the floats of
// DequantizeLinear ((x - zero point) * scale in float), for int8 and uint8, including ties, NaN, infinities,
// saturation and odd lengths; and the QuantizeLinear / DequantizeLinear ops on it, per tensor and per axis, over
// tensors split across threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "ir/graph_builder.h"
#include "kernels/q8-convert/q8-convert.h"
#include "quotient_test_values.h"
#include "runtime/session.h"

namespace tessera {
namespace {

// The definition, as QuantizeLinear's general path computes it (nearbyint in double, then the zero point, then
// clamping).
template <typename T>
T reference_quantize(float x, float scale, int32_t zero_point) {
  const float scaled = x / scale;
  if (std::isnan(scaled)) return static_cast<T>(zero_point);
  const double q = std::nearbyint(static_cast<double>(scaled)) + zero_point;
  return static_cast<T>(std::clamp<double>(q, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
}

class Q8ConvertTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!q8_convert_select_kernel(GetParam())) GTEST_SKIP() << GetParam() << " does not run on this CPU";
  }
  void TearDown() override { q8_convert_select_kernel(""); }
};

std::vector<float> test_values(int64_t n, float scale, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-200.0f * scale, 200.0f * scale);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = uniform(rng);
  // Ties: exact multiples of half a step land on .5 and round to even; some far outside the range.
  for (size_t i = 0; i < x.size(); i += 3) x[i] = scale * (static_cast<float>(static_cast<int>(i % 81) - 40) + 0.5f);
  for (size_t i = 1; i < x.size(); i += 17) x[i] = (i % 2 ? 1.0f : -1.0f) * scale * 1e7f;
  return x;
}

TEST_P(Q8ConvertTest, QuantizeMatchesTheScalarDefinition) {
  std::mt19937 rng(11);
  for (int64_t n : {0, 1, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 64, 70, 1000}) {
    for (float scale : {0.02f, 0.1f, 1.0f / 3.0f, 7.5f}) {
      const std::vector<float> x = test_values(n, scale, rng);
      for (int32_t zp : {-128, -5, 0, 127}) {
        std::vector<int8_t> y(x.size() + 1, 0x5A);
        q8_quantize_s8(x.data(), n, scale, zp, y.data());
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(y[i], reference_quantize<int8_t>(x[i], scale, zp)) << "n " << n << " x " << x[i] << " zp " << zp;
        }
        ASSERT_EQ(y[static_cast<size_t>(n)], 0x5A) << "wrote past the end";
      }
      for (int32_t zp : {0, 3, 128, 255}) {
        std::vector<uint8_t> y(x.size() + 1, 0xA5);
        q8_quantize_u8(x.data(), n, scale, zp, y.data());
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(y[i], reference_quantize<uint8_t>(x[i], scale, zp)) << "n " << n << " x " << x[i] << " zp " << zp;
        }
        ASSERT_EQ(y[static_cast<size_t>(n)], 0xA5) << "wrote past the end";
      }
    }
  }
}

// Scales from 2^-70 to 2^70 (inside and outside the range where the kernels divide by way of the reciprocal), x
// on and next to every half step and at random magnitudes up to the float maximum, infinities and NaN: the bytes
// of the division, int8 and uint8.
TEST_P(Q8ConvertTest, ReciprocalQuotientsMatchTheDivisionAcrossScales) {
  std::mt19937 rng(23);
  for (int round = 0; round < 300; ++round) {
    const float scale = testing::random_quotient_scale(rng);
    const std::vector<float> x = testing::quotient_test_values(scale, rng);
    std::vector<int8_t> s8(x.size());
    std::vector<uint8_t> u8(x.size());
    q8_quantize_s8(x.data(), static_cast<int64_t>(x.size()), scale, -3, s8.data());
    q8_quantize_u8(x.data(), static_cast<int64_t>(x.size()), scale, 131, u8.data());
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(s8[i], reference_quantize<int8_t>(x[i], scale, -3)) << "x " << x[i] << " scale " << scale;
      ASSERT_EQ(u8[i], reference_quantize<uint8_t>(x[i], scale, 131)) << "x " << x[i] << " scale " << scale;
    }
  }
}

TEST_P(Q8ConvertTest, TiesNaNInfinitiesAndSaturation) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // 0.5, 1.5, 2.5, -0.5, -1.5, -2.5 round to 0, 2, 2, -0, -2, -2.
  const std::vector<float> x = {0.5f,   1.5f,   2.5f,   -0.5f,   -1.5f,      -2.5f,       nan,        inf,  -inf, 1e30f,
                                -1e30f, 126.5f, 127.5f, -128.5f, 4194304.5f, -4194304.5f, 8388609.0f, 0.0f, -0.0f};
  std::vector<int8_t> s(x.size());
  q8_quantize_s8(x.data(), static_cast<int64_t>(x.size()), 1.0f, 0, s.data());
  const std::vector<int8_t> expect_s = {0,    2,   2,   0,    -2,  -2,   0,   127, -128, 127,
                                        -128, 126, 127, -128, 127, -128, 127, 0,   0};
  EXPECT_EQ(s, expect_s);
  // NaN becomes the zero point.
  std::vector<uint8_t> u(x.size());
  q8_quantize_u8(x.data(), static_cast<int64_t>(x.size()), 1.0f, 10, u.data());
  const std::vector<uint8_t> expect_u = {10, 12, 12, 10, 8, 8, 10, 255, 0, 255, 0, 136, 138, 0, 255, 0, 255, 10, 10};
  EXPECT_EQ(u, expect_u);
  // Longer than one vector: the same answers in the vector lanes.
  std::vector<float> long_x;
  for (int k = 0; k < 5; ++k) long_x.insert(long_x.end(), x.begin(), x.end());
  std::vector<uint8_t> long_u(long_x.size());
  q8_quantize_u8(long_x.data(), static_cast<int64_t>(long_x.size()), 1.0f, 10, long_u.data());
  for (size_t i = 0; i < long_x.size(); ++i) EXPECT_EQ(long_u[i], expect_u[i % x.size()]) << i;
}

TEST_P(Q8ConvertTest, DequantizeMatchesTheScalarDefinition) {
  std::mt19937 rng(5);
  for (int64_t n : {0, 1, 5, 16, 17, 33, 64, 100, 1000}) {
    std::vector<int8_t> s(static_cast<size_t>(n));
    std::vector<uint8_t> u(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      s[i] = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
      u[i] = static_cast<uint8_t>(rng() % 256);
    }
    for (float scale : {0.0123f, 1.0f, 3.7e-5f}) {
      for (int32_t zp : {-128, 0, 7, 127}) {
        std::vector<float> y(static_cast<size_t>(n) + 1, -1.0f);
        q8_dequantize_s8(s.data(), n, scale, zp, y.data());
        for (int64_t i = 0; i < n; ++i) {
          const float e = static_cast<float>(static_cast<double>(s[i]) - zp) * scale;
          ASSERT_EQ(std::memcmp(&y[i], &e, sizeof e), 0) << n << " " << i;
        }
        ASSERT_EQ(y[static_cast<size_t>(n)], -1.0f);
      }
      for (int32_t zp : {0, 128, 255}) {
        std::vector<float> y(static_cast<size_t>(n) + 1, -1.0f);
        q8_dequantize_u8(u.data(), n, scale, zp, y.data());
        for (int64_t i = 0; i < n; ++i) {
          const float e = static_cast<float>(static_cast<double>(u[i]) - zp) * scale;
          ASSERT_EQ(std::memcmp(&y[i], &e, sizeof e), 0) << n << " " << i;
        }
        ASSERT_EQ(y[static_cast<size_t>(n)], -1.0f);
      }
    }
  }
}

TEST_P(Q8ConvertTest, RowVariantsTakeOneScaleAndZeroPointPerElement) {
  std::mt19937 rng(9);
  for (int64_t n : {0, 1, 7, 16, 17, 40, 130}) {
    std::vector<float> scale(static_cast<size_t>(n)), s8_zp(scale.size()), u8_zp(scale.size());
    for (int64_t i = 0; i < n; ++i) {
      scale[i] = 0.005f + 0.001f * static_cast<float>(i % 13);
      s8_zp[i] = static_cast<float>(static_cast<int>(i % 9) * 7 - 30);
      u8_zp[i] = static_cast<float>(static_cast<int>(i % 11) * 20 + 10);
    }
    std::vector<float> x = test_values(n, 0.01f, rng);
    if (n > 5) x[5] = std::numeric_limits<float>::quiet_NaN();
    std::vector<int8_t> s(x.size());
    std::vector<uint8_t> u(x.size());
    q8_quantize_s8_row(x.data(), n, scale.data(), s8_zp.data(), s.data());
    q8_quantize_u8_row(x.data(), n, scale.data(), u8_zp.data(), u.data());
    std::vector<float> ds(x.size()), du(x.size());
    q8_dequantize_s8_row(s.data(), n, scale.data(), s8_zp.data(), ds.data());
    q8_dequantize_u8_row(u.data(), n, scale.data(), u8_zp.data(), du.data());
    for (int64_t i = 0; i < n; ++i) {
      const int32_t zs = static_cast<int32_t>(s8_zp[i]), zu = static_cast<int32_t>(u8_zp[i]);
      ASSERT_EQ(s[i], reference_quantize<int8_t>(x[i], scale[i], zs)) << n << " " << i;
      ASSERT_EQ(u[i], reference_quantize<uint8_t>(x[i], scale[i], zu)) << n << " " << i;
      ASSERT_EQ(ds[i], static_cast<float>(s[i] - zs) * scale[i]) << n << " " << i;
      ASSERT_EQ(du[i], static_cast<float>(u[i] - zu) * scale[i]) << n << " " << i;
    }
  }
}

TEST_P(Q8ConvertTest, RoundTripIsExact) {
  // Quantizing a dequantized value gives the integer back (scale and zero point in range).
  std::vector<uint8_t> u(256);
  for (int i = 0; i < 256; ++i) u[i] = static_cast<uint8_t>(i);
  std::vector<float> f(256);
  q8_dequantize_u8(u.data(), 256, 0.037f, 131, f.data());
  std::vector<uint8_t> back(256);
  q8_quantize_u8(f.data(), 256, 0.037f, 131, back.data());
  EXPECT_EQ(back, u);
}

// QuantizeLinear -> DequantizeLinear on a tensor of several parallel blocks, per axis (axis 1: long channel runs;
// axis 3: one element per run, the row kernels) and per tensor, run with 4 threads: every element as the scalar
// definition gives it.
TEST(QuantizeLinearOpTest, LargeTensorsPerAxisAndPerTensorOverThreads) {
  const std::vector<int64_t> shape = {2, 3, 150, 130};
  Tensor x(DType::kFloat, shape);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-3.0f, 3.0f);
  for (int64_t i = 0; i < x.element_count(); ++i) x.data<float>()[i] = uniform(rng);
  x.data<float>()[12345] = std::numeric_limits<float>::quiet_NaN();
  for (const DType type : {DType::kInt8, DType::kUint8}) {
    for (const int64_t axis : {1, 3, -1}) {  // -1: per tensor
      const bool per_axis = axis >= 0;
      const int64_t channels = per_axis ? shape[static_cast<size_t>(axis)] : 1;
      Tensor scale = per_axis ? Tensor(DType::kFloat, {channels}) : Tensor(DType::kFloat, {});
      Tensor zp = per_axis ? Tensor(type, {channels}) : Tensor(type, {});
      std::vector<float> scales(static_cast<size_t>(channels));
      std::vector<int32_t> zps(static_cast<size_t>(channels));
      for (int64_t c = 0; c < channels; ++c) {
        scales[c] = 0.01f + 0.0015f * static_cast<float>(c % 17);
        scale.data<float>()[c] = scales[c];
        zps[c] = type == DType::kInt8 ? static_cast<int32_t>(c % 5) * 20 - 40 : 100 + static_cast<int32_t>(c % 5) * 20;
        if (type == DType::kInt8) {
          zp.data<int8_t>()[c] = static_cast<int8_t>(zps[c]);
        } else {
          zp.data<uint8_t>()[c] = static_cast<uint8_t>(zps[c]);
        }
      }
      Model model = GraphBuilder(13)
                        .input("x", DType::kFloat, shape)
                        .initializer("s", scale)
                        .initializer("z", zp)
                        .node("QuantizeLinear", {"x", "s", "z"}, {"q"})
                        .attr_int("axis", per_axis ? axis : 1)
                        .node("DequantizeLinear", {"q", "s", "z"}, {"d"})
                        .attr_int("axis", per_axis ? axis : 1)
                        .output("q")
                        .output("d")
                        .build();
      SessionOptions options;
      options.intra_op_threads = 4;
      Session session(std::move(model), options);
      const auto out = session.run({{"x", x}});
      const Tensor& q = out[0].tensor();
      const Tensor& d = out[1].tensor();
      ASSERT_EQ(q.dtype(), type);
      const int64_t inner = axis == 1 ? shape[2] * shape[3] : 1;
      for (int64_t i = 0; i < x.element_count(); ++i) {
        const int64_t c = per_axis ? (i / inner) % channels : 0;
        const float xv = x.data<float>()[i];
        const int32_t expect = type == DType::kInt8 ? reference_quantize<int8_t>(xv, scales[c], zps[c])
                                                    : reference_quantize<uint8_t>(xv, scales[c], zps[c]);
        const int32_t got = type == DType::kInt8 ? q.data<int8_t>()[i] : q.data<uint8_t>()[i];
        ASSERT_EQ(got, expect) << "axis " << axis << " element " << i;
        ASSERT_EQ(d.data<float>()[i], static_cast<float>(expect - zps[c]) * scales[c]) << "element " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, Q8ConvertTest,
                         ::testing::Values("q8_convert__portable", "q8_convert__avx2", "q8_convert__avx512"),
                         [](const auto& info) { return info.param.substr(std::string("q8_convert__").size()); });

}  // namespace
}  // namespace tessera
