// The table type of the vectorized float loops of reduce_util.h (max_f32, softmax_row_f32, ...): one instance per
// ISA level (vector_f32.cpp, vector_f32-avx512.cpp), picked at run time by VariantDispatch.
#pragma once

#include <cstdint>

namespace tessera {

struct VectorF32Set {
  const char* name;  // "f32_vector__avx512", ...
  float (*max)(const float*, int64_t);
  float (*sum)(const float*, int64_t);
  float (*exp_sum_store)(const float*, float*, int64_t, float);
  float (*exp_sum)(const float*, float*, int64_t, float);
  void (*softmax_row)(const float*, float*, int64_t, bool);
  void (*softmax_block)(const float*, float*, int64_t, int64_t, bool);
};

// The AVX-512 instance (vector_f32-avx512.cpp, compiled with -mavx512f/bw/vl and -mfma); x86-64 builds only.
extern const VectorF32Set kVectorF32Avx512;

}  // namespace tessera
