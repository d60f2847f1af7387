// Tessera's public C++ API: load an ONNX model into a Session and run it.
//
//   tessera::Session session("model.onnx");
//   tessera::Tensor x(tessera::DType::kFloat, {1, 3, 224, 224});
//   std::vector<tessera::RuntimeValue> outputs = session.run({{"input", x}});
//
// Every failure is a tessera::Error carrying an ErrorCode and a message naming the node, op and shapes.
#pragma once

#include "base/dtype.h"
#include "base/error.h"
#include "base/runtime_value.h"
#include "base/tensor.h"
#include "runtime/session.h"
