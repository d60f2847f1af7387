// The bf16-gemm driver: packs B once and A per call into the selected micro-kernel's strips (pairs of depth steps
// interleaved), then computes C tile by tile (blocks of A rows that stay in L2, strips of B columns reused across
// the block's tiles), split over the Parallelism by tiles in a fixed order, so every element is computed the same
// way on any thread count.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "kernels/bf16-gemm/bf16-gemm-table.h"
#include "kernels/bf16-gemm/bf16_gemm.h"
#include "kernels/variant_dispatch.h"
#include "kernels/x32-transpose/x32-transpose.h"

namespace tessera {
namespace {

using bf16gemm::Bf16GemmSet;

VariantDispatch<Bf16GemmSet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<Bf16GemmSet> instance(&bf16gemm::kPortableSet, &bf16gemm::kAvx2Set, &bf16gemm::kAvx512Set,
                                               {cpu_has_amx_bf16() ? &bf16gemm::kAmxSet : nullptr,
                                                cpu_has_avx512_bf16() ? &bf16gemm::kAvx512Bf16Set : nullptr});
#else
  static VariantDispatch<Bf16GemmSet> instance(&bf16gemm::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// 64-byte aligned bfloat16 elements (uninitialized), with one cache line of slack.
std::unique_ptr<uint16_t, FreeDeleter> aligned_elements(int64_t count) {
  const size_t size = (static_cast<size_t>(count) * sizeof(uint16_t) + 64 + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, size);
  if (p == nullptr) fail(ErrorCode::kOutOfMemory, "bf16_gemm: cannot allocate ", size, " bytes");
  return std::unique_ptr<uint16_t, FreeDeleter>(static_cast<uint16_t*>(p));
}

// A per-thread buffer of packed elements, grown on demand and kept across calls (allocated per call, a large one
// costs page faults on every call: 5% of BERT-base under --precision bf16). Declare it thread_local.
struct ThreadBuffer {
  std::unique_ptr<uint16_t, FreeDeleter> data;
  int64_t elements = 0;
  uint16_t* at_least(int64_t count) {
    if (elements < count) {
      data = aligned_elements(count);
      elements = count;
    }
    return data.get();
  }
};

// Rows of A per block: as many whole strips as keep the block's packed A within ~1 MiB of L2. Every block reads
// all of B, which for constant weights comes from memory: with 256 KiB blocks BERT-base's FFN-down (A 128 x 3072,
// 768 KiB packed) read its 4.5 MiB of weights four times (AMX, one thread, per-node minima: the MatMul nodes
// 19.8 -> 12.6 ms, the model 54.4 -> 47.4 ms under --precision bf16).
int64_t strips_per_block(int64_t strip_elements) {
  const int64_t bytes = std::max<int64_t>(strip_elements * 2, 1);
  return std::max<int64_t>(1, (int64_t{1} << 20) / bytes);
}

// Writes the strip of columns [j0, j0 + cols) of B (bfloat16 bits stored k x n, or n x k when trans_b; layout in
// bf16-gemm-table.h); the zero padding is already there.
void pack_strip(const uint16_t* b, int64_t ldb, bool trans_b, int64_t k, int64_t j0, int64_t cols, int64_t nr,
                uint16_t* strip) {
  for (int64_t p = 0; p < k; ++p) {
    uint16_t* dst = strip + (p / 2) * nr * 2 + p % 2;
    for (int64_t c = 0; c < cols; ++c) dst[c * 2] = trans_b ? b[(j0 + c) * ldb + p] : b[p * ldb + j0 + c];
  }
}

}  // namespace

struct PackedBf16GemmB::Storage {
  const Bf16GemmSet* set = nullptr;
  int64_t groups = 0;          // pairs of depth steps per strip
  int64_t strips = 0;          // strips of set->nr columns
  int64_t strip_elements = 0;  // bfloat16 elements of one packed strip
  std::unique_ptr<uint16_t, FreeDeleter> owned;  // the strips, unless the caller's buffer holds them
  const uint16_t* data = nullptr;
};

struct PackedBf16GemmA::Storage {
  const Bf16GemmSet* set = nullptr;
  int64_t strips = 0;          // strips of set->mr rows
  int64_t strip_elements = 0;  // bfloat16 elements of one packed strip
  std::unique_ptr<uint16_t, FreeDeleter> data;
};

namespace {

// Pairs of depth steps per packed strip (A or B) of depth k for `set`.
int64_t packed_groups(const Bf16GemmSet& set, int64_t k) {
  return ((k + 1) / 2 + set.group_align - 1) / set.group_align * set.group_align;
}

// The tile of C at rows [i0, i0 + mr) x columns [j0, j0 + nr) (clipped to m x n) from a packed A strip and a
// packed B strip of `groups` pairs of depth steps, through `set`'s tile and the epilogue.
void run_tile(const Bf16GemmSet& set, int64_t m, int64_t n, int64_t groups, const uint16_t* a_strip, int64_t i0,
              const uint16_t* b_strip, int64_t j0, float* c, int64_t ldc, const Bf16GemmEpilogue& epilogue,
              const uint16_t* prefetch = nullptr, int64_t prefetch_bytes = 0) {
  bf16gemm::TileOutput tile{};
  tile.rows = std::min<int64_t>(set.mr, m - i0);
  tile.cols = std::min<int64_t>(set.nr, n - j0);
  tile.c = c + i0 * ldc + j0;
  tile.ldc = ldc;
  tile.alpha = epilogue.alpha;
  tile.column_bias = epilogue.column_bias != nullptr ? epilogue.column_bias + j0 : nullptr;
  tile.min = epilogue.min;
  tile.max = epilogue.max;
  tile.row_bias = epilogue.row_bias != nullptr ? epilogue.row_bias + i0 : nullptr;
  tile.sum = epilogue.sum != nullptr ? epilogue.sum + i0 * epilogue.sum_ld + j0 : nullptr;
  tile.sum_ld = epilogue.sum_ld;
  tile.prefetch = prefetch;
  tile.prefetch_bytes = prefetch_bytes;
  set.by_rows[tile.rows - 1](groups, a_strip, b_strip, tile);
  if (epilogue.rows_activation != nullptr) epilogue.rows_activation(tile.c, tile.rows, tile.cols, ldc);
}

// Throws unless `a` was packed, as m x k, for `set` (`who` names the caller in the message).
void check_packed_a(const PackedBf16GemmA& a, int64_t m, int64_t k, const Bf16GemmSet& set, const char* who) {
  check_argument(!a.empty() && a.rows() == m && a.depth() == k && a.storage()->set == &set, who, ": packed A is ",
                 a.rows(), " x ", a.depth(), " for ", a.empty() ? "nothing" : a.storage()->set->name, ", expected ", m,
                 " x ", k, " for ", set.name);
}

// Elements of one B strip of depth k packed for `set`.
int64_t b_strip_elements(const Bf16GemmSet& set, int64_t k) { return packed_groups(set, k) * set.nr * 2; }

// The strip geometry of a B of k x n packed for `set`, without the strips.
std::shared_ptr<PackedBf16GemmB::Storage> b_storage(const Bf16GemmSet& set, int64_t k, int64_t n) {
  auto storage = std::make_shared<PackedBf16GemmB::Storage>();
  storage->set = &set;
  storage->groups = packed_groups(set, k);
  storage->strips = (n + set.nr - 1) / set.nr;
  storage->strip_elements = b_strip_elements(set, k);
  return storage;
}

}  // namespace

const char* PackedBf16GemmB::kernel_name() const { return storage_ != nullptr ? storage_->set->name : ""; }

PackedBf16GemmB pack_bf16_gemm_b_any(bool b_f32, bool trans_b, int64_t k, int64_t n, const void* b, int64_t ldb) {
  check_argument(k >= 0 && n >= 0, "pack_bf16_gemm_b: negative size k=", k, " n=", n);
  check_argument(ldb >= (trans_b ? k : n) || (k == 0 || n == 0), "pack_bf16_gemm_b: ldb ", ldb, " too small");
  const Bf16GemmSet& set = dispatch().active();
  const std::shared_ptr<PackedBf16GemmB::Storage> storage = b_storage(set, k, n);
  const int64_t total = storage->strips * storage->strip_elements;
  storage->owned = aligned_elements(total);
  uint16_t* const data = storage->owned.get();
  storage->data = data;
  std::memset(data, 0, static_cast<size_t>(total) * sizeof(uint16_t));
  // float32 B is rounded first, stored row by row, by the selected variant's vectorised loop (a scalar rounding
  // per element cost BERT-base's session creation ~150 ms).
  std::vector<uint16_t> rounded;
  const uint16_t* bits = static_cast<const uint16_t*>(b);
  int64_t ld = ldb;
  if (b_f32 && k > 0 && n > 0) {
    const int64_t stored_rows = trans_b ? n : k, stored_columns = trans_b ? k : n;
    rounded.resize(static_cast<size_t>(stored_rows * stored_columns));
    for (int64_t r = 0; r < stored_rows; ++r) {
      set.round(static_cast<const float*>(b) + r * ldb, stored_columns, rounded.data() + r * stored_columns);
    }
    bits = rounded.data();
    ld = stored_columns;
  }
  for (int64_t strip = 0; strip < storage->strips; ++strip) {
    const int64_t j0 = strip * set.nr, cols = std::min<int64_t>(set.nr, n - j0);
    pack_strip(bits, ld, trans_b, k, j0, cols, set.nr, data + strip * storage->strip_elements);
  }
  PackedBf16GemmB packed;
  packed.depth_ = k;
  packed.columns_ = n;
  packed.storage_ = std::move(storage);
  return packed;
}

int64_t bf16_gemm_packed_b_elements(int64_t k, int64_t n) {
  const Bf16GemmSet& set = dispatch().active();
  return (n + set.nr - 1) / set.nr * b_strip_elements(set, k);
}

int64_t bf16_gemm_b_strip_columns() { return dispatch().active().nr; }

void pack_bf16_gemm_b_f32_strip(int64_t k, int64_t n, int64_t j0, int64_t cols, const float* b, int64_t ldb,
                                uint16_t* buffer) {
  const Bf16GemmSet& set = dispatch().active();
  check_argument(k >= 0 && j0 >= 0 && j0 % set.nr == 0 && cols > 0 && cols <= std::min<int64_t>(set.nr, n - j0),
                 "pack_bf16_gemm_b_f32_strip: bad strip at ", j0, " of ", cols, " columns of ", n);
  set.pack_b_f32(packed_groups(set, k), k, cols, b, ldb, buffer + j0 / set.nr * b_strip_elements(set, k));
}

bool bf16_gemm_packs_im2col() { return dispatch().active().pack_b_im2col != nullptr; }

void pack_bf16_gemm_b_im2col_strip(const Bf16Im2colImage& image, int64_t j0, int64_t cols, uint16_t* strip) {
  const Bf16GemmSet& set = dispatch().active();
  check_argument(set.pack_b_im2col != nullptr, "pack_bf16_gemm_b_im2col_strip: ", set.name, " packs no im2col strips");
  check_argument(j0 >= 0 && cols > 0 && cols <= set.nr, "pack_bf16_gemm_b_im2col_strip: bad strip of ", cols,
                 " columns at ", j0);
  check_argument(
      image.stride_w > 0 && image.out_w > 0 && image.channels >= 0 && image.kernel_h > 0 && image.kernel_w > 0,
      "pack_bf16_gemm_b_im2col_strip: bad image geometry");
  set.pack_b_im2col(image, packed_groups(set, image.channels * image.kernel_h * image.kernel_w), j0, cols, strip);
}

void pack_bf16_gemm_b_f32_transposed_strip(int64_t k, int64_t j0, int64_t cols, const float* b, int64_t ldb,
                                           uint16_t* strip) {
  const Bf16GemmSet& set = dispatch().active();
  check_argument(k >= 0 && j0 >= 0 && cols > 0 && cols <= set.nr && (ldb >= k || k == 0),
                 "pack_bf16_gemm_b_f32_transposed_strip: bad strip of ", cols, " columns at ", j0, " (k=", k,
                 ", ldb=", ldb, ")");
  const int64_t groups = packed_groups(set, k), pairs = (k + 1) / 2, nr = set.nr;
  // Each column's k values rounded, as pairs (a zero after an odd k); the columns x pairs block of pairs
  // transposed as 32-bit elements is the strip's pairs x columns layout.
  thread_local std::vector<uint16_t> rounded;
  rounded.resize(static_cast<size_t>(cols * pairs * 2));
  for (int64_t c = 0; c < cols; ++c) {
    uint16_t* const column = rounded.data() + c * pairs * 2;
    set.round(b + (j0 + c) * ldb, k, column);
    if (k % 2 != 0) column[k] = 0;
  }
  transpose_x32(reinterpret_cast<const uint32_t*>(rounded.data()), pairs, reinterpret_cast<uint32_t*>(strip), nr, cols,
                pairs);
  // Zero past cols in each pair row, and the padding groups past k.
  for (int64_t g = 0; g < pairs && cols < nr; ++g)
    std::fill(strip + (g * nr + cols) * 2, strip + (g + 1) * nr * 2, uint16_t{0});
  std::fill(strip + pairs * nr * 2, strip + groups * nr * 2, uint16_t{0});
}

PackedBf16GemmB bf16_gemm_b_view(int64_t k, int64_t n, const uint16_t* buffer) {
  check_argument(k >= 0 && n >= 0, "bf16_gemm_b_view: negative size k=", k, " n=", n);
  const std::shared_ptr<PackedBf16GemmB::Storage> storage = b_storage(dispatch().active(), k, n);
  storage->data = buffer;
  PackedBf16GemmB packed;
  packed.depth_ = k;
  packed.columns_ = n;
  packed.storage_ = storage;
  return packed;
}

PackedBf16GemmB pack_bf16_gemm_b_f32_into(int64_t k, int64_t n, const float* b, int64_t ldb, uint16_t* buffer,
                                          Parallelism* parallelism) {
  check_argument(k >= 0 && n >= 0 && (ldb >= n || k == 0 || n == 0), "pack_bf16_gemm_b_f32_into: bad k=", k, " n=", n,
                 " ldb=", ldb);
  const int64_t nr = bf16_gemm_b_strip_columns(), strips = (n + nr - 1) / nr;
  const auto pack = [&](int64_t begin, int64_t end) {
    for (int64_t strip = begin; strip < end; ++strip) {
      const int64_t j0 = strip * nr;
      pack_bf16_gemm_b_f32_strip(k, n, j0, std::min(nr, n - j0), b + j0, ldb, buffer);
    }
  };
  if (parallelism != nullptr && parallelism->thread_count() > 1 && strips > 1 && k * n >= (int64_t{1} << 15))
    parallelism->parallel_for(strips, pack);
  else
    pack(0, strips);
  return bf16_gemm_b_view(k, n, buffer);
}

PackedBf16GemmA pack_bf16_gemm_a_any(bool a_f32, int64_t m, int64_t k, const void* a, int64_t lda) {
  check_argument(m >= 0 && k >= 0 && (lda >= k || m == 0 || k == 0), "pack_bf16_gemm_a: bad m=", m, " k=", k,
                 " lda=", lda);
  const Bf16GemmSet& set = dispatch().active();
  auto storage = std::make_shared<PackedBf16GemmA::Storage>();
  storage->set = &set;
  storage->strips = (m + set.mr - 1) / set.mr;
  storage->strip_elements = packed_groups(set, k) * set.mr * 2;
  const int64_t total = storage->strips * storage->strip_elements;
  storage->data = aligned_elements(total);
  // Rows past m in the last strip stay zero (the tiles never store them, but they are loaded).
  std::memset(storage->data.get(), 0, static_cast<size_t>(total) * sizeof(uint16_t));
  const int64_t element = a_f32 ? 4 : 2;
  for (int64_t s = 0; s < storage->strips && k > 0; ++s) {
    const int64_t rows = std::min<int64_t>(set.mr, m - s * set.mr);
    set.pack_a(rows, k, static_cast<const char*>(a) + s * set.mr * lda * element, lda, a_f32,
               storage->data.get() + s * storage->strip_elements);
  }
  PackedBf16GemmA packed;
  packed.rows_ = m;
  packed.depth_ = k;
  packed.storage_ = std::move(storage);
  return packed;
}

PackedBf16GemmB pack_bf16_gemm_b(bool trans_b, int64_t k, int64_t n, const uint16_t* b, int64_t ldb) {
  return pack_bf16_gemm_b_any(false, trans_b, k, n, b, ldb);
}

PackedBf16GemmB pack_bf16_gemm_b_f32(bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb) {
  return pack_bf16_gemm_b_any(true, trans_b, k, n, b, ldb);
}

void bf16_gemm(int64_t m, int64_t n, int64_t k, const Bf16GemmA& a, const PackedBf16GemmB& b, float* c, int64_t ldc,
               const Bf16GemmEpilogue& epilogue, Parallelism* parallelism) {
  check_argument(!b.empty() && b.depth() == k && b.columns() == n, "bf16_gemm: packed B is ", b.depth(), " x ",
                 b.columns(), ", expected ", k, " x ", n);
  const Bf16GemmSet& set = dispatch().active();
  const PackedBf16GemmB::Storage& pb = *b.storage();
  check_argument(pb.set == &set, "bf16_gemm: B was packed for ", pb.set->name, ", not the selected ", set.name);
  // An empty A (k == 0: C is the epilogue of zero sums) may have no data at all.
  const int given = (a.bf16 != nullptr) + (a.f32 != nullptr) + (a.packed != nullptr);
  check_argument(given == 1 || (k == 0 && given == 0), "bf16_gemm: A must be given once, as bf16, f32 or packed");
  if (a.packed != nullptr) {
    check_packed_a(*a.packed, m, k, set, "bf16_gemm");
  } else {
    check_argument(m >= 0 && (m == 0 || a.ld >= k), "bf16_gemm: bad m=", m, " or lda=", a.ld);
  }
  check_argument(ldc >= n, "bf16_gemm: ldc ", ldc, " < n ", n);
  check_argument(epilogue.sum == nullptr || epilogue.sum_ld >= n, "bf16_gemm: sum_ld ", epilogue.sum_ld, " < n ", n);
  if (m == 0 || n == 0) return;

  const bool a_f32 = a.f32 != nullptr;
  const char* a_bytes = a_f32 ? reinterpret_cast<const char*>(a.f32) : reinterpret_cast<const char*>(a.bf16);
  const int64_t a_element = a_f32 ? 4 : 2;
  const int64_t a_strip_elements = pb.groups * set.mr * 2;
  const int64_t a_strips = (m + set.mr - 1) / set.mr;
  SerialParallelism serial;
  Parallelism& par = parallelism != nullptr ? *parallelism : serial;
  const uint16_t* packed_a = nullptr;
  if (a.packed != nullptr) {
    packed_a = a.packed->storage()->data.get();
  } else {
    thread_local ThreadBuffer a_buffer;
    uint16_t* const strips = a_buffer.at_least(a_strips * a_strip_elements);
    packed_a = strips;
    const auto pack_a = [&](int64_t begin, int64_t end) {
      for (int64_t s = begin; s < end; ++s) {
        const int64_t rows = std::min<int64_t>(set.mr, m - s * set.mr);
        set.pack_a(rows, k, a_bytes + s * set.mr * a.ld * a_element, a.ld, a_f32, strips + s * a_strip_elements);
      }
    };
    if (a_strips * a_strip_elements >= (int64_t{32} << 10))
      par.parallel_for(a_strips, pack_a);
    else
      pack_a(0, a_strips);
  }

  // Tasks in a fixed order: blocks of A rows, then B strips, then the block's A strips.
  const int64_t per_block = std::min(strips_per_block(a_strip_elements), a_strips);
  const int64_t blocks = (a_strips + per_block - 1) / per_block;
  const int64_t tasks = blocks * pb.strips * per_block;
  const auto run = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t block = t / (pb.strips * per_block);
      const int64_t b_strip = (t / per_block) % pb.strips;
      const int64_t a_strip = block * per_block + t % per_block;
      if (a_strip >= a_strips) continue;
      // The block's tiles over this B strip share out prefetching the next one (B comes from memory: constant
      // weights): tile i of `count` takes the i-th slice. BERT-base under --precision bf16 (AMX, one thread,
      // per-node minima, three rounds): 56.3 -> 52.8 ms.
      const int64_t count = std::min(per_block, a_strips - block * per_block), index = t % per_block;
      const int64_t strip_bytes = pb.strip_elements * 2, slice = (strip_bytes / count + 63) / 64 * 64;
      const bool next = b_strip + 1 < pb.strips;
      run_tile(set, m, n, pb.groups, packed_a + a_strip * a_strip_elements, a_strip * set.mr,
               pb.data + b_strip * pb.strip_elements, b_strip * set.nr, c, ldc, epilogue,
               next ? pb.data + (b_strip + 1) * pb.strip_elements + index * slice / 2 : nullptr,
               next ? std::clamp<int64_t>(strip_bytes - index * slice, 0, slice) : 0);
    }
    if (set.end_tiles != nullptr) set.end_tiles();
  };
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (work >= 1 << 18 && par.thread_count() > 1)
    par.parallel_for(tasks, run);
  else
    run(0, tasks);
}

void bf16_gemm_b_panels(int64_t m, int64_t n, int64_t k, const PackedBf16GemmA& a, int64_t panel_columns,
                        const Bf16GemmPackPanel& pack_panel, float* c, int64_t ldc, const Bf16GemmEpilogue& epilogue,
                        Parallelism* parallelism) {
  const Bf16GemmSet& set = dispatch().active();
  check_packed_a(a, m, k, set, "bf16_gemm_b_panels");
  check_argument(panel_columns > 0 && panel_columns % set.nr == 0, "bf16_gemm_b_panels: panels of ", panel_columns,
                 " columns are not whole strips of ", set.nr);
  check_argument(n >= 0 && ldc >= n, "bf16_gemm_b_panels: ldc ", ldc, " < n ", n);
  check_argument(epilogue.sum == nullptr || epilogue.sum_ld >= n, "bf16_gemm_b_panels: sum_ld ", epilogue.sum_ld,
                 " < n ", n);
  if (m == 0 || n == 0) return;
  const int64_t groups = packed_groups(set, k), strip_elements = b_strip_elements(set, k);
  const int64_t a_strips = (m + set.mr - 1) / set.mr, a_strip_elements = a.storage()->strip_elements;
  const uint16_t* const packed_a = a.storage()->data.get();
  const int64_t panels = (n + panel_columns - 1) / panel_columns;
  const auto run = [&](int64_t begin, int64_t end) {
    thread_local ThreadBuffer panel_buffer;
    uint16_t* const strips = panel_buffer.at_least(panel_columns / set.nr * strip_elements);
    for (int64_t panel = begin; panel < end; ++panel) {
      const int64_t j0 = panel * panel_columns, cols = std::min(panel_columns, n - j0);
      pack_panel(j0, cols, strips);
      // Strip by strip of the panel, every A strip (A stays in L2, the strip in L1).
      for (int64_t s = 0; s * set.nr < cols; ++s) {
        for (int64_t a_strip = 0; a_strip < a_strips; ++a_strip) {
          run_tile(set, m, n, groups, packed_a + a_strip * a_strip_elements, a_strip * set.mr,
                   strips + s * strip_elements, j0 + s * set.nr, c, ldc, epilogue);
        }
      }
    }
    if (set.end_tiles != nullptr) set.end_tiles();
  };
  SerialParallelism serial;
  Parallelism& par = parallelism != nullptr ? *parallelism : serial;
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (work >= 1 << 18 && par.thread_count() > 1 && panels > 1)
    par.parallel_for(panels, run);
  else
    run(0, panels);
}

void bf16_round_f32(const float* values, int64_t count, uint16_t* out) {
  dispatch().active().round(values, count, out);
}

const char* bf16_gemm_kernel_name() { return dispatch().active().name; }
std::vector<std::string> bf16_gemm_kernel_names() { return dispatch().names(); }
bool bf16_gemm_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera
