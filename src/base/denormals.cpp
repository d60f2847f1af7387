#include "base/denormals.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace tessera {

namespace {
#if defined(__x86_64__) || defined(__i386__)
constexpr unsigned kFlushToZero = 0x8000;     // MXCSR bit 15
constexpr unsigned kDenormalsAreZero = 0x40;  // MXCSR bit 6
#endif
}  // namespace

void set_denormals_as_zero(bool on) {
#if defined(__x86_64__) || defined(__i386__)
  const unsigned bits = kFlushToZero | kDenormalsAreZero;
  _mm_setcsr(on ? (_mm_getcsr() | bits) : (_mm_getcsr() & ~bits));
#else
  (void)on;
#endif
}

ScopedDenormalsAsZero::ScopedDenormalsAsZero(bool on) : active_(on) {
#if defined(__x86_64__) || defined(__i386__)
  if (active_) {
    saved_ = _mm_getcsr();
    set_denormals_as_zero(true);
  }
#endif
}

ScopedDenormalsAsZero::~ScopedDenormalsAsZero() {
#if defined(__x86_64__) || defined(__i386__)
  if (active_) _mm_setcsr(saved_);
#endif
}

}  // namespace tessera
