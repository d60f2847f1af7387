// The AVX-512 instance of the float loops of reduce_util.h (16 lanes), compiled with the AVX-512 flags (see
// src/CMakeLists.txt); vector_f32.cpp picks it where CPUID reports AVX-512 F/BW/VL.
#include "ops/reduction/vector_f32_impl.h"

namespace tessera {

const VectorF32Set kVectorF32Avx512 = make_vector_f32_set<16>("f32_vector__avx512");

}  // namespace tessera
