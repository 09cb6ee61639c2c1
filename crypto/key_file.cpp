#include "crypto/key_file.h"

#include <fcntl.h>
#include <nettle/sha2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace pave {

namespace {

constexpr std::string_view kMagic = "PAVE-KEY";
constexpr uint8_t kVersion = 1;
constexpr uint8_t kTypeEd25519 = 1;
constexpr size_t kSeedOff = 12;
constexpr size_t kPubOff = kSeedOff + 32;
constexpr size_t kSumOff = kPubOff + 32;
static_assert(kSumOff + 32 == kKeyFileSize);

ByteArray<32> checksum(const uint8_t* data, size_t len) {
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, len, data);
    ByteArray<32> out{};
    sha256_digest(&ctx, out.size(), out.data());
    return out;
}

KeyFileResult fail(std::string msg) { return KeyFileResult{std::nullopt, std::move(msg)}; }

std::string errno_text(int err) { return std::strerror(err); }

std::string mode_text(mode_t m) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", unsigned(m & 07777));
    return buf;
}

bool write_all(int fd, const uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= size_t(w);
    }
    return true;
}

std::string dir_of(const std::string& path) {
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

// Writes the whole file to an open descriptor and syncs it; "" or an error reason.
std::string write_contents(int fd, const Ed25519Key& key) {
    auto contents = serialize_key_file(key);
    bool ok = write_all(fd, contents.data(), contents.size());
    int err = errno;
    secure_zero(contents.data(), contents.size());
    if (!ok) return "write failed: " + errno_text(err);
    if (::fsync(fd) != 0) return "fsync failed: " + errno_text(errno);
    return "";
}

}  // namespace

ByteArray<kKeyFileSize> serialize_key_file(const Ed25519Key& key) {
    ByteArray<kKeyFileSize> out{};
    std::memcpy(out.data(), kMagic.data(), kMagic.size());
    out[8] = kVersion;
    out[9] = kTypeEd25519;
    out[10] = 0;
    out[11] = 0;
    std::memcpy(out.data() + kSeedOff, key.seed().data(), 32);
    std::memcpy(out.data() + kPubOff, key.public_key().data(), 32);
    auto sum = checksum(out.data(), kSumOff);
    std::memcpy(out.data() + kSumOff, sum.data(), sum.size());
    return out;
}

namespace {

// subject names the file in messages: "key file" or "key file <path>".
KeyFileResult parse_impl(ByteView contents, const std::string& subject) {
    auto bad = [&](std::string_view what) { return KeyFileResult{std::nullopt, subject + " " + std::string(what)}; };
    if (contents.size() != kKeyFileSize) {
        return bad("is " + std::to_string(contents.size()) + " bytes, expected " +
                    std::to_string(kKeyFileSize) + " (truncated or not a key file)");
    }
    if (std::memcmp(contents.data(), kMagic.data(), kMagic.size()) != 0)
        return bad("is not a PAVE key file (bad magic)");
    if (contents[8] != kVersion)
        return bad("has unsupported key file version " + std::to_string(contents[8]));
    if (contents[9] != kTypeEd25519)
        return bad("has unsupported key type " + std::to_string(contents[9]));
    if (contents[10] != 0 || contents[11] != 0) return bad("is corrupt (reserved bytes set)");
    auto sum = checksum(contents.data(), kSumOff);
    if (!equal_ct(sum, contents.subspan(kSumOff, 32))) return bad("is corrupt (checksum mismatch)");
    SecretArray<32> seed;
    std::memcpy(seed.data(), contents.data() + kSeedOff, 32);
    auto key = Ed25519Key::from_seed(seed);
    if (!equal_ct(key.public_key(), contents.subspan(kPubOff, 32)))
        return bad("is corrupt (stored public key does not match the seed)");
    return KeyFileResult{std::move(key), ""};
}

}  // namespace

KeyFileResult parse_key_file(ByteView contents) { return parse_impl(contents, "key file"); }

KeyFileResult load_key_file(const std::string& path) {
    const std::string prefix = "key file " + path + " ";
    // O_NONBLOCK: opening a FIFO must not hang; it is refused below as not a regular file.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT) return fail(prefix + "does not exist");
        return fail(prefix + "cannot be opened: " + errno_text(err));
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};

    struct stat st {};
    if (::fstat(fd, &st) != 0) return fail(prefix + "cannot be read: " + errno_text(errno));
    if (!S_ISREG(st.st_mode)) return fail(prefix + "is not a regular file");
    if ((st.st_mode & 077) != 0) {
        return fail(prefix + "has mode " + mode_text(st.st_mode) +
                    ", which lets group or others access it; refusing to use it (run: chmod 600 " +
                    path + ")");
    }
    if (st.st_size != off_t(kKeyFileSize)) {
        return fail(prefix + "is " + std::to_string(st.st_size) + " bytes, expected " +
                    std::to_string(kKeyFileSize) + " (truncated or not a key file)");
    }

    // One byte more than expected, to notice a file that grew since fstat.
    uint8_t buf[kKeyFileSize + 1];
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t r = ::read(fd, buf + got, sizeof buf - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            secure_zero(buf, sizeof buf);
            return fail(prefix + "cannot be read: " + errno_text(err));
        }
        if (r == 0) break;
        got += size_t(r);
    }
    auto res = parse_impl(ByteView(buf, got), "key file " + path);
    secure_zero(buf, sizeof buf);
    return res;
}

std::string save_key_file(const std::string& path, const Ed25519Key& key, bool force) {
    const std::string prefix = "key file " + path + ": ";
    if (!force) {
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            int err = errno;
            if (err == EEXIST) return prefix + "already exists; refusing to overwrite it without force";
            return prefix + "cannot be created: " + errno_text(err);
        }
        std::string e;
        if (::fchmod(fd, 0600) != 0) e = "chmod failed: " + errno_text(errno);
        if (e.empty()) e = write_contents(fd, key);
        if (::close(fd) != 0 && e.empty()) e = "close failed: " + errno_text(errno);
        if (!e.empty()) {
            ::unlink(path.c_str());
            return prefix + e;
        }
    } else {
        std::string tmpl = path + ".tmp-XXXXXX";
        int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
        if (fd < 0) return prefix + "cannot create a temporary file: " + errno_text(errno);
        std::string e;
        if (::fchmod(fd, 0600) != 0) e = "chmod failed: " + errno_text(errno);
        if (e.empty()) e = write_contents(fd, key);
        if (::close(fd) != 0 && e.empty()) e = "close failed: " + errno_text(errno);
        if (e.empty() && ::rename(tmpl.c_str(), path.c_str()) != 0)
            e = "cannot replace it: " + errno_text(errno);
        if (!e.empty()) {
            ::unlink(tmpl.c_str());
            return prefix + e;
        }
    }
    // Make the new directory entry durable too (best effort: some filesystems refuse).
    int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
    return "";
}

}  // namespace pave
