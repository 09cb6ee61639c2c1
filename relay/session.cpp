#include "relay/session.h"

#include <algorithm>
#include <cstdio>

namespace pave {

namespace {

uint64_t mono_us(Session::Clock::time_point t) {
    return uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

template <class... Ts>
struct overloaded : Ts... {
    using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

}  // namespace

const char* to_string(SessionState s) {
    switch (s) {
        case SessionState::punching: return "punching";
        case SessionState::established: return "established";
        case SessionState::closed: return "closed";
        case SessionState::failed: return "failed";
    }
    return "?";
}

const char* to_string(SessionDrop d) {
    switch (d) {
        case SessionDrop::malformed: return "malformed";
        case SessionDrop::wrong_conn: return "wrong_conn";
        case SessionDrop::auth_failed: return "auth_failed";
        case SessionDrop::replayed: return "replayed";
        case SessionDrop::budget: return "budget";
        case SessionDrop::bad_ack: return "bad_ack";
        case SessionDrop::probe_limited: return "probe_limited";
        case SessionDrop::count_: break;
    }
    return "?";
}

Session::Session(SessionRole role, const SessionKeys& keys, const std::vector<Endpoint>& peer_candidates,
                 Clock::time_point now, const SessionTimers& timers, Send send)
    : timers_(timers),
      role_(role),
      send_(std::move(send)),
      codec_(role == SessionRole::client ? client_frame_keys(keys) : relay_frame_keys(keys)),
      conn_id_(keys.conn_id),
      candidates_(peer_candidates),
      paths_(16, timers.punch_credit),
      schedule_(now, timers.punch_timeout),
      started_(now),
      last_heard_(now),
      next_deadline_(now) {
    for (const auto& c : candidates_) paths_.add_candidate(c);
}

uint64_t Session::total_drops() const {
    uint64_t n = 0;
    for (auto d : drops_) n += d;
    return n;
}

void Session::send_frame(const Frame& f, const Endpoint& to, Clock::time_point now) {
    Bytes wire = codec_.seal(f);
    if (wire.empty()) return;  // counter exhausted: the session must end
    switch (paths_.allowance(to, wire.size())) {
        case PathValidator::Allowance::refused: ++drops_[size_t(SessionDrop::budget)]; return;
        case PathValidator::Allowance::credit:
            if (probe_limiter_ && !probe_limiter_->take(to, paths_.credit_needed(to, wire.size()), now)) {
                ++drops_[size_t(SessionDrop::probe_limited)];
                return;
            }
            break;
        case PathValidator::Allowance::validated:
        case PathValidator::Allowance::earned: break;
    }
    send_(to, wire);
    paths_.on_sent(to, wire.size());
    ++frames_out_;
}

void Session::challenge(const Endpoint& to, Clock::time_point now, uint8_t attempt) {
    ProbeFrame p;
    p.challenge = paths_.challenge(to, now);
    p.attempt = attempt;
    send_frame(p, to, now);
}

// A probe or re-bind: echo its challenge (with the address it came from) and, if that address
// is not validated yet, challenge it in turn.
void Session::answer_challenge(const ByteArray<16>& c, const Endpoint& from, bool from_validated,
                               Clock::time_point now) {
    ProbeAckFrame ack;
    ack.challenge = c;
    ack.observed = encode_observed(from);
    send_frame(ack, from, now);
    if (!from_validated) challenge(from, now, 0);
}

void Session::punch_round(Clock::time_point now) {
    uint8_t attempt = uint8_t(std::min<unsigned>(schedule_.rounds(), 255));
    for (const auto& c : candidates_) challenge(c, now, attempt);
    schedule_.fired(now);
}

void Session::fail(std::string why) {
    state_ = SessionState::failed;
    failure_ = std::move(why);
}

void Session::on_control(ByteView wire, const Endpoint& from, Clock::time_point now) {
    if (state_ == SessionState::closed || state_ == SessionState::failed) return;
    Frame f;
    switch (codec_.open(wire, f)) {
        case FrameCodec::OpenError::none: break;
        case FrameCodec::OpenError::malformed: ++drops_[size_t(SessionDrop::malformed)]; return;
        case FrameCodec::OpenError::wrong_conn: ++drops_[size_t(SessionDrop::wrong_conn)]; return;
        case FrameCodec::OpenError::auth_failed: ++drops_[size_t(SessionDrop::auth_failed)]; return;
        case FrameCodec::OpenError::replayed: ++drops_[size_t(SessionDrop::replayed)]; return;
    }
    ++frames_in_;
    last_heard_ = now;
    paths_.on_received(from, wire.size());
    bool from_validated = paths_.validated(from);

    std::visit(overloaded{
                   [&](const ProbeFrame& p) { answer_challenge(p.challenge, from, from_validated, now); },
                   [&](const RebindFrame& r) { answer_challenge(r.challenge, from, from_validated, now); },
                   [&](const ProbeAckFrame& a) {
                       if (!paths_.on_ack(from, a.challenge, now)) {
                           ++drops_[size_t(SessionDrop::bad_ack)];
                           return;
                       }
                       if (auto obs = decode_observed(a.observed)) reflexive_ = obs;
                       if (state_ == SessionState::punching) {
                           state_ = SessionState::established;
                           peer_ = from;
                       } else if (!peer_ || !(*peer_ == from)) {
                           peer_ = from;  // re-bound after a NAT mapping change, validated
                           ++rebinds_;
                       }
                       // measure the RTT at once
                       last_ping_ = now;
                       send_frame(PingFrame{++ping_id_, mono_us(now)}, from, now);
                   },
                   [&](const PingFrame& p) {
                       send_frame(PongFrame{p.id, p.sent_us}, from, now);
                       if (!from_validated) challenge(from, now, 0);
                   },
                   [&](const PongFrame& p) {
                       if (p.id == ping_id_ && p.echoed_sent_us <= mono_us(now)) {
                           rtt_ = std::chrono::microseconds(mono_us(now) - p.echoed_sent_us);
                           srtt_ = srtt_ ? (*srtt_ * 7 + *rtt_) / 8 : *rtt_;
                       }
                   },
                   [&](const KeypairFrame& k) {
                       if (role_ == SessionRole::relay && state_ == SessionState::established && peer_ &&
                           *peer_ == from)
                           keypair_ = k;
                   },
                   [&](const CloseFrame& c) {
                       state_ = SessionState::closed;
                       peer_close_reason_ = c.reason;
                       failure_ = "peer closed the session";
                       if (c.reason) failure_ += " (reason " + std::to_string(c.reason) + ")";
                   },
               },
               f);
    schedule(now);
}

void Session::on_timer(Clock::time_point now) {
    if (state_ == SessionState::punching) {
        if (schedule_.expired(now)) {
            char buf[160];
            std::snprintf(buf, sizeof buf, "no path validated: %zu candidate(s) probed in %u round(s) over %.1f s",
                          candidates_.size(), schedule_.rounds(),
                          std::chrono::duration<double>(now - started_).count());
            fail(buf);
        } else if (schedule_.due(now)) {
            punch_round(now);
        }
    } else if (state_ == SessionState::established) {
        if (now - last_heard_ > timers_.dead_after) {
            state_ = SessionState::closed;
            char buf[96];
            std::snprintf(buf, sizeof buf, "peer silent for %.0f s",
                          std::chrono::duration<double>(now - last_heard_).count());
            failure_ = buf;
        } else if (now - last_ping_ >= timers_.keepalive && peer_) {
            last_ping_ = now;
            send_frame(PingFrame{++ping_id_, mono_us(now)}, *peer_, now);
        }
    }
    schedule(now);
}

void Session::schedule(Clock::time_point now) {
    next_deadline_ = Clock::time_point::max();
    if (state_ == SessionState::punching) {
        auto n = schedule_.next(now);
        next_deadline_ = n ? *n : now;  // exhausted: the next timer call fails the session
    } else if (state_ == SessionState::established) {
        next_deadline_ = std::min(last_ping_ + timers_.keepalive, last_heard_ + timers_.dead_after);
    }
}

bool Session::probe(Clock::time_point now) {
    if (state_ != SessionState::established || !peer_) return false;
    last_ping_ = now;
    send_frame(PingFrame{++ping_id_, mono_us(now)}, *peer_, now);
    schedule(now);
    return true;
}

bool Session::send_keypair(const KeypairFrame& k, Clock::time_point now) {
    if (state_ != SessionState::established || !peer_) return false;
    send_frame(k, *peer_, now);
    return true;
}

void Session::close(uint8_t reason, Clock::time_point now) {
    if (state_ == SessionState::established && peer_) send_frame(CloseFrame{reason}, *peer_, now);
    if (state_ == SessionState::punching || state_ == SessionState::established) {
        state_ = SessionState::closed;
        if (failure_.empty()) failure_ = "closed locally";
    }
    schedule(now);
}

}  // namespace pave
