// ThreadPool: parallel_for cuts [0, count) into at most one chunk per thread, parallel_for_pieces into the pieces
// asked for (fixed boundaries; each thread runs its home range, then steals from the others' backs); every index is
// covered once, exceptions reach the caller and the pool stays usable, a call from inside a worker runs inline, and
// several callers at once each get their whole range (one parallel region at a time, the others inline). Also run
// under TSan (scripts/sanitize.sh thread).
#include "runtime/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
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

// Each thread runs its home range (the caller the first, worker i range i + 1) from the front, then takes what is
// left of the others' from their backs: in every range, the owner's chunks are a prefix run in increasing order and
// the thieves' the rest, run from the back. Chunks sleep, so stealing happens when one thread falls behind.
TEST(ThreadPoolTest, ThreadsRunTheirHomeRangesFrontToBackAndStealFromTheBack) {
  ThreadPool pool(2);
  for (int repeat = 0; repeat < 20; ++repeat) {
    std::mutex mutex;
    std::vector<std::pair<std::thread::id, int64_t>> order;  // (thread, chunk) in the order the chunks started
    const std::thread::id caller = std::this_thread::get_id();
    pool.parallel_for_pieces(8, 8, [&](int64_t begin, int64_t) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        order.emplace_back(std::this_thread::get_id(), begin);
      }
      // The caller's chunks take longer on odd repeats, the worker's on even ones.
      const bool slow = (std::this_thread::get_id() == caller) == (repeat % 2 == 1);
      std::this_thread::sleep_for(std::chrono::microseconds(slow ? 3000 : 200));
    });
    ASSERT_EQ(order.size(), 8u);
    for (int64_t range = 0; range < 2; ++range) {
      std::vector<int64_t> owner, thief;
      for (const auto& [thread, chunk] : order) {
        if (chunk / 4 != range) continue;
        ((thread == caller) == (range == 0) ? owner : thief).push_back(chunk);
      }
      for (size_t i = 0; i < owner.size(); ++i) EXPECT_EQ(owner[i], range * 4 + static_cast<int64_t>(i));
      for (size_t i = 0; i < thief.size(); ++i) EXPECT_EQ(thief[i], range * 4 + 3 - static_cast<int64_t>(i));
    }
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

TEST(ThreadPoolTest, VisitsEveryIndexOnceWithFixedChunks) {
  ThreadPool pool(3);
  ASSERT_EQ(pool.thread_count(), 3);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::atomic<int>> visits(1000);
    std::vector<std::pair<int64_t, int64_t>> chunks(3, {-1, -1});
    std::atomic<int> next{0};
    pool.parallel_for(1000, [&](int64_t begin, int64_t end) {
      chunks[next++] = {begin, end};
      for (int64_t i = begin; i < end; ++i) visits[i]++;
    });
    for (const auto& v : visits) ASSERT_EQ(v.load(), 1);
    std::sort(chunks.begin(), chunks.end());
    EXPECT_EQ(chunks.front().first, 0);
    EXPECT_EQ(chunks.back().second, 1000);
  }
}

TEST(ThreadPoolTest, ConcurrentCallersEachGetTheirWholeRange) {
  ThreadPool pool(2);
  std::vector<std::thread> callers;
  std::atomic<int64_t> failures{0};
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 100; ++round) {
        const int64_t count = 100 + c * 37 + round;
        std::vector<int> seen(static_cast<size_t>(count), 0);
        pool.parallel_for(count, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) seen[static_cast<size_t>(i)]++;
        });
        for (int s : seen) failures += s != 1;
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ThreadPoolTest, AChunksExceptionReachesTheCallerAndThePoolStaysUsable) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(64,
                                 [](int64_t begin, int64_t) {
                                   if (begin == 0) throw std::runtime_error("chunk failed");
                                 }),
               std::runtime_error);
  std::atomic<int64_t> sum{0};
  pool.parallel_for(64, [&](int64_t begin, int64_t end) { sum += end - begin; });
  EXPECT_EQ(sum.load(), 64);
}

}  // namespace
}  // namespace tessera
