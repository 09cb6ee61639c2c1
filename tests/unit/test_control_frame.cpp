#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "crypto/aead.h"
#include "crypto/header_protection.h"
#include "crypto/hex.h"
#include "crypto/hkdf.h"
#include "crypto/session_keys.h"
#include "relay/wire/control_frame.h"
#include "relay/wire/demux.h"

using namespace pave;

namespace {

SessionKeys test_keys() {
    SessionKeys k;
    for (size_t i = 0; i < 32; ++i) {
        k.client_to_relay.b[i] = uint8_t(i + 1);
        k.relay_to_client.b[i] = uint8_t(0xa0 + i);
    }
    for (size_t i = 0; i < 8; ++i) k.conn_id[i] = uint8_t(0x10 * i + 7);
    return k;
}

ByteArray<16> pattern16(uint8_t seed) {
    ByteArray<16> a;
    for (size_t i = 0; i < 16; ++i) a[i] = uint8_t(seed + 3 * i);
    return a;
}

std::vector<Frame> sample_frames() {
    ByteArray<18> obs{};
    for (size_t i = 0; i < 18; ++i) obs[i] = uint8_t(0xf0 - i);
    return {
        ProbeFrame{pattern16(1), 7},
        ProbeAckFrame{pattern16(2), obs},
        PingFrame{0x0102030405060708ull, 0xfffffffffffffff0ull},
        PongFrame{42, 1'700'000'000'000'000ull},
        CloseFrame{3},
        RebindFrame{pattern16(9)},
        KeypairFrame{0xdeadbeef, 7},
    };
}

// The header-protection key of a direction, derived here independently of the codec.
SecretArray<32> hp_of(const SecretArray<32>& key) {
    const char label[] = "pave/v1/header-protection";
    const Bytes k = hkdf::expand(ByteView(key.data(), 32), ByteView(reinterpret_cast<const uint8_t*>(label), sizeof label - 1), 32);
    SecretArray<32> out;
    std::memcpy(out.data(), k.data(), 32);
    return out;
}

// A frame sealed by hand with arbitrary plaintext (used as given: pad it to a size class to
// reach decryption), to test what open() does with authentic but malformed contents.
Bytes seal_raw(const SecretArray<32>& key, const ByteArray<8>& conn, uint64_t counter, const Bytes& pt) {
    Bytes wire(kFrameHeader);
    wire[0] = kControlFrameByte;
    std::memcpy(wire.data() + 1, conn.data(), 8);
    for (int i = 0; i < 8; ++i) wire[9 + i] = uint8_t(counter >> (8 * (7 - i)));
    uint8_t nonce[kAeadNonce] = {};
    std::memcpy(nonce + 4, wire.data() + 9, 8);
    const Bytes ct = aead_seal(key.data(), nonce, ByteView(wire.data(), kFrameHeader), pt);
    wire.insert(wire.end(), ct.begin(), ct.end());
    uint8_t mask[8];
    header_protection_mask(hp_of(key), wire.data() + kFrameHeader, mask);
    for (int i = 0; i < 8; ++i) wire[9 + i] ^= mask[i];
    return wire;
}

// pt padded with zeros to the size class of its frame.
Bytes padded(Bytes pt) {
    pt.resize(frame_size_class(kFrameHeader + pt.size() + kAeadTag) - kFrameHeader - kAeadTag, 0);
    return pt;
}

using OE = FrameCodec::OpenError;

}  // namespace

TEST_CASE("control frame: plaintext round trip and exact sizes") {
    const size_t body_len[] = {17, 34, 16, 16, 1, 16, 8};
    const auto frames = sample_frames();
    for (size_t i = 0; i < frames.size(); ++i) {
        const Bytes pt = encode_frame_plaintext(frames[i]);
        CHECK(pt.size() == 1 + body_len[i]);
        CHECK(pt[0] == uint8_t(frame_type(frames[i])));
        auto back = decode_frame_plaintext(pt);
        REQUIRE(back);
        CHECK(*back == frames[i]);
        // One byte short or long is malformed.
        CHECK_FALSE(decode_frame_plaintext(ByteView(pt.data(), pt.size() - 1)));
        Bytes longer = pt;
        longer.push_back(0);
        CHECK_FALSE(decode_frame_plaintext(longer));
    }
    // Integers are big-endian.
    const Bytes ping = encode_frame_plaintext(PingFrame{0x0102030405060708ull, 0x1112131415161718ull});
    CHECK(ping == Bytes{3, 1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18});
    CHECK_FALSE(decode_frame_plaintext(Bytes{}));
}

TEST_CASE("control frame: unknown and reserved types are malformed") {
    for (int t : {0, 7, 9, 0x50, 0xff}) {
        for (size_t n = 0; n < 40; ++n) {
            Bytes pt(1 + n, 0);
            pt[0] = uint8_t(t);
            CHECK_FALSE(decode_frame_plaintext(pt));
        }
    }
}

TEST_CASE("control frame: seal/open round trip of each type, both directions") {
    const SessionKeys k = test_keys();
    FrameCodec client(client_frame_keys(k));
    FrameCodec relay(relay_frame_keys(k));
    for (const Frame& f : sample_frames()) {
        const Bytes c2r = client.seal(f);
        CHECK(c2r.size() == frame_size_class(kFrameOverhead + encode_frame_plaintext(f).size() - 1));
        CHECK(is_frame_size_class(c2r.size()));
        CHECK(classify(c2r) == PacketKind::control);
        Frame got;
        REQUIRE(relay.open(c2r, got) == OE::none);
        CHECK(got == f);
        // The sender cannot open its own frames (per-direction keys).
        Frame own;
        CHECK(client.open(c2r, own) == OE::auth_failed);

        const Bytes r2c = relay.seal(f);
        Frame got2;
        REQUIRE(client.open(r2c, got2) == OE::none);
        CHECK(got2 == f);
    }
    CHECK(client.next_send_counter() == sample_frames().size());
    CHECK(relay.next_send_counter() == sample_frames().size());
}

TEST_CASE("header protection: RFC 9001 Appendix A.5 (ChaCha20)") {
    auto key = from_hex("25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4");
    auto sample = from_hex("5e5cd55c41f69080575d7999c25a5bfb");
    REQUIRE(key);
    REQUIRE(sample);
    SecretArray<32> k;
    std::memcpy(k.data(), key->data(), 32);
    uint8_t mask[5];
    header_protection_mask(k, sample->data(), mask);
    CHECK(to_hex(ByteView(mask, 5)) == "aefefe7d03");
}

TEST_CASE("control frame: wire layout (header, protected counter, nonce, AAD, padding)") {
    const SessionKeys k = test_keys();
    FrameCodec client(client_frame_keys(k));
    (void)client.seal(CloseFrame{1});
    (void)client.seal(CloseFrame{1});
    const Bytes w = client.seal(PingFrame{5, 6});  // counter 2
    REQUIRE(w.size() == 64);  // 17 + 17 + 16 = 50, padded to its size class
    CHECK(w[0] == 0x50);
    CHECK(std::memcmp(w.data() + 1, k.conn_id.data(), 8) == 0);
    // The counter is masked (RFC 9001 §5.4 with ChaCha20): the sample is the first 16
    // ciphertext bytes, the key HKDF-Expand(AEAD key, "pave/v1/header-protection").
    CHECK(Bytes(w.begin() + 9, w.begin() + 17) != Bytes{0, 0, 0, 0, 0, 0, 0, 2});
    uint8_t mask[8];
    header_protection_mask(hp_of(k.client_to_relay), w.data() + kFrameHeader, mask);
    Bytes header(w.begin(), w.begin() + kFrameHeader);
    for (int i = 0; i < 8; ++i) header[9 + i] ^= mask[i];
    CHECK(Bytes(header.begin() + 9, header.end()) == Bytes{0, 0, 0, 0, 0, 0, 0, 2});
    // Independent check with the AEAD primitive: nonce = 0000 || counter, AAD = header with the
    // counter in the clear; the plaintext is the frame's, then zeros.
    const uint8_t nonce[kAeadNonce] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    auto pt = aead_open(k.client_to_relay.data(), nonce, header, ByteView(w.data() + kFrameHeader, w.size() - kFrameHeader));
    REQUIRE(pt);
    CHECK(*pt == padded(encode_frame_plaintext(PingFrame{5, 6})));
    // peek_conn_id agrees without keys.
    auto id = peek_conn_id(w);
    REQUIRE(id);
    CHECK(*id == k.conn_id);
    // Size classes.
    CHECK(frame_size_class(34) == 64);
    CHECK(frame_size_class(64) == 64);
    CHECK(frame_size_class(65) == 96);
    CHECK(frame_size_class(96) == 96);
    CHECK(frame_size_class(97) == 0);
    FrameCodec relay(relay_frame_keys(k));
    CHECK(relay.seal(ProbeAckFrame{pattern16(1), {}}).size() == 96);
    CHECK(relay.seal(ProbeFrame{pattern16(1), 1}).size() == 64);
}

TEST_CASE("control frame: any flipped bit fails authentication (or is caught earlier)") {
    const SessionKeys k = test_keys();
    FrameCodec client(client_frame_keys(k));
    const Bytes w = client.seal(ProbeAckFrame{pattern16(4), {}});
    for (size_t i = 0; i < w.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            FrameCodec relay(relay_frame_keys(k));
            Bytes bad = w;
            bad[i] ^= uint8_t(1u << bit);
            Frame out = CloseFrame{99};
            const OE e = relay.open(bad, out);
            if (i == 0) {
                CHECK(e == OE::malformed);
            } else if (i < 9) {
                CHECK(e == OE::wrong_conn);
            } else {
                CHECK(e == OE::auth_failed);  // counter, ciphertext, tag
            }
            CHECK(out == Frame{CloseFrame{99}});  // untouched on failure
            // A failed frame does not consume its counter: the genuine one still opens.
            CHECK(relay.open(w, out) == OE::none);
        }
    }
}

TEST_CASE("control frame: wrong conn id, wrong key") {
    SessionKeys k = test_keys();
    FrameCodec client(client_frame_keys(k));
    SessionKeys other = k;
    other.conn_id[7] ^= 1;
    FrameCodec relay_other(relay_frame_keys(other));
    Frame out;
    const Bytes w = client.seal(PingFrame{1, 2});
    CHECK(relay_other.open(w, out) == OE::wrong_conn);

    SessionKeys rekeyed = k;
    rekeyed.client_to_relay.b[0] ^= 1;
    FrameCodec relay_rekeyed(relay_frame_keys(rekeyed));
    CHECK(relay_rekeyed.open(w, out) == OE::auth_failed);
}

TEST_CASE("control frame: replays are rejected, reordering inside the window is not") {
    const SessionKeys k = test_keys();
    FrameCodec client(client_frame_keys(k));
    FrameCodec relay(relay_frame_keys(k));
    std::vector<Bytes> sent;
    for (int i = 0; i < 5; ++i) sent.push_back(client.seal(PingFrame{uint64_t(i), 0}));
    Frame out;
    CHECK(relay.open(sent[3], out) == OE::none);
    CHECK(relay.open(sent[3], out) == OE::replayed);
    CHECK(relay.open(sent[0], out) == OE::none);
    CHECK(std::get<PingFrame>(out).id == 0);
    CHECK(relay.open(sent[0], out) == OE::replayed);
    CHECK(relay.open(sent[4], out) == OE::none);
    CHECK(relay.open(sent[1], out) == OE::none);
    CHECK(relay.open(sent[2], out) == OE::none);
    for (const auto& s : sent) CHECK(relay.open(s, out) == OE::replayed);

    // Too old for the window.
    FrameCodec relay2(relay_frame_keys(k));
    FrameCodec client2(client_frame_keys(k));
    const Bytes first = client2.seal(CloseFrame{0});
    Bytes last;
    for (uint64_t i = 0; i < ReplayWindow::kWindow + 1; ++i) last = client2.seal(CloseFrame{0});
    CHECK(relay2.open(last, out) == OE::none);
    CHECK(relay2.open(first, out) == OE::replayed);
}

TEST_CASE("control frame: authentic frames with bad contents are malformed and spend the counter") {
    const SessionKeys k = test_keys();
    FrameCodec relay(relay_frame_keys(k));
    Frame out = CloseFrame{77};
    uint64_t ctr = 0;
    // Unknown type, reserved payment type, bytes past the body that are not zero padding.
    Bytes ping_tail = padded(encode_frame_plaintext(PingFrame{1, 2}));
    ping_tail.back() = 1;
    const std::vector<Bytes> bad_pts = {
        Bytes{0, 1, 2, 3},
        Bytes(17, 7),
        Bytes(19, uint8_t(FrameType::probe)),
        Bytes{uint8_t(FrameType::close), 1, 2},
        Bytes(10, uint8_t(FrameType::keypair)),
        ping_tail,
    };
    for (const Bytes& pt : bad_pts) {
        const Bytes w = seal_raw(k.client_to_relay, k.conn_id, ctr++, padded(pt));
        CHECK(relay.open(w, out) == OE::malformed);
        CHECK(relay.open(w, out) == OE::replayed);
    }
    CHECK(out == Frame{CloseFrame{77}});
    // The same construction with a valid body opens: the helper is faithful.
    const Bytes good = seal_raw(k.client_to_relay, k.conn_id, ctr++, padded(Bytes{uint8_t(FrameType::close), 4}));
    REQUIRE(relay.open(good, out) == OE::none);
    CHECK(out == Frame{CloseFrame{4}});
    // Unpadded (a size that is no class): refused before decryption, the counter not spent.
    const Bytes unpadded = seal_raw(k.client_to_relay, k.conn_id, ctr, Bytes{uint8_t(FrameType::close), 5});
    CHECK(relay.open(unpadded, out) == OE::malformed);
    REQUIRE(relay.open(seal_raw(k.client_to_relay, k.conn_id, ctr, padded(Bytes{uint8_t(FrameType::close), 5})), out) ==
            OE::none);
}

TEST_CASE("control frame: truncation at every length, oversize, wrong first byte") {
    const SessionKeys k = test_keys();
    FrameCodec client(client_frame_keys(k));
    FrameCodec relay(relay_frame_keys(k));
    const Bytes w = client.seal(ProbeAckFrame{pattern16(1), {}});
    Frame out;
    for (size_t n = 0; n < w.size(); ++n) {
        const OE e = relay.open(ByteView(w.data(), n), out);
        CHECK(e == (is_frame_size_class(n) ? OE::auth_failed : OE::malformed));
        CHECK(bool(peek_conn_id(ByteView(w.data(), n))) == (n >= kFrameOverhead));
    }
    // Oversize: an authentic frame above the maximum is refused before decryption.
    Bytes big_pt(kMaxFrameSize - kFrameHeader - kAeadTag + 1, 0);
    big_pt[0] = uint8_t(FrameType::close);
    const Bytes big = seal_raw(k.client_to_relay, k.conn_id, 1000, big_pt);
    CHECK(big.size() == kMaxFrameSize + 1);
    CHECK(relay.open(big, out) == OE::malformed);
    CHECK_FALSE(peek_conn_id(big));
    // The largest allowed size passes the size check and reaches decoding.
    Bytes max_pt(kMaxFrameSize - kFrameHeader - kAeadTag, 0);
    max_pt[0] = uint8_t(FrameType::close);
    const Bytes max = seal_raw(k.client_to_relay, k.conn_id, 1001, max_pt);
    CHECK(max.size() == kMaxFrameSize);
    CHECK(peek_conn_id(max));
    CHECK(relay.open(max, out) == OE::malformed);  // authentic, but no size class: not decrypted
    CHECK(relay.open(max, out) == OE::malformed);

    for (uint8_t first : {uint8_t(0x00), uint8_t(0x01), uint8_t(0x51), uint8_t(0xde)}) {
        Bytes bad = w;
        bad[0] = first;
        CHECK(relay.open(bad, out) == OE::malformed);
        CHECK_FALSE(peek_conn_id(bad));
    }
    REQUIRE(relay.open(w, out) == OE::none);
}

TEST_CASE("control frame: observed address encoding") {
    auto v4 = Endpoint::parse("203.0.113.7:51820");
    REQUIRE(v4);
    const ByteArray<18> e4 = encode_observed(*v4);
    const ByteArray<18> want4 = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7, 0xca, 0x6c};
    CHECK(e4 == want4);
    auto d4 = decode_observed(e4);
    REQUIRE(d4);
    CHECK(*d4 == *v4);
    CHECK(d4->family() == AF_INET);

    auto v6 = Endpoint::parse("[2001:db8::1]:443");
    REQUIRE(v6);
    const ByteArray<18> e6 = encode_observed(*v6);
    CHECK(e6[0] == 0x20);
    CHECK(e6[1] == 0x01);
    CHECK(e6[15] == 1);
    CHECK(e6[16] == 0x01);
    CHECK(e6[17] == 0xbb);
    auto d6 = decode_observed(e6);
    REQUIRE(d6);
    CHECK(*d6 == *v6);
    CHECK(d6->family() == AF_INET6);

    ByteArray<18> zero_port = e4;
    zero_port[16] = zero_port[17] = 0;
    CHECK_FALSE(decode_observed(zero_port));
    ByteArray<18> unspecified{};
    unspecified[17] = 1;
    CHECK_FALSE(decode_observed(unspecified));
    CHECK_FALSE(decode_observed(encode_observed(Endpoint{})));
}

TEST_CASE("control frame: frame type names") {
    CHECK(std::string(frame_type_name(FrameType::probe_ack)) == "probe_ack");
    CHECK(frame_type(Frame{RebindFrame{}}) == FrameType::rebind);
    CHECK(std::string(to_string(OE::replayed)) == "replayed");
}
