// WireGuard-shaped traffic for the simulator (sizes and clear indices of the WireGuard paper,
// §5.4; nothing is encrypted: the relay never looks inside).
//  - SimWireGuardServer: a VPN endpoint on the simulated network. It answers a handshake
//    initiation with a response whose receiver index is the initiation's sender index, and
//    echoes transport data that names its index back on that keypair (receiver index = the
//    initiator's sender index). Anything else is counted and ignored.
//  - SimWireGuardPeer: the local WireGuard of a client. It sends an initiation and transport
//    data through the function it is given (towards the PAVE client's local port), and checks
//    what comes back.
// Indices are drawn from the simulator's seeded randomness.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>

#include "crypto/bytes.h"
#include "relay/wire/endpoint.h"
#include "relay/wire/wireguard_shape.h"
#include "tests/sim/sim_network.h"
#include "tests/sim/sim_random.h"

namespace pave::sim {

// Message builders; the bytes after the clear fields are filler.
Bytes wg_initiation(uint32_t sender_index);
Bytes wg_response(uint32_t sender_index, uint32_t receiver_index);
// A transport message carrying `payload` bytes (rounded up to a multiple of 16, as WireGuard
// pads), whose first payload bytes are `tag` so an echo can be recognised.
Bytes wg_transport(uint32_t receiver_index, uint64_t counter, size_t payload, uint8_t tag = 0);

class SimWireGuardServer {
public:
    SimWireGuardServer(SimNetwork& net, const Endpoint& at, LinkParams link = {});
    ~SimWireGuardServer();
    const Endpoint& endpoint() const { return sock_.local(); }

    // Stops answering (a VPN that is down or filtered): datagrams are counted, not answered.
    void set_silent(bool s) { silent_ = s; }

    uint64_t initiations() const { return initiations_; }
    uint64_t responses() const { return responses_; }
    uint64_t transport_in() const { return transport_in_; }
    uint64_t transport_out() const { return transport_out_; }
    uint64_t ignored() const { return ignored_; }
    size_t keypairs() const { return keypairs_.size(); }
    // Where the last initiation came from (the relay's address, never the client's).
    const std::optional<Endpoint>& last_peer() const { return last_peer_; }
    // Where the last transport message on a known keypair came from (WireGuard's roaming endpoint).
    const std::optional<Endpoint>& last_data_peer() const { return last_data_peer_; }

private:
    void on_datagram(const Endpoint& from, ByteView data);

    SimNetwork& net_;
    SimSocket& sock_;
    bool silent_ = false;
    struct Keypair {
        uint32_t ours = 0, theirs = 0;
        Endpoint peer;
        uint64_t counter = 0;
    };
    std::map<uint32_t, Keypair> keypairs_;  // by our index
    std::optional<Endpoint> last_peer_, last_data_peer_;
    uint64_t initiations_ = 0, responses_ = 0, transport_in_ = 0, transport_out_ = 0, ignored_ = 0;
};

class SimWireGuardPeer {
public:
    using Send = std::function<void(ByteView data)>;
    SimWireGuardPeer(SimRandom& rng, Send send) : rng_(rng), send_(std::move(send)) {}

    // A new handshake initiation with a fresh sender index.
    void send_initiation();
    // Transport data on the current keypair (after a response), `payload` bytes; false if no
    // keypair yet.
    bool send_data(size_t payload = 64);
    // What comes back from the PAVE client's local port.
    void on_datagram(ByteView data);

    bool has_keypair() const { return theirs_.has_value(); }
    uint32_t sender_index() const { return ours_; }
    uint64_t responses() const { return responses_; }
    uint64_t data_sent() const { return data_sent_; }
    uint64_t echoes() const { return echoes_; }  // transport messages back on our keypair
    uint64_t unexpected() const { return unexpected_; }

private:
    SimRandom& rng_;
    Send send_;
    uint32_t ours_ = 0;
    std::optional<uint32_t> theirs_;
    uint64_t counter_ = 0;
    uint64_t responses_ = 0, data_sent_ = 0, echoes_ = 0, unexpected_ = 0;
};

}  // namespace pave::sim
