// f32-dwconv for the baseline ISA (portable fallback).
#include "kernels/f32-dwconv/f32-dwconv-impl.h"

namespace tessera::f32_dwconv {

const DwConvSet kPortableSet = {"f32_dwconv__portable", dwconv, dwconv_channels};

}  // namespace tessera::f32_dwconv
