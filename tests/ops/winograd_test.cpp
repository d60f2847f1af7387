// Winograd F(4x4, 3x3) and F(2x2, 3x3) (ops/conv/winograd.h) against the reference convolution: odd output sizes
// (partial tiles), pads 0..2, batch 2, channel counts past the 8-channel blocks, bias and clamp; and when each
// applies.
#include "ops/conv/winograd.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "kernels/f32-gemm/gemm.h"
#include "kernels/f32-winograd/f32-winograd.h"
#include "ops/conv/conv_kernels.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

std::vector<float> random_values(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = dist(rng);
  return v;
}

struct Case {
  int64_t batch, in_channels, out_channels, height, width, pad;
};

// The 3x3, unit-stride convolution of `c`: its attributes and geometry.
conv::ConvAttributes attributes_of(const Case& c) {
  conv::ConvAttributes attrs;
  attrs.strides = {1, 1};
  attrs.dilations = {1, 1};
  attrs.pads = {c.pad, c.pad, c.pad, c.pad};
  return attrs;
}
conv::ConvGeometry geometry_of(const Case& c) {
  return conv::conv_geometry(attributes_of(c), {c.batch, c.in_channels, c.height, c.width},
                             {c.out_channels, c.in_channels, 3, 3}, "Conv");
}

void check_against_reference(int tile);

// Every transform variant this CPU runs (kernels/f32-winograd), each tile size, each against the reference.
TEST(WinogradTest, MatchesReferenceConvolution) {
  for (const std::string& variant : winograd_f32_kernel_names()) {
    ASSERT_TRUE(winograd_f32_select_kernel(variant));
    for (int tile : {4, 2}) {
      SCOPED_TRACE(variant + " F(" + std::to_string(tile) + "x" + std::to_string(tile) + ", 3x3)");
      check_against_reference(tile);
    }
  }
  winograd_f32_select_kernel("");
}

void check_against_reference(int tile) {
  ThreadPool pool(2);
  uint32_t seed = 7;
  for (const Case& c : {Case{1, 32, 32, 8, 8, 1}, Case{2, 35, 41, 13, 11, 1}, Case{1, 40, 33, 7, 7, 0},
                        Case{1, 33, 32, 9, 14, 2}, Case{1, 64, 48, 28, 28, 1},
                        // Whole 16-channel blocks on planes whose interior tiles take the AVX2 gather and scatter
                        // (8 floats read per tile row, whole 4x4 outputs), with partial tiles at the right and
                        // bottom edges, and partial channel blocks beside whole ones.
                        Case{1, 16, 32, 23, 30, 1}, Case{2, 40, 24, 17, 19, 0}, Case{1, 32, 16, 12, 12, 1},
                        // Batches of small planes (small weights: an image per pass; StackedPassesGiveEachImagesBits
                        // covers the stacked passes).
                        Case{5, 24, 20, 7, 7, 1}, Case{3, 24, 20, 28, 28, 1}}) {
    ASSERT_TRUE(conv::winograd_applies(attributes_of(c), {c.out_channels, c.in_channels, 3, 3}));
    const conv::ConvGeometry g = geometry_of(c);
    const auto x = random_values(g.batch * g.in_channels * g.in_size, seed++);
    const auto w = random_values(c.out_channels * c.in_channels * 9, seed++);
    const auto bias = random_values(c.out_channels, seed++);
    std::vector<float> expected(static_cast<size_t>(g.batch * g.out_channels * g.out_size));
    conv::conv_reference_f32(conv::ConvF32Args{g, x.data(), w.data(), nullptr, bias.data(), expected.data()});
    const auto weights = conv::make_winograd_weights(w.data(), c.out_channels, c.in_channels, tile);
    for (bool clamp : {false, true}) {
      const float lo = clamp ? 0.0f : -INFINITY, hi = clamp ? 1.5f : INFINITY;
      std::vector<float> y(expected.size(), std::nanf(""));
      conv::winograd_conv_f32(g, *weights, x.data(), bias.data(), lo, hi, y.data(), pool);
      double scale = 0.0;
      for (float e : expected) scale = std::max(scale, static_cast<double>(std::fabs(e)));
      for (size_t i = 0; i < y.size(); ++i) {
        const double want = std::min(std::max(static_cast<double>(expected[i]), static_cast<double>(lo)), static_cast<double>(hi));
        // Winograd's float32 error: within 1e-5 of the output's scale (measured ~1e-6 here).
        ASSERT_NEAR(y[i], want, 1e-5 * scale) << "case " << c.in_channels << "x" << c.height << "x" << c.width
                                              << " pad " << c.pad << " element " << i;
      }
    }
  }
}

// On a pool of two, a plane whose transformed tiles outweigh the weights runs each thread's tiles through all three
// stages (49 tiles of 64 -> 48 channels), others stage by stage over the pool (16 tiles of 64 -> 256): either way
// the bits of one thread.
TEST(WinogradTest, TwoThreadsGiveTheBitsOfOne) {
  ThreadPool pool(2);
  for (int tile : {4, 2}) {
    // A batch of 8 images of 7x7.
    for (const Case& c : {Case{1, 64, 48, 28, 28, 1}, Case{1, 64, 256, 13, 13, 1}, Case{2, 35, 41, 30, 27, 1},
                          Case{8, 32, 24, 7, 7, 1}}) {
      const conv::ConvGeometry g = geometry_of(c);
      const auto x = random_values(g.batch * g.in_channels * g.in_size, 11);
      const auto w = random_values(c.out_channels * c.in_channels * 9, 12);
      const auto bias = random_values(c.out_channels, 13);
      const auto weights = conv::make_winograd_weights(w.data(), c.out_channels, c.in_channels, tile);
      std::vector<float> one(static_cast<size_t>(g.batch * g.out_channels * g.out_size)), two(one.size());
      SerialParallelism serial;
      conv::winograd_conv_f32(g, *weights, x.data(), bias.data(), -INFINITY, INFINITY, one.data(), serial);
      conv::winograd_conv_f32(g, *weights, x.data(), bias.data(), -INFINITY, INFINITY, two.data(), pool);
      EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0)
          << "case " << c.in_channels << " -> " << c.out_channels << " at " << c.height << "x" << c.width << ", tile "
          << tile;
    }
  }
}

// Large transformed weights with few tiles per image: the images' tiles run stacked as the GEMMs' rows, in one
// pass (7x7, F(2x2): 16 tiles each) or in passes of fourteen images and a last one of two (12x12, F(4x4): 9 tiles
// each), on one thread and two; each image gets the bits it gets alone. Small weights run image by image.
TEST(WinogradTest, StackedPassesGiveEachImagesBits) {
  ThreadPool pool(2);
  SerialParallelism serial;
  struct Stacked {
    int tile;
    Case c;
  };
  for (const Stacked& s : {Stacked{2, Case{3, 256, 256, 7, 7, 1}}, Stacked{4, Case{16, 192, 160, 12, 12, 1}}}) {
    const Case& c = s.c;
    const conv::ConvGeometry g = geometry_of(c);
    conv::ConvGeometry one = g;
    one.batch = 1;
    const auto x = random_values(g.batch * g.in_channels * g.in_size, 21);
    const auto w = random_values(c.out_channels * c.in_channels * 9, 22);
    const auto bias = random_values(c.out_channels, 23);
    const auto weights = conv::make_winograd_weights(w.data(), c.out_channels, c.in_channels, s.tile);
    EXPECT_TRUE(conv::winograd_stacks_images(g, *weights));
    EXPECT_FALSE(conv::winograd_stacks_images(one, *weights));
    const int64_t image_in = g.in_channels * g.in_size, image_out = g.out_channels * g.out_size;
    std::vector<float> alone(static_cast<size_t>(g.batch * image_out));
    for (int64_t n = 0; n < g.batch; ++n) {
      conv::winograd_conv_f32(one, *weights, x.data() + n * image_in, bias.data(), 0.0f, INFINITY,
                              alone.data() + n * image_out, serial);
    }
    for (Parallelism* par : {static_cast<Parallelism*>(&serial), static_cast<Parallelism*>(&pool)}) {
      std::vector<float> stacked(alone.size(), std::nanf(""));
      conv::winograd_conv_f32(g, *weights, x.data(), bias.data(), 0.0f, INFINITY, stacked.data(), *par);
      EXPECT_EQ(std::memcmp(alone.data(), stacked.data(), alone.size() * sizeof(float)), 0)
          << "F(" << s.tile << "x" << s.tile << ") batch " << c.batch << " on " << par->thread_count() << " threads";
    }
  }
  // Small transformed weights (36 x 32 x 24 floats) run image by image.
  const auto small = conv::make_winograd_weights(random_values(24 * 32 * 9, 24).data(), 24, 32, 4);
  EXPECT_FALSE(conv::winograd_stacks_images(geometry_of(Case{8, 32, 24, 7, 7, 1}), *small));
}

// Planes whose 4x4 output tiles fill less than half the rows of the GEMM's register tiles, or fewer than four,
// run on the GEMM (ResNet-50's 7x7 layers: 4 tiles, on GEMM with 14-row tiles, Winograd with 6-row ones).
TEST(WinogradTest, SuitsOnlyPlanesOfEnoughTiles) {
  const int64_t rows = gemm_f32_tile().rows;
  EXPECT_FALSE(conv::winograd_suits_plane({4, 4}));   // 1 tile
  EXPECT_FALSE(conv::winograd_suits_plane({4, 12}));  // 3 tiles
  EXPECT_EQ(conv::winograd_suits_plane({7, 7}), 2 * 4 >= rows);
  EXPECT_EQ(conv::winograd_suits_plane({8, 8}), 2 * 4 >= rows);
  EXPECT_EQ(conv::winograd_suits_plane({4, 28}), 2 * 7 >= rows);
  EXPECT_TRUE(conv::winograd_suits_plane({4, 29}));  // 8 tiles
  EXPECT_TRUE(conv::winograd_suits_plane({12, 12}));
  EXPECT_TRUE(conv::winograd_suits_plane({14, 14}));
  EXPECT_TRUE(conv::winograd_suits_plane({56, 56}));
}

// F(4x4) from 9 tiles of 4x4 on, F(2x2) below where it has 9 tiles of 2x2 (ResNet-50's 7x7 layers), else F(4x4)
// where winograd_suits_plane takes it, else neither.
TEST(WinogradTest, TileForPlane) {
  EXPECT_EQ(conv::winograd_tile_for_plane({56, 56}), 4);
  EXPECT_EQ(conv::winograd_tile_for_plane({14, 14}), 4);
  EXPECT_EQ(conv::winograd_tile_for_plane({12, 12}), 4);  // 9 tiles of 4x4
  EXPECT_EQ(conv::winograd_tile_for_plane({7, 7}), 2);    // 4 of 4x4, 16 of 2x2
  EXPECT_EQ(conv::winograd_tile_for_plane({5, 5}), 2);    // 9 of 2x2
  EXPECT_EQ(conv::winograd_tile_for_plane({4, 4}), 0);    // 1 of 4x4, 4 of 2x2
  EXPECT_EQ(conv::winograd_tile_for_plane({4, 29}), 2);   // 8 of 4x4, 30 of 2x2
}

TEST(WinogradTest, AppliesOnlyToUnitStride3x3SingleGroup) {
  conv::ConvAttributes attrs;
  attrs.strides = {1, 1};
  attrs.dilations = {1, 1};
  EXPECT_TRUE(conv::winograd_applies(attrs, {64, 64, 3, 3}));
  EXPECT_FALSE(conv::winograd_applies(attrs, {64, 64, 1, 1}));
  EXPECT_FALSE(conv::winograd_applies(attrs, {8, 8, 3, 3}));  // too few channels to pay for the transforms
  EXPECT_FALSE(conv::winograd_applies(attrs, {64, 15, 3, 3}));
  // 16 and 17 input channels: a depth the rows-in-place GEMM reads in place, faster with AVX-512's 32-column tiles.
  const bool wide_tiles = gemm_f32_tile().columns >= 32;
  EXPECT_EQ(conv::winograd_applies(attrs, {64, 16, 3, 3}), !wide_tiles);
  EXPECT_EQ(conv::winograd_applies(attrs, {64, 17, 3, 3}), !wide_tiles);
  EXPECT_TRUE(conv::winograd_applies(attrs, {64, 18, 3, 3}));
  attrs.strides = {2, 2};
  EXPECT_FALSE(conv::winograd_applies(attrs, {64, 64, 3, 3}));
  attrs.strides = {1, 1};
  attrs.dilations = {2, 2};
  EXPECT_FALSE(conv::winograd_applies(attrs, {64, 64, 3, 3}));
  attrs.dilations = {1, 1};
  attrs.group = 2;
  EXPECT_FALSE(conv::winograd_applies(attrs, {64, 32, 3, 3}));
}

}  // namespace
}  // namespace tessera
