// f32-winograd transforms for the baseline ISA (portable fallback).
#include "kernels/f32-winograd/f32-winograd-impl.h"

namespace tessera::f32_winograd {

const WinogradSet kPortableSet = {"f32_winograd__portable", transform_input, transform_output};

}  // namespace tessera::f32_winograd
