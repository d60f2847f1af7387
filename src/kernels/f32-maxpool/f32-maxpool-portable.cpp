// f32-maxpool for any CPU (the baseline ISA of the build).
#include "kernels/f32-maxpool/f32-maxpool-impl.h"

namespace tessera::f32_maxpool {
const MaxPoolSet kPortableSet = {"f32_maxpool__portable", maxpool, maxpool_interleaved};
}  // namespace tessera::f32_maxpool
