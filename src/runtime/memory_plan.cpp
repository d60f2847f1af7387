#include "runtime/memory_plan.h"

#include <algorithm>
#include <limits>

namespace tessera {
namespace {

constexpr size_t kRegionAlignment = 64;  // as Tensor's own storage

size_t aligned(size_t bytes) { return (bytes + kRegionAlignment - 1) / kRegionAlignment * kRegionAlignment; }

// Whether `inner`'s bytes lie within `outer`'s (a view of it, or the same memory).
bool lies_within(const Tensor& inner, const Tensor& outer) {
  const auto* a = static_cast<const uint8_t*>(inner.raw_data());
  const auto* b = static_cast<const uint8_t*>(outer.raw_data());
  return a >= b && a + inner.byte_size() <= b + outer.byte_size();
}

}  // namespace

bool MemoryPlan::lies_in_arena(const Tensor& tensor, const uint8_t* base) const {
  if (!tensor.defined() || tensor.byte_size() == 0 || base == nullptr) return false;
  const auto* p = static_cast<const uint8_t*>(tensor.raw_data());
  return p + tensor.byte_size() > base && p < base + arena_bytes;
}

bool MemoryPlan::placed_as_planned(size_t step, size_t output, const Tensor& tensor, const uint8_t* base) const {
  if (!lies_in_arena(tensor, base)) return true;
  const auto* p = static_cast<const uint8_t*>(tensor.raw_data());
  const int r = step < expected.size() && output < expected[step].size() ? expected[step][output] : -1;
  if (r < 0) return false;
  const Region& region = regions[static_cast<size_t>(r)];
  return p >= base + region.offset && p + tensor.byte_size() <= base + region.offset + region.bytes;
}

std::vector<size_t> place_regions(const std::vector<size_t>& bytes, const std::vector<size_t>& first,
                                  const std::vector<size_t>& last, size_t* arena_bytes) {
  std::vector<size_t> offsets(bytes.size(), 0);
  std::vector<size_t> placed;  // regions placed so far, in placing order
  std::vector<size_t> live;
  size_t top = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const size_t size = aligned(bytes[i]);
    live.clear();
    for (size_t j : placed) {
      // Live together when their step ranges meet (both inclusive).
      if (first[j] <= last[i] && first[i] <= last[j]) live.push_back(j);
    }
    std::sort(live.begin(), live.end(), [&](size_t a, size_t b) { return offsets[a] < offsets[b]; });
    size_t best = std::numeric_limits<size_t>::max(), best_gap = std::numeric_limits<size_t>::max();
    size_t cursor = 0;
    for (size_t j : live) {
      if (offsets[j] > cursor) {
        const size_t gap = offsets[j] - cursor;
        if (gap >= size && gap < best_gap) {
          best = cursor;
          best_gap = gap;
        }
      }
      cursor = std::max(cursor, offsets[j] + aligned(bytes[j]));
    }
    offsets[i] = best != std::numeric_limits<size_t>::max() ? best : cursor;
    top = std::max(top, offsets[i] + size);
    placed.push_back(i);
  }
  *arena_bytes = top;
  return offsets;
}

MemoryPlanRecorder::MemoryPlanRecorder(size_t slots, size_t steps) : root_of_slot_(slots, -1), output_roots_(steps) {}

void MemoryPlanRecorder::after_step(size_t step, const std::vector<int>& input_slots,
                                    const std::vector<const RuntimeValue*>& inputs,
                                    const std::vector<int>& output_slots,
                                    const std::vector<const RuntimeValue*>& outputs, bool may_plan,
                                    bool has_subgraphs) {
  if (has_subgraphs) usable_ = false;
  std::vector<int>& roots = output_roots_[step];
  roots.assign(outputs.size(), -1);
  for (size_t o = 0; o < outputs.size(); ++o) {
    const int slot = output_slots[o];
    const RuntimeValue* value = outputs[o];
    if (slot < 0 || value == nullptr) continue;
    root_of_slot_[static_cast<size_t>(slot)] = -1;
    if (!value->is_tensor()) {
      // A sequence, map or optional may hold tensors that share memory with the inputs: not planned.
      usable_ = false;
      continue;
    }
    const Tensor& tensor = value->tensor();
    if (!tensor.defined() || tensor.byte_size() == 0) continue;
    int root = -2;  // -2: memory of its own
    for (size_t i = 0; i < inputs.size() && root == -2; ++i) {
      const RuntimeValue* in = inputs[i];
      if (in == nullptr || !in->is_tensor() || !in->tensor().defined() || in->tensor().byte_size() == 0) continue;
      if (lies_within(tensor, in->tensor())) root = input_slots[i] < 0 ? -1 : root_of_slot_[input_slots[i]];
    }
    if (root == -2) {
      Root r;
      r.bytes = tensor.byte_size();
      r.first = r.last = step;
      r.planned = may_plan && tensor.dtype() != DType::kString;
      r.step = step;
      r.output = o;
      r.dtype = tensor.dtype();
      r.shape = tensor.shape();
      roots_.push_back(std::move(r));
      root = static_cast<int>(roots_.size() - 1);
    }
    root_of_slot_[static_cast<size_t>(slot)] = root;
    roots[o] = root;
  }
}

void MemoryPlanRecorder::released(size_t step, int slot) {
  if (slot < 0) return;
  const int root = root_of_slot_[static_cast<size_t>(slot)];
  if (root < 0) return;
  Root& r = roots_[static_cast<size_t>(root)];
  r.last = std::max(r.last, step);
  r.released = true;
}

MemoryPlan MemoryPlanRecorder::finish(std::vector<std::vector<int64_t>> feed_shapes,
                                      const std::vector<int>& graph_output_slots) {
  MemoryPlan plan;
  plan.feed_shapes = std::move(feed_shapes);
  plan.usable = usable_;
  if (!usable_) return plan;
  for (int slot : graph_output_slots) {
    const int root = slot < 0 ? -1 : root_of_slot_[static_cast<size_t>(slot)];
    if (root >= 0) roots_[static_cast<size_t>(root)].planned = false;
  }
  const size_t steps = output_roots_.size();
  std::vector<int> region_of_root(roots_.size(), -1);
  std::vector<size_t> bytes, first, last;
  for (size_t r = 0; r < roots_.size(); ++r) {
    const Root& root = roots_[r];
    if (!root.planned) continue;
    region_of_root[r] = static_cast<int>(bytes.size());
    bytes.push_back(root.bytes);
    first.push_back(root.first);
    // Never released (nothing should be): live to the end, to be safe.
    last.push_back(root.released ? root.last : steps);
  }
  const std::vector<size_t> offsets = place_regions(bytes, first, last, &plan.arena_bytes);
  for (size_t i = 0; i < offsets.size(); ++i) plan.regions.push_back({offsets[i], aligned(bytes[i])});
  plan.created.resize(steps);
  plan.expected.resize(steps);
  for (size_t s = 0; s < steps; ++s) {
    const std::vector<int>& roots = output_roots_[s];
    plan.created[s].resize(roots.size());
    plan.expected[s].assign(roots.size(), -1);
    for (size_t o = 0; o < roots.size(); ++o) {
      if (roots[o] < 0) continue;
      const int region = region_of_root[static_cast<size_t>(roots[o])];
      plan.expected[s][o] = region;
      const Root& root = roots_[static_cast<size_t>(roots[o])];
      if (region >= 0 && root.step == s && root.output == o) plan.created[s][o] = {region, root.dtype, root.shape};
    }
  }
  return plan;
}

}  // namespace tessera
