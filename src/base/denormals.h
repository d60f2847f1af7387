// Denormal floats flushed to zero on a thread (FTZ: results that would be denormal become 0; DAZ: denormal inputs
// read as 0), for sessions that ask for it as ONNX Runtime's "session.set_denormal_as_zero" does: arithmetic on
// denormals can run many times slower on x86 CPUs, and models whose activations decay toward zero hit it. The
// setting is per thread (the MXCSR register); elsewhere than x86 these do nothing.
#pragma once

namespace tessera {

// Turns FTZ and DAZ on or off for the calling thread.
void set_denormals_as_zero(bool on);

// Turns FTZ and DAZ on for the calling thread while it lives (when `on`), restoring the previous setting after.
class ScopedDenormalsAsZero {
 public:
  explicit ScopedDenormalsAsZero(bool on);
  ~ScopedDenormalsAsZero();
  ScopedDenormalsAsZero(const ScopedDenormalsAsZero&) = delete;
  ScopedDenormalsAsZero& operator=(const ScopedDenormalsAsZero&) = delete;

 private:
  bool active_ = false;
  unsigned saved_ = 0;
};

}  // namespace tessera
