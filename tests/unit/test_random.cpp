#include <doctest/doctest.h>

#include <array>

#include "crypto/random.h"

TEST_CASE("random: a seeded test generator replays, nests, and hands back the system one") {
    auto draw = [] {
        std::array<uint8_t, 100> a{};
        pave::random_bytes(a);
        return a;
    };
    std::array<uint8_t, 100> first{}, second{};
    {
        pave::DeterministicRandomForTests r(42);
        first = draw();
        {
            pave::DeterministicRandomForTests inner(7);
            CHECK(draw() != first);
        }
    }
    {
        pave::DeterministicRandomForTests r(42);
        second = draw();
    }
    CHECK(first == second);
    CHECK(draw() != first);  // the system generator again
}
