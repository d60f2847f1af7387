// The compiled extension `tessera._tessera`; the public API is the pure-Python `tessera` package over it.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "error_translation.h"
#include "native_session.h"

namespace nb = nanobind;
using namespace tessera::python;

NB_MODULE(_tessera, m) {
  m.doc() = "Tessera's compiled core; use the `tessera` package.";
  m.attr("version") = TESSERA_VERSION;
  register_error_translator();
  m.def("set_error_classes", &set_error_classes, "Exception class per ErrorCode name ('' for the fallback).");

  nb::class_<TerminateFlag>(m, "TerminateFlag")
      .def(nb::init<>())
      .def("set", [](TerminateFlag& f, bool v) { f.value.store(v); })
      .def("get", [](const TerminateFlag& f) { return f.value.load(); });

  nb::class_<NativeSession>(m, "NativeSession")
      .def(nb::init<nb::handle, const nb::dict&>(), nb::arg("source"), nb::arg("options"))
      .def("inputs", &NativeSession::inputs)
      .def("overridable_initializers", &NativeSession::overridable_initializers)
      .def("outputs", &NativeSession::outputs)
      .def("metadata", &NativeSession::metadata)
      .def("run", &NativeSession::run, nb::arg("names"), nb::arg("arrays"), nb::arg("dtypes"), nb::arg("output_names"),
           nb::arg("terminate").none(), nb::arg("timeout_ms") = 0)
      .def_prop_ro("profiling_enabled", &NativeSession::profiling_enabled)
      .def("end_profiling", &NativeSession::end_profiling);
}
