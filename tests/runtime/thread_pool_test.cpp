// ThreadPool: every index is visited exactly once, with the same chunk boundaries every time, from several
// callers at once (one parallel region at a time, the others inline), with exceptions carried to the caller.
// Also run under TSan (scripts/sanitize.sh thread).
#include "runtime/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tessera {
namespace {

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
