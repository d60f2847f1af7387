// 8-bit integer GEMM (the q8-gemm family): exact int32 sums of (A - a_zero_point) * (B - b_zero_point[j]) over
// uint8/int8 operands, then stored as int32 or dequantized to float. One micro-kernel per ISA, chosen once from
// CPUID: AVX-512 VNNI (vpdpbusd on uint8 x int8, 4 depth steps per lane; int8 A is shifted to uint8 and uint8 B
// to int8, the zero-point terms are corrected exactly with row and column sums), AVX2 (operands widened to int16
// with the zero points subtracted, vpmaddwd, B kept as bytes where B - zb fits int8; the saturating vpmaddubsw only
// where its pair sums cannot saturate: a B or an A whose bytes fit in 7 bits) and a portable one. Every
// variant gives the same bits: the sums are exact integers (int32 wraps around as the reference does), and the
// float epilogue is the same sequence of roundings everywhere.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/parallel.h"

namespace tessera {

// op(B) (k x n) of 8-bit integers packed once for the micro-kernel selected when it was packed, with its
// per-column zero points (and, for the VNNI kernel, its column sums) folded in. Immutable once built; safe to
// share between threads and calls. Valid only for the micro-kernel selected when it was packed (q8_gemm throws
// Error(kInvalidArgument) otherwise).
class PackedQ8GemmB {
 public:
  PackedQ8GemmB() = default;
  int64_t depth() const { return depth_; }      // k
  int64_t columns() const { return columns_; }  // n
  bool empty() const { return storage_ == nullptr; }
  // The micro-kernel it was packed for (q8_gemm_kernel_name_for_depth(depth()) at packing time, or that kernel's
  // narrow-B sibling for a B whose bytes fit in 7 bits: q8_gemm_b7_ukernel_4x16__avx2, or its byte-B sibling for a B
  // of zero points int8 0 / uint8 128: q8_gemm_b8_ukernel_4x16__avx2); "" when empty.
  const char* kernel_name() const;

  struct Storage;  // the packed strips and per-column terms (q8-gemm.cpp)
  const Storage* storage() const { return storage_.get(); }

 private:
  friend PackedQ8GemmB pack_q8_gemm_b_choosing(bool, bool, bool, int64_t, int64_t, const uint8_t*, int64_t,
                                               const int32_t*, int64_t);
  int64_t depth_ = 0;
  int64_t columns_ = 0;
  std::shared_ptr<const Storage> storage_;
};

// Packs op(B): B stored k x n (ldb >= n), or n x k (ldb >= k) when trans_b; b_signed says the bytes are int8
// (else uint8). zero_points holds zero_point_count values: 1 (per tensor) or n (one per column of op(B)), each
// in the range of B's type (throws Error(kInvalidArgument) otherwise). k == 0 or n == 0 give an empty-sized pack.
PackedQ8GemmB pack_q8_gemm_b(bool b_signed, bool trans_b, int64_t k, int64_t n, const uint8_t* b, int64_t ldb,
                             const int32_t* zero_points, int64_t zero_point_count);

// As pack_q8_gemm_b, for a q8_gemm whose A' (uint8 A, or int8 A + 128) all lie in [0, 128] (reduced-range weights
// as A, shifted by 64 into uint8 with zero point 64): packed for the selected variant's narrow-A sibling where it has
// one (AVX2 without VNNI: q8_gemm_a7_ukernel_4x16__avx2, vpmaddubsw, exact for such A under any B, about 1.4x the
// 16-bit tile), else as pack_q8_gemm_b. q8_gemm checks A against it (Error(kInvalidArgument) otherwise).
PackedQ8GemmB pack_q8_gemm_b_for_narrow_a(bool b_signed, bool trans_b, int64_t k, int64_t n, const uint8_t* b,
                                          int64_t ldb, const int32_t* zero_points, int64_t zero_point_count);

// What q8_gemm does with the exact int32 sums S[i][j] = sum_p (A[i][p] - a_zp) * (B[p][j] - b_zp[j]):
// with c_s32 set, C[i * ldc + j] = S[i][j]; otherwise with c_f32 set,
// C[i * ldc + j] = float(S[i][j]) * a_scale * b_scales[b_scale_count == 1 ? 0 : j], then + bias[j] when bias is
// set, rounded left to right in float (no fused multiply-add): the same bits on every variant.
// With row_bias set, S[i][j] + row_bias[i] (wrapping as int32) takes S's place everywhere. With c_q8 set (and
// neither c_s32 nor c_f32), C[i * ldc + j] is that sum requantized as q8_requantize does with scale row_scales[i]
// and zero point q8_zero_point (an integer in the output type's range), as int8 when q8_signed, else uint8: the
// bytes of an int32 output followed by q8_requantize, without the int32 matrix (QLinearConv's output planes).
// q8_small_sums is q8_requantize's small_sums for those sums (with row_bias).
struct Q8GemmOutput {
  int32_t* c_s32 = nullptr;
  int64_t ldc = 0;  // >= n
  float* c_f32 = nullptr;
  float a_scale = 1.f;
  const float* b_scales = nullptr;  // b_scale_count floats; nullptr reads as 1
  int64_t b_scale_count = 1;        // 1 or n
  const float* bias = nullptr;      // n floats or nullptr
  const int32_t* row_bias = nullptr;  // m values or nullptr
  uint8_t* c_q8 = nullptr;
  bool q8_signed = false;
  const double* row_scales = nullptr;  // m values (c_q8 only)
  double q8_zero_point = 0;
  bool q8_small_sums = false;
  // m values or nullptr: the sums of A's rows (each row's k bytes as uint8), when the caller keeps them for a
  // constant uint8 A (weights); the GEMM then takes them instead of summing A again where it reads A in place.
  const int32_t* a_row_sums = nullptr;
  // Only columns [first_column, last_column) of C are computed and written (last_column -1: up to n); both whole
  // strips of q8_gemm_strip_columns(k) columns, or last_column n. Threads splitting one product by columns.
  int64_t first_column = 0;
  int64_t last_column = -1;
};

// C (m x n) from A (m x k row-major, lda >= k; uint8, or int8 when a_signed) with one zero point a_zero_point
// (in A's range) and the packed B (b.depth() == k, b.columns() == n). Work is split over `parallelism`
// (nullptr = the calling thread) by tiles of C; each element is computed the same way on any thread count.
// Throws Error(kInvalidArgument) when B does not match k and n or was packed for another micro-kernel.
void q8_gemm(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, bool a_signed, int32_t a_zero_point,
             const PackedQ8GemmB& b, const Q8GemmOutput& out, Parallelism* parallelism);

// Columns of C per strip of the kernel a GEMM of depth k runs on (the unit of Q8GemmOutput's column range).
int64_t q8_gemm_strip_columns(int64_t k);

// Whether an m x n x k GEMM runs on the AMX tiles (q8_gemm_kernel_name_for_depth(k)) and is below 2^24
// multiply-adds, a few microseconds there: callers that wrap it in stages of their own (an integer convolution's
// transposes and requantization) may keep the whole on one thread.
bool q8_gemm_on_amx_is_small(int64_t m, int64_t n, int64_t k);

// Requantizes int32 sums to 8 bits as ONNX's QLinear operators do, in double: out[i] = saturate(
// round_half_even(values[i] * scales[i * scale_stride]) + zero_point) as uint8 (int8 when out_signed), with
// scale_stride 0 (one scale) or 1 (one per value). round_half_even is std::nearbyint in the default rounding mode;
// products beyond +-2^30 saturate all the same; a NaN product gives the type's lowest value. zero_point must be
// an integer in the output type's range. Runs on the selected variant's ISA; the same bits on every variant.
// small_sums: the caller guarantees |values[i]| <= 2^24 for every i (from the operands' ranges and the depth, see
// conv::integer_sums_within_2_24), and each register of values skips testing for it; a value beyond it then gives
// a wrong byte.
void q8_requantize(const int32_t* values, int64_t count, const double* scales, int64_t scale_stride, double zero_point,
                   bool out_signed, uint8_t* out, bool small_sums = false);

// q8_requantize (one scale) of the int32 values int32(sums[i]) + bias (wrapping) for float sums that are exact
// integers below 2^31 in magnitude (the integer convolutions summed in float, ops/conv/integer_conv_in_float.h):
// the same bytes without an int32 array. small_sums as q8_requantize's, for int32(sums[i]) + bias.
void q8_requantize_float_sums(const float* sums, int64_t count, int32_t bias, double scale, double zero_point,
                              bool out_signed, uint8_t* out, bool small_sums = false);

// q8_requantize_float_sums for channels-last sums: out[p * channels + c] is q8_requantize of int32(sums[p * channels
// + c]) + bias[c] (wrapping; bias may be nullptr: 0) with scale scales[c], for positions x channels sums that are
// exact integers below 2^31 in magnitude (a depthwise convolution summed in float, channels-last). The same bytes
// as q8_requantize channel by channel. small_sums as q8_requantize's, for the sums with their biases.
void q8_requantize_float_sums_channels(const float* sums, int64_t positions, int64_t channels, const int32_t* bias,
                                       const double* scales, double zero_point, bool out_signed, uint8_t* out,
                                       bool small_sums = false);

// The int32 form of q8_requantize_float_sums_channels, with strides: out[p * ld_out + c] is q8_requantize of
// sums[p * ld_sums + c] + bias[c] (wrapping; bias may be nullptr: 0) with scale scales[c], for positions x channels
// sums (a convolution's output positions by its output channels, from the q8 GEMM with positions as rows). The same
// bytes as q8_requantize channel by channel. small_sums as q8_requantize's, for the sums with their biases.
void q8_requantize_channels(const int32_t* sums, int64_t positions, int64_t channels, int64_t ld_sums,
                            const int32_t* bias, const double* scales, double zero_point, bool out_signed, uint8_t* out,
                            int64_t ld_out, bool small_sums = false);

// The selected micro-kernel, e.g. "q8_gemm_ukernel_8x32__avx512vnni"; every one this CPU runs (CPUID choice
// first); and a test hook selecting one by name ("" = the CPUID choice; false, changing nothing, for unknown or
// unrunnable names). Packed B made under one selection must not be used under another. Not thread-safe.
const char* q8_gemm_kernel_name();
// The micro-kernel a GEMM of depth k runs on and packs B for: the CPUID choice leaves shallow GEMMs and badly
// padded ones to the next variant where its first one pays off only on the others (the AMX tiles: depth >= 64,
// padding to whole 64-step tiles at most a quarter of it); a selected kernel runs every depth.
const char* q8_gemm_kernel_name_for_depth(int64_t k);
// Whether q8_gemm takes `b` now: packed for the kernel of its depth (or that kernel's narrow-B sibling), so not
// before a test selected another kernel. False when empty.
bool q8_gemm_runs_packed(const PackedQ8GemmB& b);
// Whether `b` was packed for the narrow-B sibling of the kernel of its depth (a B whose bytes fit in 7 bits, on a
// CPU without VNNI: q8_gemm_b7_ukernel_4x16__avx2). False when empty.
bool q8_gemm_packed_for_narrow_b(const PackedQ8GemmB& b);
// Whether `b` was packed as bytes for the int16 tile of the kernel of its depth (a B with int8 zero points 0 or uint8
// ones 128 on a CPU without VNNI: q8_gemm_b8_ukernel_4x16__avx2). False when empty.
bool q8_gemm_packed_for_byte_b(const PackedQ8GemmB& b);
// Whether the selected kernel has a faster narrow-B sibling, so that weights in 7 bits (reduced-range quantization)
// run faster than 8-bit ones (AVX2 without VNNI).
bool q8_gemm_has_narrow_b_kernel();
// Whether the variant of depth k has a narrow-A sibling (see pack_q8_gemm_b_for_narrow_a).
bool q8_gemm_has_narrow_a_kernel(int64_t k);
// Whether the tiles of depth k's variant requantize a c_q8 output straight from their registers when the call
// allows it (small sums, every row scale a float below 64, an integer zero point): then writing the bytes from the
// tiles beats int32 sums requantized in a second pass (the 256-bit AVX2 / AVX-VNNI tiles).
bool q8_gemm_requantizes_in_registers(int64_t k);
// Whether every one of `count` requantization scales is a finite float below 64 in magnitude: with small sums and an
// integer zero point, what that in-register requantization (and the integer-domain one of q8_requantize) needs.
bool q8_requantize_scales_are_moderate(const double* scales, int64_t count);
std::vector<std::string> q8_gemm_kernel_names();
bool q8_gemm_select_kernel(const std::string& name);

}  // namespace tessera
