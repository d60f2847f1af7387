// Portable f32-vexact loops (the project's default flags).
#include "kernels/f32-vexact/f32-vexact-loops.h"

namespace tessera::f32_vexact {
const VExactSet kPortableSet = make_set("f32_vexact__portable");
}  // namespace tessera::f32_vexact
