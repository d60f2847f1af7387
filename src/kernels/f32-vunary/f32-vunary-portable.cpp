// f32-vunary loops for the baseline ISA (portable fallback).
#include "kernels/f32-vunary/f32-vunary-loops.h"

namespace tessera::f32_vunary {

const VUnarySet kPortableSet = make_set("f32_vunary__portable");

}  // namespace tessera::f32_vunary
