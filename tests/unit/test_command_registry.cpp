#include <doctest/doctest.h>

#include <string>

#include "node/command_registry.h"

using namespace pave;

namespace {

struct Fixture {
    CommandRegistry reg;
    std::string ran;
    CommandRegistry::Args got;
    Fixture() {
        auto h = [this](const char* name) {
            return [this, name](const CommandRegistry::Args& a, CommandRegistry::Reply r) {
                ran = name;
                got = a;
                r(std::string("ok ") + name);
            };
        };
        reg.add({"status", "status [--json]", "node status", 0, 1, false, h("status")});
        reg.add({"dht get", "dht get KEY", "values at KEY", 1, 1, false, h("dht get")});
        reg.add({"dht put", "dht put KEY VALUE", "store VALUE at KEY", 2, 2, true, h("dht put")});
        reg.add({"dht export", "dht export", "every value stored", 0, 0, false, h("dht export")});
    }
    bool run(const std::string& line) {
        ran.clear();
        got.clear();
        std::string reply;
        bool ok = reg.dispatch(line, [&](std::string s) { reply = std::move(s); });
        if (ok) CHECK(reply == "ok " + ran);
        return ok;
    }
};

}  // namespace

TEST_CASE("command registry: dispatch by name and argument count") {
    Fixture f;
    CHECK(f.run("status"));
    CHECK(f.ran == "status");
    CHECK(f.got.empty());
    CHECK(f.run("  status   --json "));
    CHECK(f.got == CommandRegistry::Args{"--json"});
    CHECK(CommandRegistry::has_flag(f.got, "--json"));
    CHECK_FALSE(f.run("status a b"));  // too many arguments

    CHECK(f.run("dht get abc"));
    CHECK(f.ran == "dht get");
    CHECK(f.got == CommandRegistry::Args{"abc"});
    CHECK_FALSE(f.run("dht get"));
    CHECK_FALSE(f.run("dht get a b"));
    CHECK_FALSE(f.run("dht"));
    CHECK_FALSE(f.run("dht frob"));
    CHECK(f.run("dht export"));
    CHECK_FALSE(f.run("dht export x"));

    // The last argument of a `rest` command keeps its spaces.
    CHECK(f.run("dht put k hello  big world"));
    CHECK(f.got == CommandRegistry::Args{"k", "hello  big world"});
    CHECK_FALSE(f.run("dht put k"));

    CHECK_FALSE(f.run(""));
    CHECK_FALSE(f.run("stat"));
    CHECK_FALSE(f.run("statusx"));
    CHECK(f.ran.empty());
}

TEST_CASE("command registry: help is generated from the registrations") {
    Fixture f;
    const std::string help = f.reg.help();
    CHECK(help ==
          "status [--json]     node status\n"
          "dht get KEY         values at KEY\n"
          "dht put KEY VALUE   store VALUE at KEY\n"
          "dht export          every value stored\n");
    // Every registered command has its line, and every line a command.
    size_t lines = 0;
    for (char c : help) lines += c == '\n';
    CHECK(lines == f.reg.specs().size());
}

TEST_CASE("command registry: split") {
    using V = std::vector<std::string>;
    CHECK(CommandRegistry::split("  a  b c ", std::string::npos) == V{"a", "b", "c"});
    CHECK(CommandRegistry::split("a b c d", 2) == V{"a", "b c d"});
    CHECK(CommandRegistry::split("", 3).empty());
    CHECK(CommandRegistry::split("   ", 3).empty());
}
