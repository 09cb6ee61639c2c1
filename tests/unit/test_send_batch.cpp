// SendBatch on real loopback sockets: every datagram arrives byte for byte, in order, with its
// own boundaries, whatever the batching did.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/random.h"
#include "node/send_batch.h"

using namespace pave;

namespace {

struct Sock {
    int fd = -1;
    Endpoint addr;
    Sock() {
        fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        int size = 4 << 20;
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        auto a = *Endpoint::parse("127.0.0.1:0");
        REQUIRE(::bind(fd, a.sa(), a.sa_len()) == 0);
        sockaddr_storage ss;
        socklen_t len = sizeof ss;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
        addr = *Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    }
    ~Sock() { ::close(fd); }
    std::vector<Bytes> receive_all() {
        std::vector<Bytes> out;
        for (;;) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 200) <= 0) return out;
            Bytes b(65536);
            ssize_t n = ::recv(fd, b.data(), b.size(), 0);
            if (n < 0) return out;
            b.resize(size_t(n));
            out.push_back(std::move(b));
        }
    }
};

Bytes datagram(size_t n) {
    Bytes b(n);
    random_bytes(b);
    return b;
}

}  // namespace

TEST_CASE("send batch: same-size datagrams leave in few system calls and arrive intact") {
    Sock from, a, b;
    SendBatch batch(from.fd);
    std::vector<Bytes> sent_a, sent_b;
    for (int i = 0; i < 100; ++i) sent_a.push_back(datagram(1452));
    sent_a.push_back(datagram(300));  // a short one ends a batch
    sent_a.push_back(datagram(1452));
    for (const auto& d : sent_a) batch.add(d, a.addr);
    for (int i = 0; i < 5; ++i) {
        sent_b.push_back(datagram(200 + size_t(i)));  // growing sizes: each starts a new batch
        batch.add(sent_b.back(), b.addr);
    }
    batch.flush();
    CHECK(batch.datagrams() == sent_a.size() + sent_b.size());
    CHECK(batch.errors() == 0);
    CHECK(batch.syscalls() < 20);  // 102 to a: 3 batches of <= 44, a short tail, one more; 5 to b
    CHECK(a.receive_all() == sent_a);
    CHECK(b.receive_all() == sent_b);
}

TEST_CASE("send batch: a lone datagram and a connected socket") {
    Sock to;
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE(::connect(fd, to.addr.sa(), to.addr.sa_len()) == 0);
    SendBatch batch(fd);
    Bytes one = datagram(64);
    batch.add(one, std::nullopt);
    batch.flush();
    batch.flush();  // nothing more to send
    CHECK(to.receive_all() == std::vector<Bytes>{one});
    std::vector<Bytes> many;
    for (int i = 0; i < 10; ++i) {
        many.push_back(datagram(1000));
        batch.add(many.back(), std::nullopt);
    }
    batch.flush();
    CHECK(to.receive_all() == many);
    CHECK(batch.datagrams() == 11);
    ::close(fd);
}

TEST_CASE("send batch: nothing is sent without a socket, and oversize input is refused") {
    Sock to;
    SendBatch none;
    none.add(datagram(100), to.addr);
    none.flush();
    CHECK(none.datagrams() == 0);
    SendBatch batch(to.fd);
    batch.add(Bytes(70000, 1), to.addr);
    batch.add(ByteView{}, to.addr);
    batch.flush();
    CHECK(batch.datagrams() == 0);
    CHECK(to.receive_all().empty());
}
