// q8-dwconv: the exact int32 sums of a 3x3 depthwise convolution of one 8-bit channel plane (NCHW), for QLinearConv's
// depthwise layers, one implementation per ISA (AVX-512 BW, AVX2, portable) chosen once from CPUID. Each variant
// copies the plane once into rows padded with the zero point's byte (q8-dwconv-table.h), folds the zero point into
// the bias (bias - zp * sum(w)), then forms every output from pairs of horizontally adjacent taps: bytes loaded at
// any offset and widened to int16 hold, in each int32 lane, a pair (x[j], x[j + 1]), and vpmaddwd against the
// broadcast weight pair (w0, w1) adds both products in one operation, tap 2 paired with a zero weight
// (q8-dwconv-impl.h). Column stride 1 reads each row at four offsets (even and odd outputs, interleaved at the end),
// column stride 2 at two. Exact: the sums are integers (int32, wrapping).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/window2d.h"

namespace tessera {

// True when q8_dwconv3x3 takes window `w`: a 3x3 kernel, dilation 1, row stride >= 1, column stride 1 or 2, and
// positive output sizes.
bool q8_dwconv3x3_supports(const Window2d& w);

// Bytes of scratch q8_dwconv3x3 needs for window `w` (per call; callers keep one buffer per thread).
int64_t q8_dwconv3x3_scratch_bytes(const Window2d& w);

// sums[oy * out_w + ox] = bias + sum over dy, dx < 3 of weights[dy * 3 + dx] * (x[iy][ix] - x_zero_point) with
// iy = oy * stride_h + dy - pad_top, ix = ox * stride_w + dx - pad_left, the taps outside the in_h x in_w plane
// contributing 0; int32 arithmetic wrapping modulo 2^32 (the bias added as it is). x holds in_h x in_w bytes
// (int8 when x_signed, else uint8), row-major; every |x - x_zero_point| and |weights[k]| must be at most 255 (the
// differences of 8-bit values and their zero points). Requires q8_dwconv3x3_supports(w) and `scratch` of
// q8_dwconv3x3_scratch_bytes(w) bytes.
void q8_dwconv3x3(const Window2d& w, const uint8_t* x, bool x_signed, int32_t x_zero_point, const int16_t* weights,
                  int32_t bias, int32_t* sums, void* scratch);

// The channels-last form, for small planes (where one plane per call leaves most of a register idle): the sums of
// `channels` channels at once, without a bias. x is the block's input transposed channels-last and padded: rows x cols
// positions (rows = (out_h - 1) * stride_h + 3, cols = (out_w - 1) * stride_w + 3; padded position (r, c) is input
// (r - pad_top, c - pad_left)), each position `ld` bytes apart, its first `channels` bytes the channels' values, the
// padding positions holding each channel's zero point byte (so that every tap's x - zero point is 0 there). ld is
// a multiple of 32 at least `channels`; the bytes past `channels` at each position are read, their weights 0.
// weights: channels x 9 differences w - w_zero_point (|w| <= 255). Writes sums[position * ld + c] = sum over the
// nine taps of weights[c * 9 + tap] * x (the bytes as they are, int8 when x_signed; the caller folds the zero point
// into its bias: q8_dwconv3x3_folded_bias) for the out_h x out_w positions and every c < ld (0 past `channels`).
// `scratch` holds q8_dwconv3x3_nhwc_scratch_bytes(ld) bytes. Requires q8_dwconv3x3_supports(w).
int64_t q8_dwconv3x3_nhwc_scratch_bytes(int64_t ld);
void q8_dwconv3x3_nhwc(const Window2d& w, int64_t channels, int64_t ld, const uint8_t* x, bool x_signed,
                       const int16_t* weights, int32_t* sums, void* scratch);

// One channel's bias with its input zero point folded in, as q8_dwconv3x3 folds it: bias - zero_point x the sum of
// its nine weights, modulo 2^32.
int32_t q8_dwconv3x3_folded_bias(int32_t bias, int32_t zero_point, const int16_t* weights);

// The selected variant, e.g. "q8_dwconv3x3__avx2"; every variant this CPU runs (CPUID choice first); and a test
// hook selecting one by name ("" = the CPUID choice; false for unknown or unrunnable names; not thread-safe).
const char* q8_dwconv3x3_kernel_name();
std::vector<std::string> q8_dwconv3x3_kernel_names();
bool q8_dwconv3x3_select_kernel(const std::string& name);

}  // namespace tessera
