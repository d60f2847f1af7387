// run_timeout_ms: a batch's run deadline from the server's --timeout-ms and the requests' own deadlines.
#include <gtest/gtest.h>

#include "serve/batch_execution.h"

namespace tessera::serve {
namespace {

using std::chrono::milliseconds;

TEST(RunTimeoutTest, TheEarlierOfTheServerTimeoutAndTheRequestsDeadline) {
  const auto now = SteadyClock::now();
  const auto none = SteadyClock::time_point::max();
  EXPECT_EQ(run_timeout_ms(none, 0, now), 0);                       // neither: no deadline
  EXPECT_EQ(run_timeout_ms(none, 250, now), 250);                   // the server's alone
  EXPECT_EQ(run_timeout_ms(now + milliseconds(300), 0, now), 301);  // rounded up
  EXPECT_EQ(run_timeout_ms(now + milliseconds(300), 100, now), 100);
  EXPECT_EQ(run_timeout_ms(now + milliseconds(300), 1000, now), 301);
  EXPECT_EQ(run_timeout_ms(now - milliseconds(5), 0, now), 1);  // already passed: stops at the first check
}

}  // namespace
}  // namespace tessera::serve
