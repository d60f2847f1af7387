// The tile transforms of Winograd F(4x4, 3x3) and F(2x2, 3x3) for float32 NCHW planes (the GEMMs between them
// run on f32-gemm), one implementation per ISA (AVX-512, AVX2+FMA, portable) chosen once from CPUID. Channels are
// transformed 16 at a time, kept contiguous in the transformed arrays, and each tile's rows together (36 for
// F(4x4): 6x6 input tiles; 16 for F(2x2): 4x4 input tiles), so a tile's transform reads or writes one contiguous
// run and GEMM xi reads its rows at a stride of 36 (16) rows:
//   V[t][xi][c]  (xi = 6 * row + column of the 6x6 transform (4 * row + column of the 4x4 one), t = tile index,
//                 c = input channel)
//   M[t][xi][m]  (m = output channel)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

// One image's geometry: the input planes (in_channels x in_h x in_w, the first tile's input starting at
// (-pad_top, -pad_left)), the output planes (out_channels x out_h x out_w) and the tile x tile output tiles
// covering them (tile 4: F(4x4, 3x3); tile 2: F(2x2, 3x3)).
struct WinogradPlanes {
  int64_t tile = 4;  // outputs per tile side: 4 or 2
  int64_t in_h = 0, in_w = 0, pad_top = 0, pad_left = 0;
  int64_t out_h = 0, out_w = 0;
  int64_t in_channels = 0, out_channels = 0;
  int64_t in_size = 0, out_size = 0;  // elements of one input / output plane
  int64_t tiles_w = 0, tiles = 0;     // tiles per row, tiles per image
};

// V for tiles [t0, t1): V = B^T d B of each (tile + 2) x (tile + 2) input tile d (zero outside the input).
void winograd_input_transform_f32(const WinogradPlanes& g, const float* x, int64_t t0, int64_t t1, float* v);

// y for tiles [t0, t1): A^T m A of each tile, plus bias[m] (nullptr for none), clamped to [lo, hi], written where
// it lands inside the output planes.
void winograd_output_transform_f32(const WinogradPlanes& g, const float* m, const float* bias, float lo, float hi,
                                   int64_t t0, int64_t t1, float* y);

// The selected variant; every variant this CPU runs (CPUID choice first); the test hook ("" = CPUID choice).
const char* winograd_f32_kernel_name();
std::vector<std::string> winograd_f32_kernel_names();
bool winograd_f32_select_kernel(const std::string& name);

}  // namespace tessera
