// f32-sqdist for any CPU (the baseline ISA of the build).
#include "kernels/f32-sqdist/f32-sqdist-impl.h"

namespace tessera::f32_sqdist {
const SqdistSet kPortableSet = {"f32_sqdist__portable", sqdist};
}  // namespace tessera::f32_sqdist
