// model_warmup: the config's warmup requests, run once at load.
#include <random>

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "serve/datatype.h"
#include "serve/served_model.h"

namespace tessera::serve {

namespace {

// Fills `tensor` with values in [0, 4) (floats in [-1, 1)), like `tessera run --random-inputs`.
void fill_random(Tensor& tensor, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  visit_dtype(tensor.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* values = tensor.data<T>();
    for (int64_t i = 0; i < tensor.element_count(); ++i) {
      if constexpr (std::is_same_v<T, std::string>)
        values[i] = "warmup";
      else if constexpr (std::is_same_v<T, bool>)
        values[i] = uniform(rng) > 0;
      else if constexpr (std::is_floating_point_v<T> || kIsNarrowFloat<T>)
        values[i] = element_from_double<T>(uniform(rng));
      else if constexpr (std::is_integral_v<T>)
        values[i] = static_cast<T>((uniform(rng) + 1) * 2);
    }
  });
}

Tensor warmup_tensor(const inference::ModelWarmup& warmup, const std::string& input_name,
                     const inference::ModelWarmup::Input& input, const inference::ModelConfig& config,
                     std::mt19937& rng) {
  const std::string what = "model '" + config.name() + "' warmup '" + warmup.name() + "' input '" + input_name + "'";
  check_model(!input.has_input_data_file(), what, ": input_data_file is not supported (use zero_data or random_data)");
  const DType dtype = dtype_from_config(input.data_type());
  check_model(dtype != DType::kUndefined, what, ": data_type is missing");
  std::vector<int64_t> shape;
  if (config.max_batch_size() > 0) shape.push_back(std::max<uint32_t>(1, warmup.batch_size()));
  shape.insert(shape.end(), input.dims().begin(), input.dims().end());
  Tensor tensor(dtype, shape);
  if (input.random_data()) fill_random(tensor, rng);
  return tensor;
}

}  // namespace

void run_model_warmup(const Session& session, const inference::ModelConfig& config, int64_t timeout_ms) {
  std::mt19937 rng(12345);
  for (const inference::ModelWarmup& warmup : config.model_warmup()) {
    std::vector<std::pair<std::string, RuntimeValue>> feeds;
    for (const auto& [name, input] : warmup.inputs())
      feeds.emplace_back(name, warmup_tensor(warmup, name, input, config, rng));
    const uint32_t runs = std::max<uint32_t>(1, warmup.count());
    for (uint32_t i = 0; i < runs; ++i) {
      try {
        session.run(feeds, {}, RunControl{.timeout_ms = timeout_ms});
      } catch (const Error& e) {
        fail(ErrorCode::kInvalidModel, "model '", config.name(), "' warmup '", warmup.name(), "' failed: ", e.what());
      }
    }
  }
}

}  // namespace tessera::serve
