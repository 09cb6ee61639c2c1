#include "tests/sim/sim_wireguard.h"

namespace pave::sim {

namespace {

void put_le32(Bytes& b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

void put_le64(Bytes& b, size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

}  // namespace

Bytes wg_initiation(uint32_t sender_index) {
    Bytes b(kWgInitiationSize, 0xa5);
    b[0] = 1;
    b[1] = b[2] = b[3] = 0;
    put_le32(b, 4, sender_index);
    return b;
}

Bytes wg_response(uint32_t sender_index, uint32_t receiver_index) {
    Bytes b(kWgResponseSize, 0x5a);
    b[0] = 2;
    b[1] = b[2] = b[3] = 0;
    put_le32(b, 4, sender_index);
    put_le32(b, 8, receiver_index);
    return b;
}

Bytes wg_transport(uint32_t receiver_index, uint64_t counter, size_t payload, uint8_t tag) {
    size_t padded = (payload + 15) / 16 * 16;
    Bytes b(kWgTransportHeaderSize + padded + kWgTagSize, 0x3c);
    b[0] = 4;
    b[1] = b[2] = b[3] = 0;
    put_le32(b, 4, receiver_index);
    put_le64(b, 8, counter);
    if (padded > 0) b[kWgTransportHeaderSize] = tag;
    return b;
}

SimWireGuardServer::SimWireGuardServer(SimNetwork& net, const Endpoint& at, LinkParams link)
    : net_(net), sock_(net.bind(at, [this](const Endpoint& from, ByteView d) { on_datagram(from, d); }, link)) {}

SimWireGuardServer::~SimWireGuardServer() { net_.close(sock_); }

void SimWireGuardServer::on_datagram(const Endpoint& from, ByteView data) {
    auto m = parse_wireguard(data);
    if (!m) {
        ++ignored_;
        return;
    }
    switch (m->type) {
    case WgType::initiation: {
        ++initiations_;
        last_peer_ = from;
        if (silent_) return;
        Keypair k;
        k.theirs = m->sender_index;
        do k.ours = uint32_t(net_.rng().next()); while (k.ours == 0 || keypairs_.count(k.ours));
        k.peer = from;
        keypairs_[k.ours] = k;
        ++responses_;
        sock_.send(from, wg_response(k.ours, k.theirs));
        return;
    }
    case WgType::transport: {
        auto it = keypairs_.find(m->receiver_index);
        if (it == keypairs_.end()) {
            ++ignored_;
            return;
        }
        ++transport_in_;
        last_data_peer_ = from;
        if (silent_) return;
        Keypair& k = it->second;
        uint8_t tag = data.size() > kWgTransportMinSize ? data[kWgTransportHeaderSize] : 0;
        ++transport_out_;
        // Back to where the data came from (WireGuard roams to the latest source).
        k.peer = from;
        sock_.send(from, wg_transport(k.theirs, k.counter++, data.size() - kWgTransportMinSize, tag));
        return;
    }
    default: ++ignored_; return;
    }
}

void SimWireGuardPeer::send_initiation() {
    ours_ = uint32_t(rng_.next()) | 1;
    theirs_.reset();
    counter_ = 0;
    send_(wg_initiation(ours_));
}

bool SimWireGuardPeer::send_data(size_t payload) {
    if (!theirs_) return false;
    ++data_sent_;
    send_(wg_transport(*theirs_, counter_++, payload, 0x77));
    return true;
}

void SimWireGuardPeer::on_datagram(ByteView data) {
    auto m = parse_wireguard(data);
    if (m && m->type == WgType::response && m->receiver_index == ours_ && ours_ != 0) {
        ++responses_;
        theirs_ = m->sender_index;
    } else if (m && m->type == WgType::transport && m->receiver_index == ours_ && theirs_ && data.size() > kWgTransportMinSize &&
               data[kWgTransportHeaderSize] == 0x77) {
        ++echoes_;
    } else {
        ++unexpected_;
    }
}

}  // namespace pave::sim
