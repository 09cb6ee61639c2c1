#include <doctest/doctest.h>

#include <memory>

#include "node/bounded_queue.h"

using namespace pave;

TEST_CASE("bounded queue: refuses and counts what does not fit, keeps order") {
    BoundedQueue<int> q(3);
    CHECK(q.push(1));
    CHECK(q.push(2));
    CHECK(q.push(3));
    CHECK_FALSE(q.push(4));
    CHECK_FALSE(q.push(5));
    CHECK(q.size() == 3);
    CHECK(q.dropped() == 2);
    auto all = q.take_all();
    REQUIRE(all.size() == 3);
    CHECK(all[0] == 1);
    CHECK(all[2] == 3);
    CHECK(q.size() == 0);
    CHECK(q.push(6));  // room again after a drain
    CHECK(q.dropped() == 2);
}

TEST_CASE("bounded queue: a refused item is destroyed, not kept") {
    BoundedQueue<std::shared_ptr<int>> q(1);
    auto a = std::make_shared<int>(1);
    auto b = std::make_shared<int>(2);
    CHECK(q.push(a));
    CHECK_FALSE(q.push(b));
    CHECK(b.use_count() == 1);  // the queue holds no copy of what it refused
    CHECK(a.use_count() == 2);
    q.clear();
    CHECK(a.use_count() == 1);

    BoundedQueue<int> none(0);
    CHECK_FALSE(none.push(1));
    CHECK(none.dropped() == 1);
}
