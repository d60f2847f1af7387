// ThreadPool: parallel_for cuts [0, count) into at most one chunk per thread, parallel_for_pieces into the pieces
// asked for (fixed boundaries, any thread runs any piece); every index is covered once, exceptions reach the caller,
// and a call from inside a worker runs inline.
#include "runtime/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

namespace tessera {
namespace {

// The (begin, end) ranges fn was called with, sorted.
std::set<std::pair<int64_t, int64_t>> ranges_of(
    const std::function<void(const std::function<void(int64_t, int64_t)>&)>& run) {
  std::mutex mutex;
  std::set<std::pair<int64_t, int64_t>> ranges;
  run([&](int64_t begin, int64_t end) {
    std::lock_guard<std::mutex> lock(mutex);
    ranges.emplace(begin, end);
  });
  return ranges;
}

TEST(ThreadPoolTest, ParallelForMakesOneChunkPerThread) {
  ThreadPool pool(2);
  const auto ranges = ranges_of([&](const auto& fn) { pool.parallel_for(10, fn); });
  EXPECT_EQ(ranges, (std::set<std::pair<int64_t, int64_t>>{{0, 5}, {5, 10}}));
}

TEST(ThreadPoolTest, PiecesHaveFixedBoundariesAndCoverEverything) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int repeat = 0; repeat < 50; ++repeat) {
      const auto ranges = ranges_of([&](const auto& fn) { pool.parallel_for_pieces(10, 4, fn); });
      if (threads == 1) {
        EXPECT_EQ(ranges, (std::set<std::pair<int64_t, int64_t>>{{0, 10}}));
      } else {
        EXPECT_EQ(ranges, (std::set<std::pair<int64_t, int64_t>>{{0, 2}, {2, 5}, {5, 7}, {7, 10}}));
      }
    }
    // More pieces than items: one piece per item.
    EXPECT_EQ(ranges_of([&](const auto& fn) { pool.parallel_for_pieces(3, 8, fn); }).size(), threads == 1 ? 1u : 3u);
  }
}

TEST(ThreadPoolTest, PieceExceptionsReachTheCaller) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for_pieces(16, 8,
                                        [](int64_t begin, int64_t) {
                                          if (begin == 6) throw std::runtime_error("piece");
                                        }),
               std::runtime_error);
  // The pool still works afterwards.
  std::atomic<int64_t> sum{0};
  pool.parallel_for_pieces(100, 8, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) sum += i;
  });
  EXPECT_EQ(sum.load(), 4950);
}

TEST(ThreadPoolTest, NestedCallsRunInline) {
  ThreadPool pool(2);
  std::atomic<int> whole_calls{0}, other_calls{0};
  pool.parallel_for_pieces(4, 4, [&](int64_t, int64_t) {
    // Inside a worker, or on the caller while its job holds the pool: one call over everything.
    pool.parallel_for_pieces(
        8, 4, [&](int64_t begin, int64_t end) { ++(begin == 0 && end == 8 ? whole_calls : other_calls); });
  });
  EXPECT_EQ(whole_calls.load(), 4);
  EXPECT_EQ(other_calls.load(), 0);
}

}  // namespace
}  // namespace tessera
