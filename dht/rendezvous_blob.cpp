#include "dht/rendezvous_blob.h"

#include <cstring>
#include <string_view>

#include "crypto/byte_reader.h"
#include "crypto/byte_writer.h"
#include "crypto/hkdf.h"
#include "crypto/hpke.h"
#include "relay/wire/endpoint_policy.h"

namespace pave {

namespace {

constexpr uint8_t kKindOffer = 1;
constexpr uint8_t kKindAnswer = 2;
constexpr uint8_t kFamily4 = 4;
constexpr uint8_t kFamily6 = 6;
constexpr std::string_view kOfferInfoLabel = "pave/v1/rendezvous";
constexpr std::string_view kAnswerInfoLabel = "pave/v1/rendezvous-answer";
constexpr std::string_view kExportLabel = "pave/v1/answer-key-material";
constexpr std::string_view kHelloIdLabel = "pave/v1/hello-id";

ByteView text(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

bool put_endpoint(ByteWriter& w, const Endpoint& e) {
    if (!rendezvous_endpoint_ok(e)) return false;
    const Bytes ip = e.ip_bytes();
    if (ip.size() != 4 && ip.size() != 16) return false;
    return w.u8(ip.size() == 4 ? kFamily4 : kFamily6) && w.put(ip) && w.u16be(e.port());
}

std::optional<Endpoint> get_endpoint(ByteReader& r) {
    uint8_t family = 0;
    if (!r.u8(family)) return std::nullopt;
    size_t n = family == kFamily4 ? 4 : family == kFamily6 ? 16 : 0;
    if (n == 0) return std::nullopt;
    uint8_t ip[16];
    uint16_t port = 0;
    if (!r.bytes(ip, n) || !r.u16be(port)) return std::nullopt;
    // IPv4-mapped IPv6 addresses are always written as IPv4: one encoding per endpoint.
    if (Endpoint::is_v4_mapped(ByteView(ip, n))) return std::nullopt;
    auto e = Endpoint::from_ip_bytes(ByteView(ip, n), port);
    if (!e || !rendezvous_endpoint_ok(*e)) return std::nullopt;
    return e;
}

bool get_candidates(ByteReader& r, std::vector<Endpoint>& out) {
    uint8_t count = 0;
    if (!r.u8(count) || count > kRendezvousMaxCandidates) return false;
    out.reserve(count);
    for (uint8_t i = 0; i < count; ++i) {
        auto e = get_endpoint(r);
        if (!e) return false;
        out.push_back(*e);
    }
    return true;
}

bool reason_ok(const std::string& r) {
    if (r.size() > kRendezvousMaxReason) return false;
    for (char c : r)
        if (c < 0x20 || c > 0x7e) return false;
    return true;
}

bool timestamp_ok(uint64_t ts) {
    return ts >= kRendezvousMinTimestampMs && ts <= kRendezvousMaxTimestampMs && ts % 1000 == 0;
}

// The relations between an answer's fields (see the header).
bool answer_fields_ok(const Answer& a) {
    if (a.accepted) return a.refuse_code == 0 && a.refuse_reason.empty() && !a.candidates.empty();
    return a.refuse_code >= kRefuseFirst && a.refuse_code <= kRefuseLast && a.candidates.empty() &&
           a.relay_share == ByteArray<32>{};
}

bool header_ok(ByteReader& r, uint8_t kind) { return r.expect_u8(kRendezvousVersion) && r.expect_u8(kind); }

Bytes offer_info(const Ed25519Public& relay_node_pub, uint64_t period) {
    Bytes info(kOfferInfoLabel.begin(), kOfferInfoLabel.end());
    info.push_back(kRendezvousVersion);
    info.insert(info.end(), relay_node_pub.begin(), relay_node_pub.end());
    ByteWriter(info).u64be(period);
    return info;
}

Bytes answer_info(ByteView answer_key_material) {
    Bytes info(kAnswerInfoLabel.begin(), kAnswerInfoLabel.end());
    info.push_back(kRendezvousVersion);
    info.insert(info.end(), answer_key_material.begin(), answer_key_material.end());
    return info;
}

// enc || HPKE ciphertext of the plaintext; empty if the recipient key is a low-order point.
Bytes seal_value(const RendezvousPlaintext& pt, const ByteArray<32>& pkR, ByteView info, Bytes* exported) {
    auto sender = hpke_setup_base_sender(pkR, info);
    if (!sender) return {};
    Bytes ct = sender->ctx.seal({}, pt);
    if (ct.size() != kRendezvousPlaintextSize + kRendezvousTagSize) return {};
    Bytes value;
    value.reserve(kRendezvousValueSize);
    value.insert(value.end(), sender->enc.begin(), sender->enc.end());
    value.insert(value.end(), ct.begin(), ct.end());
    if (exported) *exported = sender->ctx.export_secret(text(kExportLabel), kAnswerKeyMaterialSize);
    return value;
}

// The opened plaintext (wiped on destruction) and, on request, the exporter output.
struct OpenedValue {
    RendezvousPlaintext pt{};
    ~OpenedValue() { secure_zero(pt.data(), pt.size()); }
};

bool open_value(ByteView value, const X25519Key& skR, ByteView info, OpenedValue& out, Bytes* exported) {
    if (value.size() != kRendezvousValueSize) return false;
    ByteArray<32> enc;
    std::memcpy(enc.data(), value.data(), kRendezvousEncSize);
    auto ctx = hpke_setup_base_receiver(enc, skR, info);
    if (!ctx) return false;
    auto pt = ctx->open({}, value.subspan(kRendezvousEncSize));
    if (!pt) return false;
    bool ok = pt->size() == kRendezvousPlaintextSize;
    if (ok) std::memcpy(out.pt.data(), pt->data(), kRendezvousPlaintextSize);
    secure_zero(pt->data(), pt->size());
    if (ok && exported) *exported = ctx->export_secret(text(kExportLabel), kAnswerKeyMaterialSize);
    return ok;
}

}  // namespace

bool rendezvous_timestamp_fresh(uint64_t timestamp_ms, uint64_t now_ms) {
    uint64_t skew = now_ms > timestamp_ms ? now_ms - timestamp_ms : timestamp_ms - now_ms;
    return skew <= kRendezvousClockSkewMs;
}

bool rendezvous_endpoint_ok(const Endpoint& e) {
    if (!e.valid() || e.port() == 0) return false;
    if (e.family() != AF_INET && e.family() != AF_INET6) return false;
    EndpointVerdict v = classify_address(e);
    return v != EndpointVerdict::unspecified && v != EndpointVerdict::multicast && v != EndpointVerdict::broadcast;
}

std::optional<RendezvousPlaintext> encode_offer_plaintext(const Offer& offer) {
    if (offer.candidates.size() > kRendezvousMaxCandidates || !timestamp_ok(offer.timestamp_ms)) return std::nullopt;
    RendezvousPlaintext pt{};
    ByteWriter w(pt);
    bool ok = w.u8(kRendezvousVersion) && w.u8(kKindOffer) && w.put(offer.session_id) &&
              w.put(offer.client_share) && w.u64be(offer.timestamp_ms) && put_endpoint(w, offer.vpn) &&
              w.u8(uint8_t(offer.candidates.size()));
    for (const auto& c : offer.candidates) ok = ok && put_endpoint(w, c);
    if (!ok) return std::nullopt;
    return pt;
}

std::optional<Offer> decode_offer_plaintext(ByteView pt) {
    if (pt.size() != kRendezvousPlaintextSize) return std::nullopt;
    ByteReader r(pt);
    Offer o;
    if (!header_ok(r, kKindOffer) || !r.array(o.session_id) || !r.array(o.client_share) ||
        !r.u64be(o.timestamp_ms) || !timestamp_ok(o.timestamp_ms))
        return std::nullopt;
    auto vpn = get_endpoint(r);
    if (!vpn) return std::nullopt;
    o.vpn = *vpn;
    if (!get_candidates(r, o.candidates) || !r.zeros_to_end()) return std::nullopt;
    return o;
}

std::optional<RendezvousPlaintext> encode_answer_plaintext(const Answer& a) {
    if (a.candidates.size() > kRendezvousMaxCandidates || !reason_ok(a.refuse_reason)) return std::nullopt;
    if (!answer_fields_ok(a) || !timestamp_ok(a.timestamp_ms)) return std::nullopt;
    RendezvousPlaintext pt{};
    ByteWriter w(pt);
    bool ok = w.u8(kRendezvousVersion) && w.u8(kKindAnswer) && w.put(a.session_id) && w.u8(a.accepted ? 1 : 0) &&
              w.u8(a.refuse_code) && w.put(a.relay_share) && w.u64be(a.timestamp_ms) &&
              w.u8(uint8_t(a.refuse_reason.size())) && w.put(text(a.refuse_reason)) &&
              w.u8(uint8_t(a.candidates.size()));
    for (const auto& c : a.candidates) ok = ok && put_endpoint(w, c);
    if (!ok) return std::nullopt;
    return pt;
}

std::optional<Answer> decode_answer_plaintext(ByteView pt) {
    if (pt.size() != kRendezvousPlaintextSize) return std::nullopt;
    ByteReader r(pt);
    Answer a;
    uint8_t accepted = 0, reason_len = 0;
    if (!header_ok(r, kKindAnswer) || !r.array(a.session_id) || !r.u8(accepted) || accepted > 1 ||
        !r.u8(a.refuse_code) || !r.array(a.relay_share) || !r.u64be(a.timestamp_ms) || !r.u8(reason_len) ||
        reason_len > kRendezvousMaxReason)
        return std::nullopt;
    a.accepted = accepted == 1;
    char reason[kRendezvousMaxReason];
    if (!r.bytes(reinterpret_cast<uint8_t*>(reason), reason_len)) return std::nullopt;
    a.refuse_reason.assign(reason, reason_len);
    if (!reason_ok(a.refuse_reason)) return std::nullopt;
    if (!get_candidates(r, a.candidates) || !r.zeros_to_end()) return std::nullopt;
    if (!answer_fields_ok(a) || !timestamp_ok(a.timestamp_ms)) return std::nullopt;
    return a;
}

std::optional<SealedOffer> seal_offer(const Offer& offer, const ByteArray<32>& relay_inbox_pub,
                                      const Ed25519Public& relay_node_pub, uint64_t period) {
    auto pt = encode_offer_plaintext(offer);
    if (!pt) return std::nullopt;
    SealedOffer out;
    out.value = seal_value(*pt, relay_inbox_pub, offer_info(relay_node_pub, period), &out.answer_key_material);
    secure_zero(pt->data(), pt->size());
    if (out.value.size() != kRendezvousValueSize || out.answer_key_material.size() != kAnswerKeyMaterialSize)
        return std::nullopt;
    return out;
}

std::optional<OpenedOffer> open_offer(ByteView value, const X25519Key& inbox_key, const Ed25519Public& relay_node_pub,
                                      uint64_t period) {
    if (value.size() != kRendezvousValueSize) return std::nullopt;
    OpenedValue opened;
    OpenedOffer out;
    if (!open_value(value, inbox_key, offer_info(relay_node_pub, period), opened, &out.answer_key_material))
        return std::nullopt;
    auto offer = decode_offer_plaintext(opened.pt);
    if (!offer || out.answer_key_material.size() != kAnswerKeyMaterialSize) return std::nullopt;
    out.offer = std::move(*offer);
    return out;
}

Bytes seal_answer(const Answer& answer, const ByteArray<32>& client_share, ByteView answer_key_material) {
    if (answer_key_material.size() != kAnswerKeyMaterialSize) return {};
    auto pt = encode_answer_plaintext(answer);
    if (!pt) return {};
    Bytes value = seal_value(*pt, client_share, answer_info(answer_key_material), nullptr);
    secure_zero(pt->data(), pt->size());
    if (value.size() != kRendezvousValueSize) return {};
    return value;
}

std::optional<Answer> open_answer(ByteView value, const X25519Key& client_eph, ByteView answer_key_material) {
    if (value.size() != kRendezvousValueSize || answer_key_material.size() != kAnswerKeyMaterialSize)
        return std::nullopt;
    OpenedValue opened;
    if (!open_value(value, client_eph, answer_info(answer_key_material), opened, nullptr)) return std::nullopt;
    return decode_answer_plaintext(opened.pt);
}

ByteArray<8> rendezvous_hello_id(ByteView answer_key_material) {
    ByteArray<8> key{};
    // With key material shorter than a hash output HKDF-Expand is undefined; such input
    // never comes from seal_offer/open_offer, and yields an all-zero key here.
    hkdf::expand_into(answer_key_material, text(kHelloIdLabel), key);
    return key;
}

}  // namespace pave
