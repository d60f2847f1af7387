#include "error_translation.h"

#include <array>
#include <exception>
#include <new>

#include "base/error.h"

namespace nb = nanobind;

namespace tessera::python {

namespace {

constexpr ErrorCode kAllCodes[] = {ErrorCode::kInvalidArgument, ErrorCode::kInvalidModel, ErrorCode::kUnsupported,
                                   ErrorCode::kRuntime,         ErrorCode::kIo,           ErrorCode::kOutOfMemory};
constexpr size_t kCodeCount = std::size(kAllCodes);

// Strong references, held for the life of the process (the classes live in the tessera package anyway).
std::array<PyObject*, kCodeCount> code_classes{};
PyObject* fallback_class = nullptr;

PyObject* class_for(ErrorCode code) {
  PyObject* cls = code_classes[static_cast<size_t>(code)];
  if (cls != nullptr) return cls;
  return fallback_class != nullptr ? fallback_class : PyExc_RuntimeError;
}

}  // namespace

void set_error_classes(const nb::dict& classes) {
  for (ErrorCode code : kAllCodes) {
    nb::str key(error_code_name(code));
    if (!classes.contains(key)) continue;
    nb::object cls = classes[key];
    code_classes[static_cast<size_t>(code)] = cls.inc_ref().ptr();
  }
  if (classes.contains("")) fallback_class = nb::object(classes[""]).inc_ref().ptr();
}

void register_error_translator() {
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(class_for(e.code()), e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(class_for(ErrorCode::kOutOfMemory), "out of memory");
    }
  });
}

}  // namespace tessera::python
