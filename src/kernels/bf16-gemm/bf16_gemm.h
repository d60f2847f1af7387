// BFloat16 GEMM (the bf16-gemm family): C (float32) = alpha * A * B over bfloat16 operands, accumulated in
// float32. One micro-kernel per ISA, chosen once from CPUID: AVX-512 BF16 (vdpbf16ps: two depth steps of 16
// columns per instruction), and, for CPUs without it, AVX-512 F and AVX2 kernels that widen the bfloat16 pairs
// to float32 and use FMA, plus a portable one. B is packed once (the constant weights) with pairs of depth steps
// interleaved; A is packed per call, from bfloat16, or from float32 rounded to bfloat16 (nearest even) as it is
// packed. Variants agree to float32 rounding, not bit for bit: vdpbf16ps rounds differently from two FMAs and
// flushes denormal inputs and outputs to zero.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "base/parallel.h"

namespace tessera {

// op(B) (k x n) of bfloat16 packed once for the micro-kernel selected when it was packed. Immutable once built;
// safe to share between threads and calls. Valid only for that micro-kernel (bf16_gemm throws
// Error(kInvalidArgument) otherwise).
class PackedBf16GemmB {
 public:
  PackedBf16GemmB() = default;
  int64_t depth() const { return depth_; }      // k
  int64_t columns() const { return columns_; }  // n
  bool empty() const { return storage_ == nullptr; }
  // The micro-kernel it was packed for (bf16_gemm_kernel_name() at packing time); "" when empty.
  const char* kernel_name() const;

  struct Storage;  // the packed strips (bf16-gemm.cpp)
  const Storage* storage() const { return storage_.get(); }

 private:
  friend PackedBf16GemmB pack_bf16_gemm_b_any(bool, bool, int64_t, int64_t, const void*, int64_t);
  friend PackedBf16GemmB bf16_gemm_b_view(int64_t, int64_t, const uint16_t*);
  int64_t depth_ = 0;
  int64_t columns_ = 0;
  std::shared_ptr<const Storage> storage_;
};

// Packs op(B): B stored k x n (ldb >= n), or n x k (ldb >= k) when trans_b, as bfloat16 bits.
PackedBf16GemmB pack_bf16_gemm_b(bool trans_b, int64_t k, int64_t n, const uint16_t* b, int64_t ldb);
// As pack_bf16_gemm_b from float32 values, each rounded to bfloat16 (nearest even; NaN stays NaN).
PackedBf16GemmB pack_bf16_gemm_b_f32(bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb);
// The two above in one: b_f32 says whether b holds float32 (else bfloat16 bits).
PackedBf16GemmB pack_bf16_gemm_b_any(bool b_f32, bool trans_b, int64_t k, int64_t n, const void* b, int64_t ldb);

// Elements (bfloat16, 2 bytes each) of a B of k x n packed for the micro-kernel selected now.
int64_t bf16_gemm_packed_b_elements(int64_t k, int64_t n);

// Packs float32 B (k x n row-major, row p at b + p * ldb, ldb >= n), each value rounded to bfloat16, into `buffer`
// (bf16_gemm_packed_b_elements(k, n) elements, 64-byte aligned, owned by the caller) for the micro-kernel selected
// now, the strips split over `parallelism` (nullptr: the calling thread): B operands made per call, such as a
// convolution's activations. The result views `buffer` and is valid while the buffer holds what was packed.
PackedBf16GemmB pack_bf16_gemm_b_f32_into(int64_t k, int64_t n, const float* b, int64_t ldb, uint16_t* buffer,
                                          Parallelism* parallelism);

// The same packing strip by strip, for B made piecewise (a convolution's im2col matrix panel by panel): columns
// of B per strip for the selected micro-kernel; one strip, columns [j0, j0 + cols) of a k x n B (j0 a multiple of
// bf16_gemm_b_strip_columns(), cols up to it and to n - j0), given as rows (row p's first column at b + p * ldb),
// written into its place in `buffer`; and the view of `buffer` once every strip is written.
int64_t bf16_gemm_b_strip_columns();
void pack_bf16_gemm_b_f32_strip(int64_t k, int64_t n, int64_t j0, int64_t cols, const float* b, int64_t ldb,
                                uint16_t* buffer);
PackedBf16GemmB bf16_gemm_b_view(int64_t k, int64_t n, const uint16_t* buffer);
// The same strip from B given transposed: column j of B (k float32 values) at b + j * ldb (ldb >= k), as a
// channels-last image holds a pointwise convolution's B (position j's channels); written at `strip`
// (bf16_gemm_packed_b_elements(k, 1) elements), the bits pack_bf16_gemm_b_f32_strip writes from B itself.
void pack_bf16_gemm_b_f32_transposed_strip(int64_t k, int64_t j0, int64_t cols, const float* b, int64_t ldb,
                                           uint16_t* strip);

// A (m x k) of bfloat16 packed once (constant weights as the left operand, such as a convolution's) for the
// micro-kernel selected when it was packed. Immutable once built; safe to share between threads and calls. Valid
// only for that micro-kernel (bf16_gemm throws Error(kInvalidArgument) otherwise).
class PackedBf16GemmA {
 public:
  PackedBf16GemmA() = default;
  int64_t rows() const { return rows_; }    // m
  int64_t depth() const { return depth_; }  // k
  bool empty() const { return storage_ == nullptr; }

  struct Storage;  // the packed strips (bf16-gemm.cpp)
  const Storage* storage() const { return storage_.get(); }

 private:
  friend PackedBf16GemmA pack_bf16_gemm_a_any(bool, int64_t, int64_t, const void*, int64_t);
  int64_t rows_ = 0;
  int64_t depth_ = 0;
  std::shared_ptr<const Storage> storage_;
};

// Packs A (m x k row-major, lda >= k): float32 rounded to bfloat16 (nearest even) when a_f32, else bfloat16 bits.
PackedBf16GemmA pack_bf16_gemm_a_any(bool a_f32, int64_t m, int64_t k, const void* a, int64_t lda);

// The left operand: m x k row-major (ld >= k), bfloat16 bits or float32 (rounded to bfloat16 as it is packed), or
// packed once (`packed`, of m x k). Exactly one of bf16, f32 and packed is set (or none when k == 0).
struct Bf16GemmA {
  const uint16_t* bf16 = nullptr;
  const float* f32 = nullptr;
  int64_t ld = 0;
  const PackedBf16GemmA* packed = nullptr;
};

// An activation applied in place to a finished tile of C: `rows` rows of `cols` contiguous values, row i at
// c + i * ldc. It must act on each element alone (tile boundaries depend on the kernel). The signature of
// GemmRowsActivationF32, so the f32 GEMM's activations serve both.
using Bf16GemmRowsActivation = void (*)(float* c, int64_t rows, int64_t cols, int64_t ldc);

// What bf16_gemm does with each float32 sum S[i][j] while the tile is in registers:
// C[i][j] = clamp(alpha * S[i][j] + column_bias[j] + row_bias[i] + sum[i * sum_ld + j], min, max) (each addend only
// when its pointer is set; NaN passes the clamp), then rows_activation (when set) on the finished tile.
struct Bf16GemmEpilogue {
  float alpha = 1.0f;
  const float* column_bias = nullptr;  // n values
  const float* row_bias = nullptr;     // m values
  const float* sum = nullptr;          // m x n, rows sum_ld apart
  int64_t sum_ld = 0;
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
  Bf16GemmRowsActivation rows_activation = nullptr;
};

// C (m x n, row i at c + i * ldc, ldc >= n) from A (m x k) and the packed B (b.depth() == k, b.columns() == n).
// C is written without being read. Work is split over `parallelism` (nullptr = the calling thread) by tiles of C;
// each element is computed the same way on any thread count. Throws Error(kInvalidArgument) when B does not match
// k and n or was packed for another micro-kernel, or A is not given exactly once.
void bf16_gemm(int64_t m, int64_t n, int64_t k, const Bf16GemmA& a, const PackedBf16GemmB& b, float* c, int64_t ldc,
               const Bf16GemmEpilogue& epilogue, Parallelism* parallelism);

// out[i] = values[i] rounded to bfloat16 (nearest even; NaN stays a quiet NaN, as float_to_bfloat16), vectorised
// for the selected variant's ISA.
void bf16_round_f32(const float* values, int64_t count, uint16_t* out);

// One image of a 2-D convolution's input as the source of its im2col matrix (row c * k_h * k_w + kh * k_w + kw,
// column oh * out_w + ow: input element (oh * stride_h + kh * dilation_h, ow * stride_w + kw * dilation_w) of
// channel c, in padded coordinates), held as bfloat16 with the padding written out: channel c's padded row r at
// data + c * plane_pitch + r * row_pitch, its columns split into stride_w phases of phase_width elements (padded
// column x at x % stride_w * phase_width + x / stride_w), so the columns one kernel column reads for consecutive
// outputs are consecutive elements. The caller rounds and lays out the input (see conv_bf16).
struct Bf16Im2colImage {
  const uint16_t* data = nullptr;
  int64_t channels = 0, kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t out_w = 1;
  int64_t plane_pitch = 0, row_pitch = 0, phase_width = 0;
};

// Whether the selected micro-kernel packs B strips straight from a Bf16Im2colImage (AVX-512 BW variants with
// 32-column strips); where not, make the im2col rows in float32 and use pack_bf16_gemm_b_f32_strip.
bool bf16_gemm_packs_im2col();
// One strip of B: columns [j0, j0 + cols) of the im2col matrix of `image` (image.channels * kernel taps rows;
// cols from 1 to bf16_gemm_b_strip_columns()), written at `strip` (bf16_gemm_packed_b_elements(rows, 1) elements)
// exactly as pack_bf16_gemm_b_f32_strip writes such a strip from the float32 values the bfloat16 ones were rounded
// from. Requires bf16_gemm_packs_im2col().
void pack_bf16_gemm_b_im2col_strip(const Bf16Im2colImage& image, int64_t j0, int64_t cols, uint16_t* strip);

// Writes the packed strips of columns [j0, j0 + cols) of B into `strips` (laid out as a packed B of k x cols:
// pack_bf16_gemm_b_f32_strip with n = cols and column offsets from j0), on the thread that then uses them.
using Bf16GemmPackPanel = std::function<void(int64_t j0, int64_t cols, uint16_t* strips)>;

// C (m x n) = A (packed once, m x k) x B, with B made panel by panel of `panel_columns` columns (a multiple of
// bf16_gemm_b_strip_columns()) by `pack_panel` and multiplied right away, while the panel is in the cache of the
// thread that packed it: for a B made per call that is larger than A (a convolution's activations), instead of
// packing all of B first and reading it back. Panels are split over `parallelism`; each element is computed the
// same way on any thread count, and as bf16_gemm computes it.
void bf16_gemm_b_panels(int64_t m, int64_t n, int64_t k, const PackedBf16GemmA& a, int64_t panel_columns,
                        const Bf16GemmPackPanel& pack_panel, float* c, int64_t ldc, const Bf16GemmEpilogue& epilogue,
                        Parallelism* parallelism);

// The selected micro-kernel, e.g. "bf16_gemm_ukernel_14x32__avx512bf16"; every one this CPU runs (CPUID choice
// first); and a test hook selecting one by name ("" = the CPUID choice; false, changing nothing, for unknown or
// unrunnable names). Packed B made under one selection must not be used under another. Not thread-safe.
const char* bf16_gemm_kernel_name();
std::vector<std::string> bf16_gemm_kernel_names();
bool bf16_gemm_select_kernel(const std::string& name);

}  // namespace tessera
