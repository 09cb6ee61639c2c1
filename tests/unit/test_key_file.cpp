#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "crypto/key_file.h"

using namespace pave;

namespace {

// A private temporary directory, removed with its files at the end of the test.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/pave-keyfile-test-XXXXXX";
        const char* p = ::mkdtemp(tmpl);
        REQUIRE(p != nullptr);
        path = p;
    }
    ~TempDir() {
        std::string cmd = "rm -rf '" + path + "'";
        (void)std::system(cmd.c_str());
    }
    std::string file(const char* name) const { return path + "/" + name; }
};

void write_raw(const std::string& path, ByteView data, mode_t mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, data.data(), data.size()) == ssize_t(data.size()));
    ::close(fd);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("key file: save then load gives the same key, mode 0600") {
    TempDir dir;
    auto path = dir.file("node.key");
    auto key = Ed25519Key::generate();
    REQUIRE(save_key_file(path, key, false) == "");
    CHECK(mode_of(path) == 0600);
    auto res = load_key_file(path);
    REQUIRE_MESSAGE(res.key, res.error);
    CHECK(res.error.empty());
    CHECK(res.key->public_key() == key.public_key());
    CHECK(res.key->seed().b == key.seed().b);
}

TEST_CASE("key file: never overwrites without force; force replaces atomically") {
    TempDir dir;
    auto path = dir.file("node.key");
    auto first = Ed25519Key::generate();
    auto second = Ed25519Key::generate();
    REQUIRE(save_key_file(path, first, false) == "");
    auto err = save_key_file(path, second, false);
    CHECK(contains(err, "already exists"));
    CHECK(err.find('\n') == std::string::npos);
    auto res = load_key_file(path);
    REQUIRE(res.key);
    CHECK(res.key->public_key() == first.public_key());

    REQUIRE(save_key_file(path, second, true) == "");
    CHECK(mode_of(path) == 0600);
    res = load_key_file(path);
    REQUIRE(res.key);
    CHECK(res.key->public_key() == second.public_key());

    // Force also works when no file exists yet, and leaves no temporary file behind.
    auto fresh = dir.file("fresh.key");
    REQUIRE(save_key_file(fresh, first, true) == "");
    CHECK(load_key_file(fresh).key.has_value());
    std::string cmd = "ls '" + dir.path + "' | grep -q tmp";
    CHECK(std::system(cmd.c_str()) != 0);
}

TEST_CASE("key file: save reports an unwritable location") {
    auto err = save_key_file("/nonexistent-dir-pave/node.key", Ed25519Key::generate(), false);
    CHECK(contains(err, "cannot be created"));
    err = save_key_file("/nonexistent-dir-pave/node.key", Ed25519Key::generate(), true);
    CHECK_FALSE(err.empty());
}

TEST_CASE("key file: load errors are one clear line") {
    TempDir dir;
    auto key = Ed25519Key::generate();
    auto good = serialize_key_file(key);

    SUBCASE("missing") {
        auto res = load_key_file(dir.file("absent.key"));
        CHECK_FALSE(res.key);
        CHECK(contains(res.error, "does not exist"));
        CHECK(contains(res.error, "absent.key"));
    }
    SUBCASE("group or other permission bits are refused, naming the mode and chmod 600") {
        for (mode_t m : {mode_t(0644), mode_t(0640), mode_t(0604), mode_t(0601), mode_t(0610), mode_t(0666)}) {
            CAPTURE(m);
            auto path = dir.file("loose.key");
            write_raw(path, good, m);
            auto res = load_key_file(path);
            CHECK_FALSE(res.key);
            char mode_text[8];
            std::snprintf(mode_text, sizeof mode_text, "%04o", unsigned(m));
            CHECK(contains(res.error, mode_text));
            CHECK(contains(res.error, "chmod 600"));
            CHECK(res.error.find('\n') == std::string::npos);
        }
        // 0400 is fine.
        auto path = dir.file("ro.key");
        write_raw(path, good, 0400);
        CHECK(load_key_file(path).key.has_value());
    }
    SUBCASE("not a regular file") {
        auto res = load_key_file(dir.path);
        CHECK_FALSE(res.key);
        CHECK(contains(res.error, "not a regular file"));
        auto fifo = dir.file("fifo.key");
        REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        res = load_key_file(fifo);
        CHECK_FALSE(res.key);
        CHECK(contains(res.error, "not a regular file"));
    }
    SUBCASE("unreadable") {
        auto path = dir.file("noread.key");
        write_raw(path, good, 0000);
        if (::geteuid() != 0) {
            auto res = load_key_file(path);
            CHECK_FALSE(res.key);
            CHECK(contains(res.error, "cannot be opened"));
        } else {
            // root reads anything: try as an unprivileged user in a child process
            REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
            pid_t pid = ::fork();
            REQUIRE(pid >= 0);
            if (pid == 0) {
                if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
                auto res = load_key_file(path);
                ::_exit(res.key ? 1 : contains(res.error, "cannot be opened") ? 0 : 2);
            }
            int status = 0;
            REQUIRE(::waitpid(pid, &status, 0) == pid);
            CHECK(WIFEXITED(status));
            CHECK(WEXITSTATUS(status) == 0);
        }
    }
    SUBCASE("truncated, empty, oversized") {
        auto path = dir.file("short.key");
        write_raw(path, ByteView(good.data(), good.size() - 1), 0600);
        auto res = load_key_file(path);
        CHECK_FALSE(res.key);
        CHECK(contains(res.error, "truncated"));
        write_raw(path, {}, 0600);
        CHECK_FALSE(load_key_file(path).key);
        Bytes big(good.begin(), good.end());
        big.push_back(0);
        write_raw(path, big, 0600);
        res = load_key_file(path);
        CHECK_FALSE(res.key);
        CHECK(contains(res.error, "bytes, expected"));
    }
    SUBCASE("bad magic and corruption") {
        auto path = dir.file("bad.key");
        auto bad = good;
        bad[0] ^= 1;
        write_raw(path, bad, 0600);
        auto res = load_key_file(path);
        CHECK_FALSE(res.key);
        CHECK(contains(res.error, "bad magic"));

        bad = good;
        bad[20] ^= 1;  // inside the seed
        write_raw(path, bad, 0600);
        res = load_key_file(path);
        CHECK_FALSE(res.key);
        CHECK(contains(res.error, "checksum"));
    }
}

TEST_CASE("key file: parse rejects every malformed form") {
    auto key = Ed25519Key::generate();
    auto good = serialize_key_file(key);
    auto ok = parse_key_file(good);
    REQUIRE(ok.key);
    CHECK(ok.key->public_key() == key.public_key());

    // Every truncation.
    for (size_t n = 0; n < good.size(); ++n) {
        auto r = parse_key_file(ByteView(good.data(), n));
        CHECK_FALSE(r.key);
        CHECK_FALSE(r.error.empty());
    }
    // Every single bit flip is caught (magic, version, type, reserved, seed, pub or checksum).
    for (size_t i = 0; i < good.size(); ++i) {
        for (int bit = 0; bit < 8; bit += 3) {
            auto bad = good;
            bad[i] ^= uint8_t(1 << bit);
            CHECK_FALSE(parse_key_file(bad).key);
        }
    }
    // Unsupported version.
    auto v2 = good;
    v2[8] = 2;
    CHECK(contains(parse_key_file(v2).error, "version"));

    // A valid checksum over a public key that does not belong to the seed.
    auto other = Ed25519Key::generate();
    auto forged = serialize_key_file(key);
    std::memcpy(forged.data() + 44, other.public_key().data(), 32);
    CHECK(contains(parse_key_file(forged).error, "checksum"));
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, 76, forged.data());
    sha256_digest(&ctx, 32, forged.data() + 76);
    auto res = parse_key_file(forged);
    CHECK_FALSE(res.key);
    CHECK(contains(res.error, "public key does not match"));
}
