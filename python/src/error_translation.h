// Translates tessera::Error into the Python exception classes of the `tessera` package (tessera/_errors.py
// registers them at import), so no C++ exception crosses into Python.
#pragma once

#include <nanobind/nanobind.h>

namespace tessera::python {

// Records the exception class to raise per ErrorCode: `classes` maps error_code_name() strings
// ("INVALID_ARGUMENT", ...) to classes, plus "" for the fallback class of unexpected C++ exceptions.
void set_error_classes(const nanobind::dict& classes);

// Installs the translator (once, at module import).
void register_error_translator();

}  // namespace tessera::python
