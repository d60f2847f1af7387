// The f32-sqdist driver: packs B, picks the ISA variant once from CPUID and forwards to it.
#include "kernels/f32-sqdist/f32-sqdist.h"

#include <algorithm>

#include "base/error.h"
#include "kernels/f32-sqdist/f32-sqdist-table.h"
#include "kernels/variant_dispatch.h"

namespace tessera {
namespace {

using f32_sqdist::SqdistSet;

VariantDispatch<SqdistSet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<SqdistSet> instance(&f32_sqdist::kPortableSet, &f32_sqdist::kAvx2Set, &f32_sqdist::kAvx512Set);
#else
  static VariantDispatch<SqdistSet> instance(&f32_sqdist::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

}  // namespace

PackedSqdistB pack_sqdist_b_f32(int64_t n, int64_t k, const float* b, int64_t ldb) {
  check_argument(n >= 0 && k >= 0 && ldb >= k, "pack_sqdist_b_f32: ", n, " rows of ", k, " with stride ", ldb);
  PackedSqdistB packed;
  packed.rows = n;
  packed.depth = k;
  const int64_t panels = (n + kSqdistPanel - 1) / kSqdistPanel;
  packed.panels.assign(static_cast<size_t>(panels * k * kSqdistPanel), 0.0f);
  if (k == 0) return packed;  // nothing to copy (and no storage to point into)
  for (int64_t j = 0; j < n; ++j) {
    float* dst = packed.panels.data() + (j / kSqdistPanel) * k * kSqdistPanel + j % kSqdistPanel;
    const float* row = b + j * ldb;
    for (int64_t p = 0; p < k; ++p) dst[p * kSqdistPanel] = row[p];
  }
  return packed;
}

void sqdist_f32(int64_t m, const float* a, int64_t lda, const PackedSqdistB& b, int64_t j_begin, int64_t j_end,
                float* d, int64_t d_row, int64_t d_col, bool root) {
  check_argument(
      m >= 0 && lda >= b.depth && j_begin >= 0 && j_begin % kSqdistPanel == 0 && j_begin <= j_end && j_end <= b.rows,
      "sqdist_f32: ", m, " rows of stride ", lda, " against columns [", j_begin, ", ", j_end, ") of ", b.rows, " x ",
      b.depth);
  if (m == 0 || j_begin == j_end) return;
  // Whole panels; a range ending inside the last panel is the end of B (any other end is a multiple of the panel).
  const int64_t panel_end = j_end == b.rows ? (j_end + kSqdistPanel - 1) / kSqdistPanel : j_end / kSqdistPanel;
  check_argument(j_end == b.rows || j_end % kSqdistPanel == 0, "sqdist_f32: column range end ", j_end,
                 " is neither the end of B nor a multiple of ", kSqdistPanel);
  dispatch().active().run(m, a, lda, b, j_begin / kSqdistPanel, panel_end, d, d_row, d_col, root);
}

const char* sqdist_f32_kernel_name() { return dispatch().active().name; }
std::vector<std::string> sqdist_f32_kernel_names() { return dispatch().names(); }
bool sqdist_f32_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera
