// The q8-gemm driver: packs B once and A per call into the strips of the micro-kernel selected for the depth (the
// VNNI and AMX kernels read uint8 A in place and only sum its rows), then computes C tile by tile (blocks of A rows
// that stay in L2, strips of B columns reused across the block's tiles), split over the Parallelism by tiles in a fixed
// order, so every element is computed the same way on any thread count.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/error.h"
#include "kernels/q8-gemm/q8-gemm-table.h"
#include "kernels/q8-gemm/q8_gemm.h"
#include "kernels/variant_dispatch.h"

namespace tessera {
namespace {

using q8gemm::Q8GemmSet;

VariantDispatch<Q8GemmSet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<Q8GemmSet> instance(
      &q8gemm::kPortableSet, &q8gemm::kAvx2Set, cpu_has_avx512_vnni() ? &q8gemm::kAvx512VnniSet : nullptr,
      {cpu_has_amx_int8() ? &q8gemm::kAmxSet : nullptr}, {cpu_has_avx_vnni() ? &q8gemm::kAvxVnniSet : nullptr});
#else
  static VariantDispatch<Q8GemmSet> instance(&q8gemm::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

// Whether B packed for `packed` runs where `chosen` is the variant of its depth: that variant or one of the siblings
// pack_q8_gemm_b takes in its place (narrow B, narrow A, byte B).
bool runs_in_place_of(const Q8GemmSet* packed, const Q8GemmSet& chosen) {
  return packed == &chosen || packed == chosen.narrow_b || packed == chosen.narrow_a || packed == chosen.byte_b;
}

// Whether the CPUID choice may run a GEMM of depth k on `set` (see Q8GemmSet::min_depth).
bool suits_depth(const Q8GemmSet& set, int64_t k) {
  if (k < set.min_depth) return false;
  if (set.group_align <= 1) return true;
  const int64_t step = int64_t{set.group} * set.group_align;
  const int64_t padded = (k + step - 1) / step * step;
  return 4 * padded <= 5 * k;
}

// The variant a GEMM of depth k runs on.
const Q8GemmSet& set_for_depth(int64_t k) {
  return dispatch().active_where([k](const Q8GemmSet& set) { return suits_depth(set, k); });
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// 64-byte aligned bytes (uninitialized), with one cache line of slack.
std::unique_ptr<uint8_t, FreeDeleter> aligned_bytes(int64_t bytes) {
  const size_t size = (static_cast<size_t>(bytes) + 64 + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, size);
  if (p == nullptr) fail(ErrorCode::kOutOfMemory, "q8_gemm: cannot allocate ", size, " bytes");
  return std::unique_ptr<uint8_t, FreeDeleter>(static_cast<uint8_t*>(p));
}

bool in_range(int32_t value, bool is_signed) {
  return is_signed ? value >= -128 && value <= 127 : value >= 0 && value <= 255;
}

// The byte kernels' shift of uint8 B (see Q8GemmSet::unsigned_b_shift).
int32_t unsigned_b_shift(const Q8GemmSet& set) { return set.unsigned_b_shift != 0 ? set.unsigned_b_shift : 128; }

// Whether every element of op(B) (k x n, stored as pack_q8_gemm_b takes it) minus `shift` (uint8 B; int8 B as it
// is) lies in [-64, 64]. Looks at 64 bytes at a time and stops at the first chunk that does not: activations packed
// on every run (which use the whole 8-bit range) leave after a chunk or two, weights are read once.
bool fits_narrow_b(bool b_signed, bool trans_b, int64_t k, int64_t n, const uint8_t* b, int64_t ldb, int32_t shift) {
  constexpr int64_t kChunk = 64;
  // Bytes as uint8 offset so that the allowed range is [lo, lo + 128]: int8 v in [-64, 64] is v ^ 0x80 in [64, 192].
  const uint8_t flip = b_signed ? 0x80 : 0x00;
  const int lo = b_signed ? 64 : shift - 64;
  const int64_t rows = trans_b ? n : k, length = trans_b ? k : n;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = b + r * ldb;
    for (int64_t c0 = 0; c0 < length; c0 += kChunk) {
      const int64_t c1 = std::min(length, c0 + kChunk);
      bool fits = true;
      for (int64_t i = c0; i < c1; ++i) {
        const int v = (row[i] ^ flip) - lo;
        fits &= v >= 0 && v <= 128;
      }
      if (!fits) return false;
    }
  }
  return true;
}

// Rows of A per block: as many whole strips as keep the block's packed A within ~256 KiB of L2.
int64_t rows_per_block(const Q8GemmSet& set, int64_t strip_bytes) {
  const int64_t strips = std::max<int64_t>(1, (int64_t{256} << 10) / std::max<int64_t>(strip_bytes, 1));
  return strips * set.mr;
}

// Columns [j0, j0 + cols) of op(B) (B stored k x n, or n x k when trans_b) going into one strip of nr columns.
struct StripSource {
  const uint8_t* b;
  int64_t ldb;
  bool trans_b;
  int64_t k, j0, cols, nr;
  const int32_t* offset;  // per column, subtracted from B
  int32_t* sums;          // per column, accumulates the values written
};

// A byte of B as the int8 (Signed) or uint8 value it holds.
template <bool Signed>
inline int32_t byte_value(uint8_t byte) {
  return Signed ? static_cast<int32_t>(static_cast<int8_t>(byte)) : static_cast<int32_t>(byte);
}

// One whole depth group of a strip from B stored k x n: d[c * Group + e] = E(B(e, c) - offset[c]), the values
// added to sums[c]. Restrict parameters (GCC honours them on parameters) let it vectorise.
template <typename E, bool Signed, int Group>
void pack_group(const uint8_t* __restrict rows, int64_t ldb, int64_t cols, const int32_t* __restrict offset,
                int32_t* __restrict sums, E* __restrict d) {
  for (int64_t c = 0; c < cols; ++c) {
    int32_t sum = 0;
    for (int e = 0; e < Group; ++e) {
      const uint8_t byte = rows[e * ldb + c];
      const int32_t v = byte_value<Signed>(byte) - offset[c];
      sum += v;
      d[c * Group + e] = static_cast<E>(v);
    }
    sums[c] += sum;
  }
}

#if defined(__SSE2__)
// The full groups of a strip for the byte kernels (int8 elements, groups of 4) with one offset for every column, 0 or
// 128 (what pack_q8_gemm_b gives them): B - offset is the byte itself, or the byte ^ 0x80, as int8. `groups` groups
// of 4 rows from `b` (row r at b + r * ldb, columns [0, cols)), group g written at dst + g * nr * 4. 16 columns at a
// time through every group: the four rows interleaved by two rounds of unpacks into the columns' 4-byte groups, and
// the bytes' sums kept in registers as int16 pairs (flushed to int32 every 128 groups, before they could overflow)
// and added to the columns' sums once. Summing each group into memory (a madd and shuffles per 4 columns and a
// load/store of the sums per group) made packing activations as B 6% of INT8 ResNet-50; the auto-vectorised
// general loop, which widened every byte to int32, 5%.
void pack_groups_bytes(const uint8_t* __restrict b, int64_t ldb, int64_t groups, int64_t cols, int64_t nr, uint8_t flip,
                       int32_t* __restrict sums, int8_t* __restrict dst) {
  const __m128i flips = _mm_set1_epi8(static_cast<char>(flip));
  const __m128i ones = _mm_set1_epi16(1);
  constexpr int64_t kFlushGroups = 128;  // |sum of 128 int8| <= 16384: int16 pairs of two such sums never overflow
  int64_t c = 0;
  for (; c + 16 <= cols; c += 16) {
    // pairs[q][h]: int16 sums of o[q]'s bytes 8h..8h+7 (columns c + 4q + 2h and + 1, four bytes each).
    __m128i pairs[4][2];
    __m128i totals[4];  // int32 sums of columns c + 4q .. c + 4q + 3
    for (int q = 0; q < 4; ++q) pairs[q][0] = pairs[q][1] = totals[q] = _mm_setzero_si128();
    const auto flush = [&] {
      for (int q = 0; q < 4; ++q) {
        const __m128i lo = _mm_madd_epi16(pairs[q][0], ones);         // columns 4q, 4q + 1: two partial sums each
        const __m128i hi = _mm_madd_epi16(pairs[q][1], ones);         // columns 4q + 2, 4q + 3
        const __m128i x = _mm_add_epi32(lo, _mm_srli_epi64(lo, 32));  // lanes 0, 2: columns 4q, 4q + 1
        const __m128i y = _mm_add_epi32(hi, _mm_srli_epi64(hi, 32));  // lanes 0, 2: columns 4q + 2, 4q + 3
        const __m128i sum =
            _mm_castps_si128(_mm_shuffle_ps(_mm_castsi128_ps(x), _mm_castsi128_ps(y), _MM_SHUFFLE(2, 0, 2, 0)));
        totals[q] = _mm_add_epi32(totals[q], sum);
        pairs[q][0] = pairs[q][1] = _mm_setzero_si128();
      }
    };
    for (int64_t g = 0; g < groups; ++g) {
      if (g > 0 && g % kFlushGroups == 0) flush();
      const uint8_t* rows = b + g * 4 * ldb + c;
      const __m128i r0 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows)), flips);
      const __m128i r1 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows + ldb)), flips);
      const __m128i r2 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows + 2 * ldb)), flips);
      const __m128i r3 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows + 3 * ldb)), flips);
      const __m128i a = _mm_unpacklo_epi8(r0, r1), e = _mm_unpacklo_epi8(r2, r3);
      const __m128i f = _mm_unpackhi_epi8(r0, r1), h = _mm_unpackhi_epi8(r2, r3);
      const __m128i o[4] = {_mm_unpacklo_epi16(a, e), _mm_unpackhi_epi16(a, e), _mm_unpacklo_epi16(f, h),
                            _mm_unpackhi_epi16(f, h)};
      int8_t* d = dst + g * nr * 4 + c * 4;
      for (int q = 0; q < 4; ++q) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 16 * q), o[q]);
        // Sign-extended bytes: the high byte of each int16 lane of (o, o) interleaved, shifted down arithmetically.
        pairs[q][0] = _mm_add_epi16(pairs[q][0], _mm_srai_epi16(_mm_unpacklo_epi8(o[q], o[q]), 8));
        pairs[q][1] = _mm_add_epi16(pairs[q][1], _mm_srai_epi16(_mm_unpackhi_epi8(o[q], o[q]), 8));
      }
    }
    flush();
    for (int q = 0; q < 4; ++q) {
      __m128i* column_sums = reinterpret_cast<__m128i*>(sums + c + 4 * q);
      _mm_storeu_si128(column_sums, _mm_add_epi32(_mm_loadu_si128(column_sums), totals[q]));
    }
  }
  for (; c < cols; ++c) {
    int32_t sum = 0;
    for (int64_t g = 0; g < groups; ++g) {
      for (int r = 0; r < 4; ++r) {
        const int8_t v = static_cast<int8_t>(b[(g * 4 + r) * ldb + c] ^ flip);
        sum += v;
        dst[g * nr * 4 + c * 4 + r] = v;
      }
    }
    sums[c] += sum;
  }
}
#endif

#if defined(__SSE2__)
// The int16 tiles' full groups (pairs of depth rows) of a strip with at most kPairColumns columns: d[c * 2 + e] =
// int16(B(2g + e, c) - offset[c]) for `groups` groups from `b` (row r at b + r * ldb, columns [0, cols)), group g at
// dst + g * nr * 2. 16 columns at a time: each row's bytes widened to int16 (sign- or zero-extended), less the
// columns' offsets, and the two rows interleaved by unpacks; the tail columns one by one. No column sums: the int16
// tiles take B - zb itself and never read them. The auto-vectorised pack_group, which also summed every value as
// int32, was 4.8% of INT8 MobileNetV2 (AMD EPYC Zen 3, one thread, perf), whose NCHW pointwise convolutions pack
// their activations as B on every run.
constexpr int64_t kPairColumns = 64;
template <bool Signed>
void pack_pairs_int16(const uint8_t* __restrict b, int64_t ldb, int64_t groups, int64_t cols, int64_t nr,
                      const int32_t* __restrict offset, int16_t* __restrict dst) {
  alignas(16) int16_t offsets[kPairColumns];
  for (int64_t c = 0; c < cols; ++c) offsets[c] = static_cast<int16_t>(offset[c]);
  const __m128i zero = _mm_setzero_si128();
  // The low / high 8 bytes of v as int16.
  const auto low = [&](__m128i v) {
    return Signed ? _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8) : _mm_unpacklo_epi8(v, zero);
  };
  const auto high = [&](__m128i v) {
    return Signed ? _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8) : _mm_unpackhi_epi8(v, zero);
  };
  const int64_t whole = cols / 16 * 16;
  for (int64_t g = 0; g < groups; ++g) {
    const uint8_t* r0 = b + 2 * g * ldb;
    const uint8_t* r1 = r0 + ldb;
    int16_t* d = dst + g * nr * 2;
    for (int64_t c = 0; c < whole; c += 16) {
      const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + c));
      const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r1 + c));
      const __m128i off_lo = _mm_load_si128(reinterpret_cast<const __m128i*>(offsets + c));
      const __m128i off_hi = _mm_load_si128(reinterpret_cast<const __m128i*>(offsets + c + 8));
      const __m128i a_lo = _mm_sub_epi16(low(x0), off_lo), a_hi = _mm_sub_epi16(high(x0), off_hi);
      const __m128i b_lo = _mm_sub_epi16(low(x1), off_lo), b_hi = _mm_sub_epi16(high(x1), off_hi);
      __m128i* out = reinterpret_cast<__m128i*>(d + c * 2);
      _mm_storeu_si128(out, _mm_unpacklo_epi16(a_lo, b_lo));      // columns c .. c + 3
      _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(a_lo, b_lo));  // c + 4 .. c + 7
      _mm_storeu_si128(out + 2, _mm_unpacklo_epi16(a_hi, b_hi));  // c + 8 .. c + 11
      _mm_storeu_si128(out + 3, _mm_unpackhi_epi16(a_hi, b_hi));  // c + 12 .. c + 15
    }
    for (int64_t c = whole; c < cols; ++c) {
      d[c * 2] = static_cast<int16_t>(byte_value<Signed>(r0[c]) - offsets[c]);
      d[c * 2 + 1] = static_cast<int16_t>(byte_value<Signed>(r1[c]) - offsets[c]);
    }
  }
}
#endif

// Writes the strip: element (p, c) at ((p / Group) * nr + c) * Group + p % Group as E(B(p, j0 + c) - offset[c]),
// adding each value to sums[c] (except for int16 pairs of B stored k x n: see pack_pairs_int16). Reads B along its rows
// (k x n) or, transposed, along its columns: contiguous either way.
template <typename E, bool Signed, int Group>
void pack_strip(const StripSource& s, uint8_t* strip) {
  E* __restrict dst = reinterpret_cast<E*>(strip);
  const uint8_t* __restrict b = s.b;
  const int64_t ldb = s.ldb;
  const int32_t* __restrict offset = s.offset;
  int32_t* __restrict sums = s.sums;
  // Locals, not reads through `s`: the int8 stores may alias it.
  const int64_t k = s.k, j0 = s.j0, cols = s.cols, nr = s.nr;
  if (!s.trans_b) {
    // A group of rows at a time: its (column, step) elements are written contiguously.
    const int64_t full = k / Group;
    // The byte kernels' groups with one offset for every column take the SSE2 interleave (pack_groups_bytes), the
    // int16 tiles' pairs pack_pairs_int16 (without the column sums, which those tiles never read).
    bool bytes = false, pairs = false;
#if defined(__SSE2__)
    if constexpr (sizeof(E) == 1 && Group == 4) {
      bytes = std::all_of(offset, offset + cols, [](int32_t o) { return o == (Signed ? 0 : 128); });
    }
    if constexpr (sizeof(E) == 2 && Group == 2) pairs = cols <= kPairColumns;
#endif
#if defined(__SSE2__)
    if (bytes) {
      pack_groups_bytes(b + j0, ldb, full, cols, nr, Signed ? 0x00 : 0x80, sums, reinterpret_cast<int8_t*>(dst));
    } else if (pairs) {
      pack_pairs_int16<Signed>(b + j0, ldb, full, cols, nr, offset, reinterpret_cast<int16_t*>(dst));
    } else
#endif
    {
      for (int64_t g = 0; g < full; ++g) {
        pack_group<E, Signed, Group>(b + g * Group * ldb + j0, ldb, cols, offset, sums, dst + g * nr * Group);
      }
    }
    for (int64_t p = full * Group; p < k; ++p) {  // the last, partial group (the rest stays zero)
      const uint8_t* row = b + p * ldb + j0;
      E* d = dst + full * nr * Group + p % Group;
      for (int64_t c = 0; c < cols; ++c) {
        const int32_t v = byte_value<Signed>(row[c]) - offset[c];
        sums[c] += v;
        d[c * Group] = static_cast<E>(v);
      }
    }
    return;
  }
  for (int64_t c = 0; c < cols; ++c) {
    const uint8_t* column = b + (j0 + c) * ldb;
    int32_t sum = 0;
    const int32_t off = offset[c];
    for (int64_t p = 0; p < k; ++p) {
      const int32_t v = byte_value<Signed>(column[p]) - off;
      sum += v;
      dst[((p / Group) * nr + c) * Group + p % Group] = static_cast<E>(v);
    }
    sums[c] += sum;
  }
}

using PackStripFn = void (*)(const StripSource& s, uint8_t* strip);

}  // namespace

struct PackedQ8GemmB::Storage {
  const Q8GemmSet* set = nullptr;
  int64_t groups = 0;       // depth groups per strip
  int64_t strips = 0;       // strips of set->nr columns
  int64_t strip_bytes = 0;  // bytes of one packed strip
  std::unique_ptr<uint8_t, FreeDeleter> data;
  std::vector<int32_t> zero_points;  // zb' per column (byte kernels; padded to whole strips)
  std::vector<int32_t> column_sums;  // sum_p B'[p][j] (byte kernels; padded)
};

const char* PackedQ8GemmB::kernel_name() const { return storage_ != nullptr ? storage_->set->name : ""; }

// pack_q8_gemm_b and pack_q8_gemm_b_for_narrow_a: B packed for the variant of depth k, for its narrow-A sibling
// when `narrow_a` and it has one, else for its narrow-B sibling where B fits (declared as PackedQ8GemmB's friend).
PackedQ8GemmB pack_q8_gemm_b_choosing(bool narrow_a, bool b_signed, bool trans_b, int64_t k, int64_t n,
                                      const uint8_t* b, int64_t ldb, const int32_t* zero_points,
                                      int64_t zero_point_count) {
  check_argument(k >= 0 && n >= 0, "pack_q8_gemm_b: negative size k=", k, " n=", n);
  check_argument(ldb >= (trans_b ? k : n) || (k == 0 || n == 0), "pack_q8_gemm_b: ldb ", ldb, " too small");
  check_argument(zero_point_count == 1 || zero_point_count == n, "pack_q8_gemm_b: ", zero_point_count,
                 " zero points; expected 1 or ", n);
  check_argument(zero_points != nullptr, "pack_q8_gemm_b: zero points missing");
  for (int64_t j = 0; j < zero_point_count; ++j) {
    check_argument(in_range(zero_points[j], b_signed), "pack_q8_gemm_b: zero point ", zero_points[j],
                   " out of the range of ", b_signed ? "int8" : "uint8");
  }
  const Q8GemmSet& chosen = set_for_depth(k);
  const Q8GemmSet* narrow = chosen.narrow_b;
  // B - zb fits int8 for every byte when the zero points are int8's 0 or uint8's 128 (Q8GemmSet::byte_b).
  const int32_t centre = b_signed ? 0 : 128;
  const bool centred = std::all_of(zero_points, zero_points + zero_point_count, [&](int32_t z) { return z == centre; });
  const Q8GemmSet& set =
      narrow_a && chosen.narrow_a != nullptr ? *chosen.narrow_a
      : narrow != nullptr && fits_narrow_b(b_signed, trans_b, k, n, b, ldb, unsigned_b_shift(*narrow)) ? *narrow
      : chosen.byte_b != nullptr && centred                                                            ? *chosen.byte_b
                                                                                                       : chosen;
  auto storage = std::make_shared<PackedQ8GemmB::Storage>();
  storage->set = &set;
  storage->groups = (k + set.group - 1) / set.group;
  storage->groups = (storage->groups + set.group_align - 1) / set.group_align * set.group_align;
  storage->strips = (n + set.nr - 1) / set.nr;
  const int64_t element = set.wide && !set.byte_b_elements ? 2 : 1;
  storage->strip_bytes = storage->groups * set.nr * set.group * element;
  const int64_t padded = storage->strips * set.nr;
  storage->data = aligned_bytes(storage->strips * storage->strip_bytes);
  if (!set.wide) {
    storage->zero_points.assign(static_cast<size_t>(padded), 0);
    storage->column_sums.assign(static_cast<size_t>(padded), 0);
  }
  // Per strip: the int16 kernels take B - zb; the byte kernels int8 B' (uint8 B - 128, or - 64 for the narrow-B
  // kernel; its zero point likewise: b - zb is unchanged) with the column sums of B'.
  const int64_t nr = set.nr;
  std::vector<int32_t> offsets(static_cast<size_t>(nr)), sums(static_cast<size_t>(nr));
  const int32_t shift = b_signed || set.wide ? 0 : unsigned_b_shift(set);
  PackStripFn pack = b_signed ? pack_strip<int8_t, true, 4> : pack_strip<int8_t, false, 4>;
  if (set.wide && set.group == 2) pack = b_signed ? pack_strip<int16_t, true, 2> : pack_strip<int16_t, false, 2>;
  if (set.byte_b_elements) pack = b_signed ? pack_strip<int8_t, true, 2> : pack_strip<int8_t, false, 2>;
  if (set.wide && set.group == 1) pack = b_signed ? pack_strip<int16_t, true, 1> : pack_strip<int16_t, false, 1>;
  for (int64_t strip = 0; strip < storage->strips; ++strip) {
    const int64_t j0 = strip * nr, cols = std::min(nr, n - j0);
    for (int64_t c = 0; c < cols; ++c) {
      const int32_t zp = zero_points[zero_point_count == 1 ? 0 : j0 + c];
      offsets[static_cast<size_t>(c)] = set.wide ? zp : shift;
      if (!set.wide) storage->zero_points[static_cast<size_t>(j0 + c)] = zp - shift;
    }
    std::fill(sums.begin(), sums.end(), 0);
    uint8_t* dst = storage->data.get() + strip * storage->strip_bytes;
    // Zeros where the packer writes nothing: past the whole depth groups (the last, partial group and the padding
    // groups) and, in a last strip of fewer than nr columns, the missing columns of every whole group. (Zeroing
    // every strip first cost INT8 ResNet-50 1.5%: its activations are packed as B on every run.)
    const int64_t group_bytes = nr * set.group * element;
    const int64_t whole_bytes = k / set.group * group_bytes;
    std::memset(dst + whole_bytes, 0, static_cast<size_t>(storage->strip_bytes - whole_bytes));
    if (cols < nr) {
      const int64_t column_bytes = set.group * element;
      for (int64_t g = 0; g < k / set.group; ++g) {
        std::memset(dst + g * group_bytes + cols * column_bytes, 0, static_cast<size_t>((nr - cols) * column_bytes));
      }
    }
    pack({b, ldb, trans_b, k, j0, cols, nr, offsets.data(), sums.data()}, dst);
    if (!set.wide) std::copy(sums.begin(), sums.begin() + cols, storage->column_sums.begin() + j0);
  }
  PackedQ8GemmB packed;
  packed.depth_ = k;
  packed.columns_ = n;
  packed.storage_ = std::move(storage);
  return packed;
}

PackedQ8GemmB pack_q8_gemm_b(bool b_signed, bool trans_b, int64_t k, int64_t n, const uint8_t* b, int64_t ldb,
                             const int32_t* zero_points, int64_t zero_point_count) {
  return pack_q8_gemm_b_choosing(false, b_signed, trans_b, k, n, b, ldb, zero_points, zero_point_count);
}

PackedQ8GemmB pack_q8_gemm_b_for_narrow_a(bool b_signed, bool trans_b, int64_t k, int64_t n, const uint8_t* b,
                                          int64_t ldb, const int32_t* zero_points, int64_t zero_point_count) {
  return pack_q8_gemm_b_choosing(true, b_signed, trans_b, k, n, b, ldb, zero_points, zero_point_count);
}

int64_t q8_gemm_strip_columns(int64_t k) { return set_for_depth(k).nr; }

bool q8_gemm_on_amx_is_small(int64_t m, int64_t n, int64_t k) {
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  return std::strstr(set_for_depth(k).name, "__amx") != nullptr && work < double{1 << 24};
}

void q8_gemm(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, bool a_signed, int32_t a_zero_point,
             const PackedQ8GemmB& b, const Q8GemmOutput& out, Parallelism* parallelism) {
  check_argument(!b.empty() && b.depth() == k && b.columns() == n, "q8_gemm: packed B is ", b.depth(), " x ",
                 b.columns(), ", expected ", k, " x ", n);
  const Q8GemmSet& chosen = set_for_depth(k);
  const PackedQ8GemmB::Storage& pb = *b.storage();
  check_argument(runs_in_place_of(pb.set, chosen), "q8_gemm: B was packed for ", pb.set->name, ", not ", chosen.name,
                 " (the kernel for depth ", k, ")");
  const Q8GemmSet& set = *pb.set;
  check_argument(m >= 0 && (m == 0 || lda >= k), "q8_gemm: bad m=", m, " or lda=", lda);
  if (pb.set == chosen.narrow_a) {
    // That tile is exact only for A' (uint8 A, or int8 A + 128) in [0, 128]: m x k bytes, checked by a branch-free
    // maximum the compiler vectorizes (a loop testing byte by byte cost INT8 MobileNetV2 ~3%).
    // Contiguous rows as one (a reduction per short row cost a 16-deep expansion 4%).
    const uint8_t flip = a_signed ? 0x80 : 0x00;
    const int64_t rows = lda == k ? 1 : m, row_bytes = lda == k ? m * k : k;
    uint8_t widest = 0;
    for (int64_t i = 0; i < rows; ++i) {
      const uint8_t* row = a + i * lda;
      for (int64_t p = 0; p < row_bytes; ++p) widest = std::max<uint8_t>(widest, static_cast<uint8_t>(row[p] ^ flip));
    }
    check_argument(widest <= 128, "q8_gemm: B was packed for a narrow A (", pb.set->name,
                   "), but A holds A' = ", int{widest}, ", above 128");
  }

  check_argument(in_range(a_zero_point, a_signed), "q8_gemm: A zero point ", a_zero_point, " out of range");
  check_argument(out.c_s32 != nullptr || out.c_f32 != nullptr || out.c_q8 != nullptr, "q8_gemm: no output");
  check_argument(
      out.c_q8 == nullptr ||
          (out.row_scales != nullptr && std::nearbyint(out.q8_zero_point) == out.q8_zero_point &&
           out.q8_zero_point >= (out.q8_signed ? -128 : 0) && out.q8_zero_point <= (out.q8_signed ? 127 : 255)),
      "q8_gemm: a requantized output needs row scales and an integer zero point in its type's range, got ",
      out.q8_zero_point);
  check_argument(out.ldc >= n, "q8_gemm: ldc ", out.ldc, " < n ", n);
  check_argument(out.first_column >= 0 && out.first_column % set.nr == 0 &&
                     (out.last_column < 0 || (out.last_column > out.first_column && out.last_column <= n &&
                                              (out.last_column % set.nr == 0 || out.last_column == n))),
                 "q8_gemm: columns [", out.first_column, ", ", out.last_column, ") of ", n, " are not whole strips of ",
                 set.nr);
  check_argument(out.b_scale_count == 1 || out.b_scale_count == n, "q8_gemm: ", out.b_scale_count,
                 " B scales; expected 1 or ", n);
  if (m == 0 || n == 0) return;

  // One zero point for every column of B (x's in the NCHW pointwise convolutions, symmetric weights'): its term
  // -zb' * rowsum'[i] joins the row bias, one scalar per row (see TileOutput).
  const bool uniform_zero_point = !set.wide && std::all_of(pb.zero_points.begin(), pb.zero_points.end(),
                                                           [&](int32_t z) { return z == pb.zero_points[0]; });
  // A packed strip by strip (with the row sums of A' for the byte kernels), or, for the byte kernels on uint8 A of
  // whole (aligned) depth groups, read in place with only its row sums computed, and not even those when every
  // zb' is 0 (int8 B with zero point 0: symmetric weights, the implicit-GEMM convolutions' B), which nothing then
  // multiplies them by: a pass over all of A, 4% of INT8 ResNet-50 (Xeon, one thread).
  const bool direct_a = set.row_sums != nullptr && !a_signed && k % (set.group * set.group_align) == 0;
  const bool row_sums_unused = uniform_zero_point && (pb.zero_points.empty() || pb.zero_points[0] == 0);
  const int64_t element = set.wide ? 2 : 1;
  const int64_t a_strip_bytes = pb.groups * set.mr * set.group * element;
  const int64_t a_strips = (m + set.mr - 1) / set.mr;
  const auto packed_a = aligned_bytes(direct_a ? 0 : a_strips * a_strip_bytes);
  std::vector<int32_t> row_sums(static_cast<size_t>(a_strips * set.mr), 0);
  SerialParallelism serial;
  Parallelism& par = parallelism != nullptr ? *parallelism : serial;
  const auto pack_a = [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t rows = std::min<int64_t>(set.mr, m - s * set.mr);
      if (direct_a) {
        if (row_sums_unused) continue;
        if (out.a_row_sums != nullptr)
          std::copy(out.a_row_sums + s * set.mr, out.a_row_sums + s * set.mr + rows, row_sums.data() + s * set.mr);
        else
          set.row_sums(rows, k, a + s * set.mr * lda, lda, row_sums.data() + s * set.mr);
      } else {
        set.pack_a(rows, k, a + s * set.mr * lda, lda, a_signed, a_zero_point, packed_a.get() + s * a_strip_bytes,
                   row_sums.data() + s * set.mr);
      }
    }
  };
  if (direct_a && (row_sums_unused || out.a_row_sums != nullptr)) {
    pack_a(0, a_strips);  // nothing to pack, nothing or a copy to sum
  } else if (a_strips * a_strip_bytes >= (int64_t{64} << 10)) {
    par.parallel_for(a_strips, pack_a);
  } else {
    pack_a(0, a_strips);
  }

  // The column terms of the byte kernels: za' * (k * zb'[j] - colsum[j]).
  std::vector<int32_t> column_terms;
  if (!set.wide) {
    const uint32_t za = static_cast<uint32_t>(a_signed ? a_zero_point + 128 : a_zero_point);
    column_terms.resize(pb.zero_points.size());
    for (size_t j = 0; j < column_terms.size(); ++j) {
      column_terms[j] = static_cast<int32_t>(za * (static_cast<uint32_t>(k) * static_cast<uint32_t>(pb.zero_points[j]) -
                                                   static_cast<uint32_t>(pb.column_sums[j])));
    }
  }
  std::vector<int32_t> row_offsets;
  if (uniform_zero_point) {
    row_offsets.resize(row_sums.size());
    const uint32_t zb = static_cast<uint32_t>(pb.zero_points.empty() ? 0 : pb.zero_points[0]);
    for (size_t i = 0; i < row_offsets.size(); ++i) {
      const uint32_t bias = out.row_bias != nullptr && static_cast<int64_t>(i) < m ? out.row_bias[i] : 0;
      row_offsets[i] = static_cast<int32_t>(bias - zb * static_cast<uint32_t>(row_sums[i]));
    }
  }
  static const float kOne = 1.0f;
  const float* b_scales = out.b_scales != nullptr ? out.b_scales : &kOne;
  const bool per_column_scale = out.b_scales != nullptr && out.b_scale_count == n && n > 1;

  // Tasks in a fixed order: blocks of A rows, then B strips, then the block's A strips (or, a_major below, the
  // block's A strips, then B strips).
  // Blocks of A strips that fit rows_per_block, as even as their count allows: 25 strips of at most 14 per block
  // went 14 + 11, and the thread given the second block idled for 3 strips of every column (two threads take one
  // block each).
  const int64_t max_strips = std::min(rows_per_block(set, a_strip_bytes) / set.mr, a_strips);
  const int64_t blocks = (a_strips + max_strips - 1) / max_strips;
  const int64_t strips_per_block = (a_strips + blocks - 1) / blocks;
  // The B strips of the columns asked for (all by default).
  const int64_t first_strip = out.first_column / set.nr;
  const int64_t strip_count = (out.last_column < 0 ? pb.strips : (out.last_column + set.nr - 1) / set.nr) - first_strip;
  const int64_t tasks = blocks * strip_count * strips_per_block;
  // The fields every tile shares; each task sets its tile's rows, columns and pointers.
  q8gemm::TileOutput shared{};
  shared.a_stride = direct_a ? lda : 0;
  shared.q8_signed = out.q8_signed;
  shared.q8_zero_point = out.q8_zero_point;
  shared.q8_small_sums = out.q8_small_sums;
  shared.q8_moderate = out.c_q8 != nullptr && out.q8_small_sums && std::fabs(out.q8_zero_point) <= 255.0 &&
                       q8_requantize_scales_are_moderate(out.row_scales, m);
  shared.ldc = out.ldc;
  shared.a_scale = out.a_scale;
  shared.per_column_scale = per_column_scale;
  const bool q8 = out.c_s32 == nullptr && out.c_f32 == nullptr;
  const int32_t* const row_bias = uniform_zero_point ? row_offsets.data() : out.row_bias;
  // On several threads, B strips that do not share out evenly (a 14x14 NCHW pointwise convolution's 196 columns: 7
  // strips, the last of 4 columns) make the static split uneven; the block's A strips then go first in the task
  // order, so each thread takes a share of the A strips with all their tiles.
  const int threads = parallelism != nullptr ? parallelism->thread_count() : 1;
  const bool a_major = threads > 1 && strip_count % threads != 0 && strips_per_block >= 4 * threads;
  const auto run = [&](int64_t begin, int64_t end) {
    alignas(64) int32_t scratch[q8gemm::kMaxMr * 64];
    q8gemm::TileOutput tile = shared;
    tile.scratch = scratch;
    // What the tiles read, as locals: the tile calls may alias anything, so the captured references were reloaded
    // for every tile.
    const int64_t mr = set.mr, nr = set.nr, ldc = out.ldc, groups = pb.groups, strip_bytes = pb.strip_bytes;
    const bool wide = set.wide;
    const q8gemm::TileFn* const by_rows = set.by_rows;
    const uint8_t* const b_data = pb.data.get();
    const uint8_t* const packed_a_data = packed_a.get();
    const int32_t* const row_sums_data = row_sums.data();
    const int32_t* const column_terms_data = column_terms.data();
    const int32_t* const zero_points = uniform_zero_point ? nullptr : pb.zero_points.data();
    int32_t* const c_s32 = out.c_s32;
    float* const c_f32 = out.c_s32 == nullptr ? out.c_f32 : nullptr;
    uint8_t* const c_q8 = q8 ? out.c_q8 : nullptr;
    const double* const row_scales = out.row_scales;
    const float* const bias = out.bias;
    // Task t's place, (block, outer, inner) with the inner index running fastest, divided out once and then
    // stepped (two 64-bit divisions per tile were a tenth of a 16-deep expansion's tiles on Zen 3).
    const int64_t per_block = strip_count * strips_per_block;
    const int64_t inner_count = a_major ? strip_count : strips_per_block;
    const int64_t outer_count = a_major ? strips_per_block : strip_count;
    int64_t block = begin / per_block, outer = begin % per_block / inner_count, inner = begin % inner_count;
    for (int64_t t = begin; t < end; ++t) {
      const int64_t b_strip = first_strip + (a_major ? inner : outer);
      const int64_t a_strip = block * strips_per_block + (a_major ? outer : inner);
      if (++inner == inner_count) {
        inner = 0;
        if (++outer == outer_count) {
          outer = 0;
          ++block;
        }
      }
      if (a_strip >= a_strips) continue;
      const int64_t i0 = a_strip * mr, j0 = b_strip * nr;
      const int64_t rows = std::min<int64_t>(mr, m - i0);
      tile.rows = rows;
      tile.cols = std::min<int64_t>(nr, n - j0);
      if (!wide) {
        tile.row_sums = row_sums_data + i0;
        tile.col_zero_points = zero_points != nullptr ? zero_points + j0 : nullptr;
        tile.col_terms = column_terms_data + j0;
      }
      const int64_t offset = i0 * ldc + j0;
      tile.c_s32 = c_s32 != nullptr ? c_s32 + offset : nullptr;
      tile.c_f32 = c_f32 != nullptr ? c_f32 + offset : nullptr;
      tile.c_q8 = c_q8 != nullptr ? c_q8 + offset : nullptr;
      tile.row_scales = c_q8 != nullptr ? row_scales + i0 : nullptr;
      tile.row_bias = row_bias != nullptr ? row_bias + i0 : nullptr;
      tile.b_scales = per_column_scale ? b_scales + j0 : b_scales;
      tile.bias = bias != nullptr ? bias + j0 : nullptr;
      const uint8_t* a_tile = direct_a ? a + i0 * lda : packed_a_data + a_strip * a_strip_bytes;
      by_rows[rows - 1](groups, a_tile, b_data + b_strip * strip_bytes, tile);
    }
    if (set.end_tiles != nullptr) set.end_tiles();
  };
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (work >= 1 << 18 && par.thread_count() > 1)
    par.parallel_for(tasks, run);
  else
    run(0, tasks);
}

void q8_requantize(const int32_t* values, int64_t count, const double* scales, int64_t scale_stride, double zero_point,
                   bool out_signed, uint8_t* out, bool small_sums) {
  dispatch().active().requantize(values, count, scales, scale_stride, zero_point, out_signed, out, small_sums);
}

void q8_requantize_float_sums(const float* sums, int64_t count, int32_t bias, double scale, double zero_point,
                              bool out_signed, uint8_t* out, bool small_sums) {
  dispatch().active().requantize_float_sums(sums, count, bias, scale, zero_point, out_signed, out, small_sums);
}

void q8_requantize_float_sums_channels(const float* sums, int64_t positions, int64_t channels, const int32_t* bias,
                                       const double* scales, double zero_point, bool out_signed, uint8_t* out,
                                       bool small_sums) {
  dispatch().active().requantize_float_sums_channels(sums, positions, channels, bias, scales, zero_point, out_signed,
                                                     out, small_sums);
}

void q8_requantize_channels(const int32_t* sums, int64_t positions, int64_t channels, int64_t ld_sums,
                            const int32_t* bias, const double* scales, double zero_point, bool out_signed, uint8_t* out,
                            int64_t ld_out, bool small_sums) {
  dispatch().active().requantize_channels(sums, positions, channels, ld_sums, bias, scales, zero_point, out_signed, out,
                                          ld_out, small_sums);
}

const char* q8_gemm_kernel_name() { return dispatch().active().name; }
const char* q8_gemm_kernel_name_for_depth(int64_t k) { return set_for_depth(k).name; }

bool q8_gemm_packed_for_narrow_b(const PackedQ8GemmB& b) {
  return !b.empty() && b.storage()->set == set_for_depth(b.depth()).narrow_b;
}

bool q8_gemm_packed_for_byte_b(const PackedQ8GemmB& b) {
  return !b.empty() && b.storage()->set == set_for_depth(b.depth()).byte_b;
}

bool q8_gemm_has_narrow_b_kernel() { return dispatch().active().narrow_b != nullptr; }

bool q8_gemm_has_narrow_a_kernel(int64_t k) { return set_for_depth(k).narrow_a != nullptr; }

bool q8_gemm_requantizes_in_registers(int64_t k) { return set_for_depth(k).requantizes_in_registers; }

bool q8_requantize_scales_are_moderate(const double* scales, int64_t count) {
  return std::all_of(scales, scales + count, [](double s) {
    return std::isfinite(s) && static_cast<double>(static_cast<float>(s)) == s && std::fabs(s) < 64.0;
  });
}

bool q8_gemm_runs_packed(const PackedQ8GemmB& b) {
  if (b.empty()) return false;
  return runs_in_place_of(b.storage()->set, set_for_depth(b.depth()));
}
std::vector<std::string> q8_gemm_kernel_names() { return dispatch().names(); }
bool q8_gemm_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera
