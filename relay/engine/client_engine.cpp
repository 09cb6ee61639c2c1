#include "relay/engine/client_engine.h"

#include <algorithm>
#include <cstdio>

#include "crypto/ed25519_key.h"
#include "crypto/random.h"
#include "crypto/session_keys.h"
#include "dht/bucket_keys.h"
#include "dht/inbox_keys.h"
#include "dht/presence_record.h"
#include "dht/rendezvous_blob.h"
#include "relay/wire/control_frame.h"
#include "relay/wire/demux.h"
#include "relay/wire/endpoint_policy.h"

namespace pave {

namespace {

// The network hellos to `to` count against (kHelloDestinationBurst): its IPv4 /24 or IPv6 /48,
// whatever the address's class (a LAN or a lab is one network too).
Bytes hello_network(const Endpoint& to) {
    Bytes ip = to.canonical_ip();
    ip.resize(ip.size() == 4 ? 3 : std::min<size_t>(ip.size(), 6));
    return ip;
}

using std::chrono::milliseconds;

std::string short_id(const Ed25519Public& pub) { return node_id(pub).substr(0, 16); }

// "1.2": a duration in seconds, for progress lines.
std::string seconds(std::chrono::steady_clock::duration d) {
    char out[32];
    std::snprintf(out, sizeof out, "%.1f", double(std::chrono::duration_cast<milliseconds>(d).count()) / 1000.0);
    return out;
}

// Before the client is connected its steps poll their own state this often (directory growth,
// reflector answers, the pace of offers); the node's adapter always did.
constexpr milliseconds kStepPoll{100};
// A new cycle of offers (every relay known asked) reads the directory again, at most this often,
// and waits at most kCycleReadWait for that read before asking the relays it knows again.
constexpr std::chrono::seconds kRereadOnNewCycle{2};
constexpr milliseconds kCycleReadWait{1000};
// How long an attempt waits for the reads of its guards' buckets before asking other relays.
constexpr std::chrono::seconds kGuardReadWait{3};
// How often expired relay records leave the directory.
constexpr uint64_t kExpireEverySecs = 1;

}  // namespace

const char* ClientEngine::to_string(Step s) {
    switch (s) {
        case Step::finding_relays: return "finding relays";
        case Step::learning_address: return "learning public address";
        case Step::rendezvous: return "rendezvous";
        case Step::punching: return "punching";
        case Step::connected: return "connected";
        case Step::failed: return "failed";
    }
    return "?";
}

ClientEngine::ClientEngine(ClientEngineHost& host, ClientEngineConfig cfg)
    : host_(host), cfg_(std::move(cfg)), directory_(cfg_.own_relay),
      reflector_(cfg_.family, [this](const Endpoint& to, ByteView d) { host_.send_probe(to, d); }),
      reads_(cfg_.reads), guards_([this] {
          GuardSet::Params g;
          g.size = cfg_.guards;
          g.min_age_s = cfg_.min_relay_age_s;
          return g;
      }()) {
    if (!cfg_.guard_state.empty()) {
        if (auto st = decode_guard_state(cfg_.guard_state, &guard_state_error_)) {
            if (st->replica_seed) reads_ = DirectoryReads(cfg_.reads, st->replica_seed);
            guards_.restore(std::move(st->guards));
            directory_.import_first_seen(st->first_seen);
            guards_saved_seen_ = directory_.first_seen().size();
        }
    }
}

ClientEngine::~ClientEngine() = default;

void ClientEngine::progress(const std::string& msg) {
    EngineEvent e;
    e.level = EngineEvent::Level::info;
    e.topic = "connect";
    e.message = msg;
    host_.event(e);
}

void ClientEngine::start(const EngineTime& now) {
    if (started_) return;
    started_ = true;
    if (!guard_state_error_.empty()) {
        EngineEvent e{EngineEvent::Level::warn, "guards", "guard state not used (" + guard_state_error_ + "); choosing new guards"};
        host_.event(e);
    }
    if (cfg_.listen_directory) {
        for (unsigned b = 0; b < kRelayBuckets; ++b) bucket_listens_[host_.dht_listen(relay_directory_key(b, 0))] = b;
    }
    load_directory_cache(now);
    begin_attempt(now);
}

void ClientEngine::close(const EngineTime& now) {
    if (closed_) return;
    closed_ = true;
    // Tell the relay at once (CLOSE frame), so it stops forwarding for our address.
    if (session_) session_->close(0, now.mono);
    close_standbys(now);
    cancel_asks();
    held_initiation_.reset();
    for (const auto& [token, b] : bucket_listens_) host_.dht_cancel_listen(relay_directory_key(b, 0), token);
    bucket_listens_.clear();
    read_tokens_.clear();  // gets end by themselves; what they still bring is ignored
    save_guards(now, true);
    save_directory_cache(now, true);
}

void ClientEngine::fail(const EngineTime& now, const std::string& step, const std::string& why) {
    step_ = Step::failed;
    std::string line = "failed at step '" + step + "': " + why;
    progress(line);
    if (session_) session_->close(0, now.mono);
    session_.reset();
    cancel_asks();
    if (!ever_connected_) {
        held_initiation_.reset();
        host_.gave_up(line);
        return;
    }
    // The tunnel was up before: keep WireGuard's endpoint and look for another relay.
    if (step == "session") {
        lost_cause_ = why;
        gap_from_ = last_wg_in_.value_or(now.mono);
    }
    begin_attempt(now);
}

void ClientEngine::begin_attempt(const EngineTime& now) {
    ++attempts_;
    cancel_asks();
    choice_.reset();
    cycle_read_at_.reset();
    asks_in_attempt_ = 0;
    attempt_start_ = step_start_ = now.mono;
    step_ = Step::finding_relays;
    relay_.reset();
    close_standbys(now);
    standby_search_ = false;
    watch_.reset();
    address_suspect_ = false;
    keypair_sent_.reset();
    // Our public address may be what changed: learn it anew (a reflector answers in a round trip).
    if (ever_connected_) reflector_.reset();
    want_directory_for_attempt(now, attempts_ == 1);
    progress("finding relays");
}

void ClientEngine::want_directory_for_attempt(const EngineTime& now, bool first) {
    if (cfg_.listen_directory) return;
    // The guards' buckets only, when there are guards (their records name the inbox keys of the
    // current period); every bucket otherwise. A first attempt reads at once; a later one at most
    // once per min_reread.
    auto spacing = first ? std::optional<std::chrono::seconds>(std::chrono::seconds(0)) : std::nullopt;
    if (cfg_.guards > 0 && !guards_.guards().empty()) reads_.want(guards_.buckets(), now.mono, spacing);
    else reads_.want_all(now.mono, spacing);
}

void ClientEngine::guard_failed(const Ed25519Public& pub, const EngineTime& now) {
    if (!guards_.is_guard(pub)) return;
    guards_dirty_ = true;
    if (guards_.on_failed(pub, now.unix_s()))
        host_.event({EngineEvent::Level::info, "guards", "guard " + short_id(pub) + " replaced: it failed repeatedly"});
}

void ClientEngine::guard_served(const Ed25519Public& pub, const Session& s, const EngineTime& now) {
    if (!guards_.is_guard(pub) || !s.peer()) return;
    guards_dirty_ = true;
    if (guards_.on_served(pub, *s.peer(), now.unix_s()))
        host_.event({EngineEvent::Level::info, "guards",
                     "guard " + short_id(pub) + " replaced: another guard is on the same network"});
}

void ClientEngine::save_guards(const EngineTime& now, bool force) {
    if (cfg_.guards == 0) return;
    bool seen_grew = directory_.first_seen().size() != guards_saved_seen_;
    if (!guards_dirty_ && !seen_grew) return;
    if (!force && guards_saved_at_ && now.mono < *guards_saved_at_ + std::chrono::seconds(10)) return;
    GuardState st;
    st.guards = guards_.guards();
    st.first_seen = directory_.first_seen();
    st.replica_seed = reads_.seed();
    host_.save_guard_state(encode_guard_state(st));
    guards_dirty_ = false;
    guards_saved_seen_ = st.first_seen.size();
    guards_saved_at_ = now.mono;
}

void ClientEngine::directory_tick(const EngineTime& now) {
    if (cfg_.listen_directory) return;
    // While no relay is known, every bucket again every few seconds (the first gets may have
    // run before the DHT was bootstrapped).
    if (step_ == Step::finding_relays && directory_.live(now.unix_s()).empty())
        reads_.want_all(now.mono, std::chrono::seconds(1));
    issue_reads(now);
}

void ClientEngine::issue_reads(const EngineTime& now) {
    // The replica each bucket is read at depends on the network the client is on (no
    // pseudonym across networks; dht/directory_reads.h).
    if (reflector_.mapped()) {
        Bytes ip = reflector_.mapped()->canonical_ip();
        ip.resize(ip.size() == 4 ? 3 : std::min<size_t>(ip.size(), 6));
        reads_.set_network(ip);
    }
    for (const auto& r : reads_.take_due(now.mono)) {
        ++counters_.directory_reads;
        read_tokens_[host_.dht_get(r.key)] = r;
    }
}

void ClientEngine::probe_reflectors(Clock::time_point t) {
    std::vector<Endpoint> reflectors = cfg_.stun_servers;
    for (const auto& n : host_.known_nodes(8)) reflectors.push_back(n);
    if (!reflectors.empty()) reflector_.probe(reflectors, t);
}

void ClientEngine::drop_ask(uint64_t ask_id) {
    auto it = asks_.find(ask_id);
    if (it == asks_.end()) return;
    ask_hellos_.erase(it->second.hello_id);
    asks_.erase(it);  // the ephemeral private key is wiped with it
}

void ClientEngine::cancel_asks() {
    while (!asks_.empty()) {
        if (choice_) choice_->on_cancel(asks_.begin()->second.relay.node_pub);
        drop_ask(asks_.begin()->first);
    }
}

ClientEngine::Clock::time_point ClientEngine::on_tick(const EngineTime& now) {
    if (!started_ || closed_) return now.mono + std::chrono::hours(1);
    if (!last_expire_s_ || now.unix_s() >= *last_expire_s_ + kExpireEverySecs) {
        last_expire_s_ = now.unix_s();
        directory_.expire(now.unix_s());
    }
    if (session_ && session_->next_deadline() <= now.mono) session_->on_timer(now.mono);
    for (auto& sb : standbys_)
        if (sb.session->next_deadline() <= now.mono) sb.session->on_timer(now.mono);
    directory_tick(now);
    step_tick(now);
    save_guards(now, false);
    if (step_ == Step::connected) save_directory_cache(now, false);
    if (closed_) return now.mono + std::chrono::hours(1);
    if (step_ == Step::punching || step_ == Step::connected) standby_tick(now);
    handshake_tick(now);
    Clock::time_point next = now.mono + std::chrono::seconds(kExpireEverySecs);
    if (step_ != Step::connected && step_ != Step::failed) next = std::min(next, now.mono + kStepPoll);
    if (step_ == Step::connected && handshake_.first_initiation && !handshake_.answered && !vpn_warned_)
        next = std::min(next, std::max(*handshake_.first_initiation + kHandshakeAnswerWait, now.mono));
    if (session_) next = std::min(next, std::max(session_->next_deadline(), now.mono));
    for (const auto& sb : standbys_) next = std::min(next, std::max(sb.session->next_deadline(), now.mono));
    if (standby_search_) next = std::min(next, now.mono + kStepPoll);
    // The hellos go at their schedule's times, not at the next poll.
    for (const auto& [id, ask] : asks_)
        if (ask.hellos < kHelloSchedule.size())
            next = std::min(next, std::max(ask.put_at + milliseconds(kHelloSchedule[ask.hellos]), now.mono));
    if (step_ == Step::connected && session_)
        next = std::min(next, std::max(watch_.deadline(session_->srtt()), now.mono));
    if (!cfg_.listen_directory) next = std::min(next, std::max(reads_.next_deadline(), now.mono));
    return next;
}

void ClientEngine::step_tick(const EngineTime& now) {
    const auto t = now.mono;
    bool timed_out = t - attempt_start_ > cfg_.timeout;
    switch (step_) {
        case Step::finding_relays: {
            probe_reflectors(t);  // STUN beside the directory lookup, not after it
            size_t n = directory_.live(now.unix_s()).size();
            if (n > 0) {
                progress("found " + std::to_string(n) + " relay(s) in the directory");
                step_ = Step::learning_address;
                step_start_ = t;
                step_tick(now);  // the STUN requests go now, not at the next poll
            } else if (timed_out) {
                fail(now, "finding relays",
                     !host_.dht_connected()
                         ? "not connected to the DHT (bootstrap unreachable?)"
                         : "no relay in the directory after " + std::to_string(cfg_.timeout.count()) + " s");
            }
            break;
        }
        case Step::learning_address: {
            probe_reflectors(t);
            // The first answer is enough (the requests went out while the directory was read).
            // Reflectors are DHT peers, the provider's among them: a forged answer makes the
            // offer name a wrong reflexive candidate, which costs the relay a probe within its
            // budgets, not the connection (the relay binds the address the client's
            // authenticated frames come from, and answers hellos at their source). Waiting for
            // a second answer would only name the NAT's kind in the log.
            bool enough = reflector_.answers() >= 1;
            bool give_up = t - step_start_ > std::chrono::seconds(3);
            if (enough || give_up) {
                if (reflector_.mapped())
                    progress("public address learned from " + std::to_string(reflector_.answers()) +
                             " reflector(s); NAT mapping " + nat_mapping_name(reflector_.mapping()));
                else
                    progress("no reflector answered; offering host addresses only");
                step_ = Step::rendezvous;
                step_start_ = last_summary_ = t;
                choice_.emplace(t, cfg_.choice);
                rendezvous_tick(now);
            }
            break;
        }
        case Step::rendezvous:
            if (timed_out) {
                std::string asked = std::to_string(choice_ ? choice_->distinct_asked() : 0);
                fail(now, "rendezvous",
                     "no relay accepted within " + std::to_string(cfg_.timeout.count()) + " s (" + asked +
                         " relay(s) asked, " + std::to_string(choice_ ? choice_->silent() : 0) + " offer(s) unanswered)");
            } else {
                rendezvous_tick(now);
            }
            break;
        case Step::punching:
            // Connected once the path is validated and its RTT measured (one PING/PONG).
            if (session_ && session_->state() == SessionState::established &&
                (session_->rtt() || t - step_start_ > std::chrono::seconds(2))) {
                step_ = Step::connected;
                const bool switched = ever_connected_;
                ever_connected_ = true;
                char rtt[32] = "?";
                if (session_->rtt()) std::snprintf(rtt, sizeof rtt, "%.2f", double(session_->rtt()->count()) / 1000.0);
                char took[32];
                std::snprintf(took, sizeof took, "%.1f",
                              double(std::chrono::duration_cast<milliseconds>(t - attempt_start_).count()) / 1000.0);
                progress("path validated; connected via relay " + short_id(relay_->node_pub) + " (RTT " + rtt + " ms); " +
                         took + " s after the attempt began");
                backoff_.succeeded(relay_->node_pub);
                guard_served(relay_->node_pub, *session_, now);
                watch_.reset();
                on_connected(now, switched);
                if (!switched) save_directory_cache(now, true);
            } else if (session_ && session_->state() == SessionState::failed) {
                backoff_.failed(relay_->node_pub, t);
                fail(now, "punching", session_->failure());
            } else if (session_ && session_->state() == SessionState::closed) {
                // The relay accepted the offer but closed the session when the path validated:
                // a full relay (or one carrying enough sessions from our address) says so in
                // the CLOSE frame, and another may have room; any other close ends the attempt.
                const uint8_t code = session_->peer_close_reason();
                backoff_.failed(relay_->node_pub, t);
                if (code == kRefuseCapacity || code == kRefuseAddressLimit) {
                    ++counters_.refused_at_validation;
                    progress("relay " + short_id(relay_->node_pub) + " refused at validation: " +
                             (code == kRefuseCapacity ? "relay at capacity" : "enough sessions from this address") +
                             "; asking others");
                    session_.reset();
                    relay_.reset();
                    step_ = Step::rendezvous;
                    step_start_ = t;
                    rendezvous_tick(now);
                } else {
                    fail(now, "punching", session_->failure());
                }
            }
            break;
        case Step::connected:
            if (session_ && session_->state() == SessionState::established) {
                // While WireGuard's data flows: a relay that stopped answering is dead.
                auto p = watch_.poll(t, session_->last_heard(), session_->srtt());
                if (!watch_.watching()) {
                    standbys_probed_.reset();
                    address_suspect_ = false;
                }
                if (p.probe && session_->probe(t)) {
                    ++counters_.watch_probes;
                    // Are the standbys reachable? Their answers tell a dead relay from a dead
                    // network of ours by the time of the verdict.
                    for (auto& sb : standbys_)
                        if (sb.session->probe(t) && !standbys_probed_) standbys_probed_ = t;
                }
                if (p.dead) {
                    size_t probed = 0, answered = 0;
                    for (const auto& sb : standbys_) {
                        if (!standbys_probed_ || sb.session->state() != SessionState::established) continue;
                        ++probed;
                        answered += sb.session->last_heard() >= *standbys_probed_ ? 1 : 0;
                    }
                    // Without standbys, a watch begun by a local address change blames our address.
                    const bool all_silent = (probed > 0 && answered == 0) || (probed == 0 && address_suspect_);
                    address_suspect_ = false;
                    char why[96];
                    std::snprintf(why, sizeof why, "relay silent for %.0f ms while WireGuard's data went unanswered",
                                  double(std::chrono::duration_cast<std::chrono::microseconds>(
                                             watch_.unanswered_for(t).value_or(Clock::duration::zero()))
                                             .count()) / 1000.0);
                    session_->close(0, t);  // if it is only slow, it frees the slot
                    if (all_silent) {
                        // The standbys are silent as well: our own address likely changed
                        // (a NAT rebinding, a new network). No relay is to blame; a new attempt
                        // learns the address.
                        if (relay_) backoff_.succeeded(relay_->node_pub);
                        standbys_probed_.reset();
                        fail(now, "session", std::string(why) + "; the standby relays too: our address may have changed");
                    } else if (last_failover_ && t - last_failover_->at < kOwnChangeWindow) {
                        // The relay we just moved to is silent too: our own address likely
                        // changed. Neither relay is to blame; a new attempt learns the address.
                        if (relay_) backoff_.succeeded(relay_->node_pub);
                        if (failed_over_from_) backoff_.succeeded(*failed_over_from_);
                        fail(now, "session", std::string(why) + "; so was the relay before it: our address may have changed");
                    } else if (!fail_over(now, why, standbys_probed_)) {
                        if (relay_) backoff_.failed(relay_->node_pub, t);
                        fail(now, "session", why);
                    }
                    break;
                }
            }
            if (session_ && session_->state() != SessionState::established) {
                const std::string why = session_->failure().empty() ? "relay closed the session" : session_->failure();
                if (fail_over(now, why)) break;
                if (handshake_.first_initiation && !handshake_.answered && !vpn_warned_ &&
                    session_->state() == SessionState::closed)
                    warn_no_answer(": the relay closed the session " + seconds(t - *handshake_.first_initiation) +
                                   " s after forwarding it, as a relay does when the VPN endpoint's port is closed "
                                   "or it answers with something that is not WireGuard: wrong VPN endpoint or port?");
                if (relay_) backoff_.failed(relay_->node_pub, t);
                fail(now, "session", why);
            }
            break;
        case Step::failed: break;
    }
}

void ClientEngine::rendezvous_tick(const EngineTime& now) {
    if (!choice_) return;
    const auto t = now.mono;
    // Offers unanswered for too long: their listens end, and their relays count as silent.
    for (const auto& pub : choice_->take_silent(t)) {
        for (auto it = asks_.begin(); it != asks_.end(); ++it) {
            if (it->second.relay.node_pub != pub) continue;
            if (choice_->silent() <= kVerboseAsks)
                progress("no answer from relay " + short_id(pub) + " in " +
                         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(cfg_.choice.answer_wait).count()) +
                         " s; asking others");
            drop_ask(it->first);
            break;
        }
        backoff_.failed(pub, t);
        guard_failed(pub, now);
        // Its record may be stale (a relay that restarted has new inbox keys): read its
        // bucket again.
        for (const auto& r : directory_.live(now.unix_s()))
            if (r.node_pub == pub) reads_.want({r.bucket}, t, std::chrono::seconds(5));
        issue_reads(now);
    }
    auto live = choosable(now);
    issue_reads(now);  // choosable may have asked for the guards' records
    // Every relay known has been asked in this cycle: before asking them again, read the
    // directory for relays not known yet (and wait for that read, briefly).
    bool hold = false;
    if (!cfg_.listen_directory && step_ == Step::rendezvous && (choice_->cycle_over(live) || live.empty())) {
        if (!cycle_read_at_ || t >= *cycle_read_at_ + kRereadOnNewCycle) {
            cycle_read_at_ = t;
            reads_.want_all(t, std::chrono::seconds(0));
            issue_reads(now);
            live = choosable(now);
        }
        hold = !read_tokens_.empty() && t < *cycle_read_at_ + kCycleReadWait;
    }
    // Guards are known but none is in the directory yet: wait for the reads in flight (briefly)
    // rather than ask a relay that is not a guard.
    if (step_ == Step::rendezvous && !guards_.guards().empty() && !read_tokens_.empty() &&
        t < attempt_start_ + kGuardReadWait &&
        std::none_of(live.begin(), live.end(), [&](const RelayInfo& r) { return guards_.is_guard(r.node_pub); }))
        hold = true;
    send_hellos(now);
    // New offers as the pace allows (a few per tick at most: the tick runs every ~100 ms).
    for (int i = 0; i < 4 && wants_offers() && !hold; ++i) {
        auto relay = choice_->next(live, t);
        if (!relay) break;
        if (!send_offer(now, *relay)) choice_->on_cancel(relay->node_pub);
    }
    if (step_ == Step::rendezvous && t - last_summary_ >= std::chrono::seconds(2) && choice_->asked() > kVerboseAsks) {
        live = directory_.live(now.unix_s());
        last_summary_ = t;
        progress("still looking: " + std::to_string(choice_->distinct_asked()) + " of " + std::to_string(live.size()) +
                 " relay(s) asked, " + std::to_string(choice_->waiting()) + " waiting, " +
                 std::to_string(choice_->silent()) + " silent (" + pave::to_string(choice_->pace(t)) + " pace)");
    }
}

bool ClientEngine::send_offer(const EngineTime& now, const RelayInfo& relay) {
    // The directory keeps only records whose fields are in range; this is a second line.
    if (relay.period_secs < kMinPeriodSecs || relay.period_secs > kMaxPeriodSecs) {
        ++counters_.offers_unsealable;
        return false;
    }
    Ask ask;
    ask.relay = relay;
    ask.hello_to = hello_endpoints(relay);
    if (ask.hello_to.empty()) return false;  // choosable() leaves such relays out
    Offer offer;
    random_bytes(offer.session_id);
    ask.session_id = offer.session_id;
    ask.eph = X25519Key::generate();
    offer.client_share = ask.eph->pub;
    offer.candidates = host_.candidates(reflector_.mapped(), kRendezvousMaxCandidates);
    if (offer.candidates.size() > kRendezvousMaxCandidates) offer.candidates.resize(kRendezvousMaxCandidates);
    offer.vpn = cfg_.vpn;
    offer.timestamp_ms = rendezvous_timestamp_now(now.unix_ms);
    // Sealed to the key of the period the record names: the relay holds it while the record
    // lives (a record lives at most one period past its own; the directory checked the period
    // against our clock).
    auto sealed = seal_offer(offer, relay.inbox_pub, relay.node_pub, relay.period);
    if (!sealed) {
        ++counters_.offers_unsealable;
        return false;
    }
    ask.answer_material = sealed->answer_key_material;
    ask.hello_id = rendezvous_hello_id(ask.answer_material);
    ask.put_at = now.mono;
    const uint64_t id = next_ask_id_++;
    ByteArray<1> shard;
    random_bytes(shard);
    host_.dht_put(inbox_shard_key(shard[0] % kInboxShards, relay.period_secs, relay.period), std::move(sealed->value));
    ask_hellos_[ask.hello_id] = id;
    asks_.emplace(id, std::move(ask));
    send_hellos(now);
    if (++asks_in_attempt_ <= kVerboseAsks)
        progress("picked relay " + short_id(relay.node_pub) + (relay.answered ? " (it answered before)" : " at random") +
                 "; rendezvous sent (" + std::to_string(offer.candidates.size()) + " address candidate(s))");
    return true;
}

void ClientEngine::on_dht_done(const EngineTime&, const DhtKey& key, DhtListenToken token, bool) {
    auto r = read_tokens_.find(token);
    if (r != read_tokens_.end() && r->second.key == key) read_tokens_.erase(r);
}

void ClientEngine::on_dht_values(const EngineTime& now, const DhtKey& key, DhtListenToken token,
                                 const std::vector<Bytes>& values, bool expired) {
    if (!started_ || closed_ || expired) return;  // expiry is judged by the signed time inside each record
    if (auto b = bucket_listens_.find(token); b != bucket_listens_.end()) {
        if (relay_directory_key(b->second, 0) != key) return;
        for (const auto& v : values) {
            ++counters_.directory_values;
            ingest(now, v, b->second);
        }
        return;
    }
    if (auto r = read_tokens_.find(token); r != read_tokens_.end()) {
        if (r->second.key != key) return;
        for (const auto& v : values) {
            ++counters_.directory_values;
            ingest(now, v, r->second.bucket);
        }
        return;
    }
}

void ClientEngine::ingest(const EngineTime& now, ByteView value, unsigned bucket) {
    const auto v = directory_.ingest(value, bucket, now.unix_s());
    if (v != Directory::Verdict::accepted && v != Directory::Verdict::accepted_evicting) return;
    // Verified by ingest; only the key is read here.
    auto p = decode_presence(value);
    if (!p.record) return;
    constexpr size_t kMaxRaw = 8 * kMaxCachedRecords;
    if (raw_records_.size() >= kMaxRaw && !raw_records_.count(p.record->node_pub)) {
        // Room: forget a relay the directory no longer holds, else one at random.
        auto victim = raw_records_.end();
        for (auto it = raw_records_.begin(); it != raw_records_.end() && victim == raw_records_.end(); ++it)
            if (!directory_.find(it->first, now.unix_s())) victim = it;
        if (victim == raw_records_.end()) victim = std::next(raw_records_.begin(), ptrdiff_t(random_below(raw_records_.size())));
        raw_records_.erase(victim);
    }
    raw_records_[p.record->node_pub] = CachedRecord{bucket, Bytes(value.begin(), value.end())};
}

void ClientEngine::load_directory_cache(const EngineTime& now) {
    if (cfg_.directory_cache.empty() || cfg_.listen_directory) return;
    std::string why;
    auto records = decode_directory_cache(cfg_.directory_cache, &why);
    if (!records) {
        host_.event({EngineEvent::Level::warn, "directory",
                     "directory cache not used (" + why + "); reading the directory from the DHT only"});
        return;
    }
    const size_t before = directory_.live(now.unix_s()).size();
    for (const auto& r : *records) ingest(now, r.value, r.bucket);
    const size_t after = directory_.live(now.unix_s()).size();
    counters_.directory_cached = after - before;
    if (after > before)
        progress(std::to_string(after - before) + " relay(s) from the directory cache (still current); the DHT reads refresh it");
}

void ClientEngine::save_directory_cache(const EngineTime& now, bool force) {
    if (cfg_.listen_directory || !ever_connected_) return;
    if (!force && directory_cache_saved_at_ && now.mono < *directory_cache_saved_at_ + std::chrono::seconds(60)) return;
    // Live relays only; those that answered us first, then guards, then the others.
    std::vector<CachedRecord> out;
    const auto live = directory_.live(now.unix_s());
    for (int pass = 0; pass < 3; ++pass)
        for (const auto& r : live) {
            const bool answered = r.answered, guard = guards_.is_guard(r.node_pub);
            if ((pass == 0 && !answered) || (pass == 1 && (answered || !guard)) || (pass == 2 && (answered || guard)))
                continue;
            if (auto it = raw_records_.find(r.node_pub); it != raw_records_.end()) out.push_back(it->second);
        }
    std::string text = encode_directory_cache(out);
    directory_cache_saved_at_ = now.mono;
    if (text == directory_cache_saved_) return;
    host_.save_directory_cache(text);
    directory_cache_saved_ = std::move(text);
}

void ClientEngine::send_hellos(const EngineTime& now) {
    for (auto& [id, ask] : asks_)
        while (ask.hellos < kHelloSchedule.size() &&
               now.mono >= ask.put_at + milliseconds(kHelloSchedule[ask.hellos])) {
            ++ask.hellos;
            const Bytes hello = make_rendezvous_hello(ask.hello_id);
            // Like punch probes, hellos bypass the port's amplification guard: they are requests,
            // bounded by the schedule (kHelloSchedule.size() per endpoint and offer), and the
            // guard would hold them behind an address check that the relay's NAT drops until
            // the relay has punched toward us.
            for (const auto& to : ask.hello_to) {
                if (!hello_destinations_.allow(hello_network(to), now.mono)) {
                    ++counters_.hellos_limited;
                    continue;
                }
                host_.send(to, hello);
                ++counters_.hellos_sent;
            }
        }
}

void ClientEngine::hello_on_contact(const EngineTime& now, const Endpoint& from, ByteView data) {
    // Something came from a relay we wait for (its punch probe, or the opener of a refusal):
    // its NAT is open toward us now, so a hello goes at once instead of at the schedule's next
    // time (up to 0.8 s later). Not for the answer itself; at most one per kHelloOnContact per
    // offer, and counted against the network's hello budget like every hello.
    if (auto f = parse_rendezvous_frame(data); f && f->kind == RendezvousFrame::Kind::answer) return;
    for (auto& [id, ask] : asks_) {
        if (std::find(ask.hello_to.begin(), ask.hello_to.end(), from) == ask.hello_to.end()) continue;
        if (ask.contact_hello && now.mono - *ask.contact_hello < kHelloOnContact) continue;
        ask.contact_hello = now.mono;
        if (!hello_destinations_.allow(hello_network(from), now.mono)) {
            ++counters_.hellos_limited;
            continue;
        }
        host_.send(from, make_rendezvous_hello(ask.hello_id));
        ++counters_.hellos_sent;
        ++counters_.hellos_on_contact;
    }
}

void ClientEngine::on_answer(const EngineTime& now, uint64_t ask_id, ByteView value) {
    auto it = asks_.find(ask_id);
    if (it == asks_.end()) {
        ++counters_.answers_late;
        return;
    }
    Ask& ask = it->second;
    if ((step_ != Step::rendezvous && !standby_search_) || !ask.eph || !choice_) return;
    auto a = open_answer(value, *ask.eph, ask.answer_material);
    if (!a || a->session_id != ask.session_id) return;  // not the answer to this offer
    const RelayInfo relay = ask.relay;
    const std::string who = "relay " + short_id(relay.node_pub);
    if (!rendezvous_timestamp_fresh(a->timestamp_ms, now.unix_ms)) {
        ++counters_.answers_stale;
        return;  // a replayed or badly clocked answer: keep waiting
    }
    // The relay is alive: remember it (tried first next time, never evicted from the directory).
    choice_->on_answer(relay.node_pub);
    directory_.note_answered(relay.node_pub);
    if (!a->accepted) {
        ++counters_.answers_refused;
        drop_ask(ask_id);
        backoff_.failed(relay.node_pub, now.mono);
        // Not a guard failure: the relay is alive, and others can make it refuse (dht/guard_set.h).
        // A full relay says so, as does one that carries enough sessions from our address;
        // another may have room. Any other refusal (e.g. the VPN endpoint is not allowed) would
        // be the same everywhere.
        if (a->refuse_code == kRefuseCapacity || a->refuse_code == kRefuseAddressLimit) {
            progress(who + " refused: " + a->refuse_reason + "; asking others");
            return;
        }
        fail(now, "rendezvous", "relay refused: " + a->refuse_reason + " (" + who + ")");
        return;
    }
    // The relay's candidates under the endpoint policy too: a relay must not aim us at our own
    // network (private ones only with --lan-candidates).
    std::vector<Endpoint> relay_cands;
    for (const auto& c : a->candidates)
        if (check_candidate(c, {}, {}, cfg_.lan_candidates) == EndpointVerdict::ok) relay_cands.push_back(c);
    if (relay_cands.empty()) {
        ++counters_.answers_no_usable_candidate;
        drop_ask(ask_id);
        progress(who + " named no usable address; asking others");
        return;
    }
    auto ee = x25519_shared(ask.eph->priv, a->relay_share);
    if (!ee) {
        drop_ask(ask_id);
        progress(who + " sent an invalid key share; asking others");
        return;
    }
    auto keys = derive_session_keys(ask.answer_material, *ee);
    drop_ask(ask_id);  // the ephemeral private key is not needed any more
    if (!keys) {
        fail(now, "rendezvous", "session key derivation failed");
        return;
    }
    if (step_ == Step::rendezvous)
        adopt_active(now, relay, *keys, relay_cands);
    else
        adopt_standby(now, relay, *keys, relay_cands);
}

void ClientEngine::adopt_active(const EngineTime& now, const RelayInfo& relay, const SessionKeys& keys,
                                const std::vector<Endpoint>& relay_cands) {
    const std::string who = "relay " + short_id(relay.node_pub);
    // This relay wins. Without standbys the other offers are withdrawn (their listens
    // cancelled; a relay that accepts one of them later frees its slot when nobody punches);
    // with standbys they go on, and their answers become standbys.
    if (cfg_.standby == 0 || standbys_.size() >= cfg_.standby) {
        cancel_asks();
    } else {
        standby_search_ = true;
        next_standby_search_ = now.mono;
    }
    relay_ = relay;
    active_addrs_ = relay_cands;
    SessionTimers timers = cfg_.timers;
    auto left = cfg_.timeout - std::chrono::duration_cast<milliseconds>(now.mono - attempt_start_);
    timers.punch_timeout = std::max<milliseconds>(left, milliseconds(1000));
    session_ = std::make_unique<Session>(SessionRole::client, keys, relay_cands, now.mono, timers,
                                         [this](const Endpoint& to, ByteView d) { host_.send(to, d); });
    step_ = Step::punching;
    step_start_ = now.mono;
    progress("answer received; punching to " + std::to_string(relay_cands.size()) + " relay candidate(s) of " + who +
             " (" + std::to_string(choice_->distinct_asked()) + " relay(s) asked)");
}

bool ClientEngine::on_datagram(const EngineTime& now, const Endpoint& from, ByteView data) {
    if (!started_ || closed_) return false;
    const PacketKind kind = classify(data);
    if (!asks_.empty() && kind != PacketKind::stun && kind != PacketKind::wireguard) hello_on_contact(now, from, data);
    switch (kind) {
        case PacketKind::stun: return reflector_.on_stun(data, from);
        case PacketKind::rendezvous: {
            auto f = parse_rendezvous_frame(data);
            if (!f || f->kind != RendezvousFrame::Kind::answer) return false;
            auto a = ask_hellos_.find(f->id);
            if (a == ask_hellos_.end()) {
                ++counters_.answers_late;  // cancelled, silent, or another relay won
                return true;
            }
            on_answer(now, a->second, f->sealed);
            return true;
        }
        case PacketKind::control: {
            auto id = peek_conn_id(data);
            if (!id) return false;
            if (session_ && *id == session_->conn_id()) {
                session_->on_control(data, from, now.mono);
                return true;
            }
            for (auto& sb : standbys_)
                if (*id == sb.session->conn_id()) {
                    sb.session->on_control(data, from, now.mono);
                    return true;
                }
            return false;
        }
        case PacketKind::wireguard: {
            if (previous_peer_ && *previous_peer_ == from && local_peer_ &&
                !(session_ && session_->peer() && *session_->peer() == from)) {
                if (now.mono >= previous_until_) {
                    previous_peer_.reset();
                    return false;
                }
                ++counters_.wg_from_relay;
            counters_.wg_bytes_from_relay += data.size();
                host_.send_local(*local_peer_, data);  // in flight through the relay we left
                return true;
            }
            if (!session_ || !session_->peer() || !(*session_->peer() == from) || !local_peer_) return false;
            session_->on_data_from_peer(now.mono);
            ++counters_.wg_from_relay;
            counters_.wg_bytes_from_relay += data.size();
            host_.send_local(*local_peer_, data);
            // The VPN answered one of WireGuard's initiations (the relay's gate lets a response
            // through only when it answers an initiation that crossed it).
            auto m = parse_wireguard(data);
            if (m && m->type == WgType::transport) client_index_ = m->receiver_index;
            if (m && m->type == WgType::response) {
                client_index_ = m->receiver_index;
                vpn_index_ = m->sender_index;
            }
            keypair_sent_.reset();  // the VPN answers through this relay
            if (gap_from_ && last_failover_) {
                last_failover_->gap = now.mono - *gap_from_;
                gap_from_.reset();
                progress("WireGuard's data flows through relay " + last_failover_->to + " (gap " +
                         std::to_string(std::chrono::duration_cast<milliseconds>(*last_failover_->gap).count()) +
                         " ms)");
            }
            last_wg_in_ = now.mono;
            if (m && m->type == WgType::response && step_ == Step::connected && !handshake_.answered) {
                handshake_.answered = true;
                vpn_warned_ = false;  // a later path without an answer is worth a warning again
                progress("VPN answered the handshake");
            }
            return true;
        }
        default: return false;
    }
}

void ClientEngine::on_local_datagram(const EngineTime& now, const Endpoint& from, ByteView data) {
    if (!started_ || closed_) return;
    const auto m = classify(data) == PacketKind::wireguard ? parse_wireguard(data) : std::nullopt;
    if (!local_peer_) {
        // Lock onto the first WireGuard source we hear; nothing else may use the tunnel.
        if (!m) return;
        local_peer_ = from;
        progress("WireGuard attached from " + from.to_string());
    } else if (!(*local_peer_ == from)) {
        // A WireGuard that restarted (wg-quick down; up) comes back on a new port and begins with
        // a handshake initiation: follow it. One moved with `wg set ... listen-port` keeps its
        // keypair: follow its data to the live keypair once the old source has gone quiet. The
        // listener is meant for a WireGuard on this host, so only a loopback source may take the
        // lock over; anything else stays dropped.
        const bool restarted = m && m->type == WgType::initiation;
        const bool moved = m && m->type == WgType::transport && vpn_index_ && m->receiver_index == *vpn_index_ &&
                           now.mono - local_last_heard_ >= kLocalMoveQuiet;
        if (!(restarted || moved) || classify_address(from) != EndpointVerdict::loopback) {
            ++counters_.local_other_source;
            return;
        }
        local_peer_ = from;
        ++counters_.local_relocks;
        if (restarted) {
            handshake_ = {};  // a new WireGuard: watch its handshake afresh
            vpn_warned_ = false;
        }
        progress("WireGuard source changed to " + from.to_string() + "; following it");
    }
    local_last_heard_ = now.mono;
    if (!m) return;
    if (step_ != Step::connected || !session_ || !session_->peer()) {
        if (m->type == WgType::initiation) {
            hold_initiation(now, data);
            return;
        }
        ++counters_.local_dropped_not_connected;
        return;
    }
    forward_local(now, *m, data);
}

void ClientEngine::on_local_addresses_changed(const EngineTime& now) {
    if (!started_ || closed_ || step_ != Step::connected || !session_ ||
        session_->state() != SessionState::established)
        return;  // an attempt under way learns the public address itself
    const auto t = now.mono;
    ++counters_.address_changes;
    progress("a local address changed; probing the relays' paths");
    watch_.suspect(t);
    address_suspect_ = true;
    standbys_probed_.reset();
    if (session_->probe(t)) ++counters_.watch_probes;
    for (auto& sb : standbys_)
        if (sb.session->probe(t) && !standbys_probed_) standbys_probed_ = t;
}

void ClientEngine::forward_local(const EngineTime& now, const WgMessage& m, ByteView data) {
    if (m.type == WgType::initiation && !handshake_.first_initiation) handshake_.first_initiation = now.mono;
    if (m.type == WgType::transport) {
        vpn_index_ = m.receiver_index;
        // Migrating a keypair: the KEYPAIR frame again now and then until the VPN answers.
        if (keypair_sent_ && now.mono - *keypair_sent_ >= kKeypairResend) send_keypair(now);
        watch_.on_sent(now.mono, session_->last_heard());
    }
    ++counters_.wg_to_relay;
    counters_.wg_bytes_to_relay += data.size();
    host_.send_wireguard(*session_->peer(), data);
}

void ClientEngine::hold_initiation(const EngineTime& now, ByteView data) {
    // One message, the newest: WireGuard answers only its latest initiation.
    if (held_initiation_) ++counters_.local_dropped_not_connected;
    held_initiation_ = HeldInitiation{Bytes(data.begin(), data.end()), now.mono};
    ++counters_.initiations_held;
}

void ClientEngine::on_connected(const EngineTime& now, bool switched) {
    handshake_ = {};
    bool sent = false;
    if (held_initiation_) {
        HeldInitiation held = std::move(*held_initiation_);
        held_initiation_.reset();
        const auto age = now.mono - held.at;
        auto m = parse_wireguard(held.data);
        if (age <= kHeldInitiationMaxAge && m && local_peer_) {
            ++counters_.held_initiations_sent;
            forward_local(now, *m, held.data);
            sent = true;
            progress("sent WireGuard's handshake initiation held while no path was up (" + seconds(age) + " s old)");
        } else {
            ++counters_.local_dropped_not_connected;  // too old: WireGuard has sent or will send a new one
        }
    }
    if (switched && !sent && client_index_ && vpn_index_ && *client_index_ != *vpn_index_ && relay_) {
        // A new attempt after the tunnel was up: name WireGuard's live keypair to the new relay,
        // as a failover does, so the data goes on without waiting for a new handshake.
        Failover f;
        f.at = now.mono;
        f.cause = lost_cause_.empty() ? "session ended" : lost_cause_;
        f.to = short_id(relay_->node_pub);
        f.from = "-";
        f.keypair_moved = true;
        last_failover_ = f;
        handshake_.answered = true;
        send_keypair(now);
        progress("new session: WireGuard's keypair named to relay " + f.to);
        return;
    }
    if (switched && local_peer_)  // nothing to say before WireGuard has sent anything
        progress(sent ? "new session: waiting for the VPN to answer WireGuard's handshake on it"
                      : "new session: waiting for WireGuard's next handshake initiation (the relay forwards WireGuard's "
                        "data only once the VPN has answered a handshake on the session; WireGuard sends one within "
                        "about 15 s of unanswered data)");
}

void ClientEngine::handshake_tick(const EngineTime& now) {
    if (step_ != Step::connected || !handshake_.first_initiation || handshake_.answered || vpn_warned_) return;
    if (now.mono - *handshake_.first_initiation < kHandshakeAnswerWait) return;
    warn_no_answer(" after " + std::to_string(kHandshakeAnswerWait.count()) +
                   " s: wrong VPN endpoint or port, wrong key, or the VPN is down");
}

void ClientEngine::warn_no_answer(const std::string& why) {
    vpn_warned_ = true;
    EngineEvent e;
    e.level = EngineEvent::Level::warn;
    e.topic = "connect";
    e.message = "no answer from the VPN to WireGuard's handshake" + why;
    host_.event(e);
}

}  // namespace pave

namespace pave {

// ---- standbys and failover

bool ClientEngine::wants_offers() const {
    if (step_ == Step::rendezvous) return true;
    // In the background: a couple of offers at a time, and only as many standbys as wanted.
    return standby_search_ && asks_.size() < 2 && standbys_.size() < cfg_.standby;
}

std::vector<Endpoint> ClientEngine::hello_endpoints(const RelayInfo& relay) const {
    std::vector<Endpoint> out;
    for (const auto& e : relay.endpoints)
        if (e.family() == cfg_.family && check_candidate(e, {}, {}, cfg_.lan_candidates) == EndpointVerdict::ok)
            out.push_back(e);
    return out;
}

std::vector<RelayInfo> ClientEngine::choosable(const EngineTime& now) {
    auto live = backoff_.filter(directory_.live(now.unix_s()), now.mono);
    // A record that names no address we may send hellos to (a relay publishes one before it
    // has learned its public address) cannot be asked: its answer could not reach us. It is
    // left out without backoff, and its bucket read again, so that its newer record (often a
    // millisecond behind it in the same read) is asked at once.
    std::erase_if(live, [&](const RelayInfo& r) {
        if (!hello_endpoints(r).empty()) return false;
        if (unreachable_seen_.size() < 4096 && unreachable_seen_.insert(r.node_pub).second) ++counters_.relays_unreachable;
        reads_.want({r.bucket}, now.mono, std::chrono::seconds(5));
        return true;
    });
    if (cfg_.guards > 0) {
        // Guards first: while one of them is live and not avoided, only guards are asked. Until a
        // relay is old enough to be a guard, or when every guard is down, any relay serves (it
        // does not become a guard for that).
        if (guards_.refill(directory_.live(now.unix_s()), now.unix_s())) {
            guards_dirty_ = true;
            std::string names;
            for (const auto& g : guards_.guards()) names += (names.empty() ? "" : ", ") + short_id(g.node_pub);
            host_.event({EngineEvent::Level::info, "guards", "guards: " + names});
        }
        std::vector<RelayInfo> g;
        for (const auto& r : live)
            if (guards_.is_guard(r.node_pub) && !(step_ != Step::rendezvous && relay_ && r.node_pub == relay_->node_pub))
                g.push_back(r);
        if (!g.empty()) {
            live = std::move(g);
        } else if (!guards_.guards().empty()) {
            // No guard's record is current here (records expire with their period): read the
            // guards' buckets (at most once a minute). A standby is only ever a guard; an active
            // session falls back to other relays after kGuardReadWait (rendezvous_tick).
            reads_.want(guards_.buckets(), now.mono);
            if (step_ != Step::rendezvous) return {};
        }
    }
    if (step_ == Step::rendezvous) return live;
    // A standby: not the active relay nor another standby; another bucket if there is one.
    std::erase_if(live, [&](const RelayInfo& r) {
        if (relay_ && r.node_pub == relay_->node_pub) return true;
        for (const auto& sb : standbys_)
            if (sb.relay.node_pub == r.node_pub) return true;
        return false;
    });
    if (relay_) {
        std::vector<RelayInfo> other;
        for (const auto& r : live)
            if (r.bucket != relay_->bucket) other.push_back(r);
        if (!other.empty()) return other;
    }
    return live;
}

void ClientEngine::adopt_standby(const EngineTime& now, const RelayInfo& relay, const SessionKeys& keys,
                                 const std::vector<Endpoint>& relay_cands) {
    const std::string who = "relay " + short_id(relay.node_pub);
    // Never the active relay's public address, nor another standby's: one machine's death
    // would take both.
    auto shares = [&](const std::vector<Endpoint>& a) {
        for (const auto& x : a)
            for (const auto& y : relay_cands)
                if (x.canonical_ip() == y.canonical_ip()) return true;
        return false;
    };
    bool same = (relay_ && relay_->node_pub == relay.node_pub) || shares(active_addrs_);
    for (const auto& sb : standbys_) same = same || sb.relay.node_pub == relay.node_pub || shares(sb.addrs);
    if (same) {
        ++counters_.standby_same_address;
        progress(who + " shares a public address with a relay in use; not taken as standby");
        backoff_.failed(relay.node_pub, now.mono);
        return;
    }
    SessionTimers timers = cfg_.timers;
    timers.punch_timeout = std::min<milliseconds>(timers.punch_timeout, milliseconds(10000));
    Standby sb;
    sb.relay = relay;
    sb.addrs = relay_cands;
    sb.since = now.mono;
    sb.session = std::make_unique<Session>(SessionRole::client, keys, relay_cands, now.mono, timers,
                                           [this](const Endpoint& to, ByteView d) { host_.send(to, d); });
    standbys_.push_back(std::move(sb));
    ++counters_.standbys_made;
    standby_read_every_ = std::chrono::seconds(2);
    if (standbys_.size() >= cfg_.standby) {
        standby_search_ = false;
        cancel_asks();
    }
}

void ClientEngine::close_standbys(const EngineTime& now) {
    for (auto& sb : standbys_) sb.session->close(0, now.mono);
    standbys_.clear();
}

void ClientEngine::standby_tick(const EngineTime& now) {
    const auto t = now.mono;
    for (auto it = standbys_.begin(); it != standbys_.end();) {
        Session& ss = *it->session;
        const std::string who = "standby relay " + short_id(it->relay.node_pub);
        if (ss.state() == SessionState::failed || ss.state() == SessionState::closed) {
            ++counters_.standbys_lost;
            backoff_.failed(it->relay.node_pub, t);
            progress(who + " lost (" + (ss.failure().empty() ? std::string("closed") : ss.failure()) +
                     "); looking for another");
            it = standbys_.erase(it);
            continue;
        }
        if (ss.state() == SessionState::established && !it->announced && (ss.rtt() || t - it->since > std::chrono::seconds(2))) {
            it->announced = true;
            backoff_.succeeded(it->relay.node_pub);
            guard_served(it->relay.node_pub, ss, now);
            char rtt[32] = "?";
            if (ss.rtt()) std::snprintf(rtt, sizeof rtt, "%.2f", double(ss.rtt()->count()) / 1000.0);
            progress(who + " ready (RTT " + rtt + " ms)");
        }
        ++it;
    }
    if (step_ != Step::connected) {
        if (standby_search_ && wants_offers()) rendezvous_tick(now);
        return;
    }
    if (!standby_search_ && standbys_.size() < cfg_.standby && t >= next_standby_search_) {
        standby_search_ = true;
        next_standby_search_ = t + std::chrono::seconds(1);  // no busier than this if relays keep failing
        if (!choice_) choice_.emplace(t, cfg_.choice);
    }
    if (standby_search_) {
        if (standbys_.size() >= cfg_.standby) {
            standby_search_ = false;
            cancel_asks();
        } else {
            if (asks_.empty() && choosable(now).empty() && t >= next_standby_read_) {
                reads_.want_all(t, std::chrono::seconds(5));
                issue_reads(now);
                next_standby_read_ = t + standby_read_every_;
                standby_read_every_ = std::min<Clock::duration>(standby_read_every_ * 2, std::chrono::seconds(60));
            }
            rendezvous_tick(now);
        }
    }
}

bool ClientEngine::fail_over(const EngineTime& now, const std::string& cause,
                             std::optional<Clock::time_point> heard_since) {
    const auto t = now.mono;
    auto usable = [](const Standby& sb) {
        return sb.session->state() == SessionState::established && sb.session->peer();
    };
    // A standby that answered the probe sent with the active relay's first one, else any.
    auto it = standbys_.end();
    if (heard_since)
        it = std::find_if(standbys_.begin(), standbys_.end(), [&](const Standby& sb) {
            return usable(sb) && sb.session->last_heard() >= *heard_since;
        });
    if (it == standbys_.end()) it = std::find_if(standbys_.begin(), standbys_.end(), usable);
    if (it == standbys_.end()) return false;
    Failover f;
    f.at = t;
    f.cause = cause;
    f.from = relay_ ? short_id(relay_->node_pub) : "?";
    f.to = short_id(it->relay.node_pub);
    if (relay_) backoff_.failed(relay_->node_pub, t);
    failed_over_from_ = relay_ ? std::optional<Ed25519Public>(relay_->node_pub) : std::nullopt;
    previous_peer_ = session_ ? session_->peer() : std::nullopt;
    previous_until_ = t + kPreviousGrace;
    if (session_ && session_->state() == SessionState::established) session_->close(0, t);
    session_ = std::move(it->session);
    relay_ = it->relay;
    active_addrs_ = it->addrs;
    standbys_.erase(it);
    ++counters_.failovers;
    watch_.reset();
    standbys_probed_.reset();
    address_suspect_ = false;
    handshake_ = {};
    handshake_.answered = true;  // the VPN answered this keypair; a new handshake is watched again
    gap_from_ = last_wg_in_.value_or(t);
    keypair_sent_.reset();
    f.keypair_moved = client_index_ && vpn_index_ && *client_index_ != *vpn_index_;
    if (f.keypair_moved) send_keypair(now);
    last_failover_ = f;
    progress("relay " + f.from + " lost (" + cause + "); moved to standby relay " + f.to +
             (f.keypair_moved ? "; WireGuard's keypair named to it"
                              : "; waiting for WireGuard's next handshake (no live keypair seen)"));
    next_standby_search_ = t;
    return true;
}

void ClientEngine::send_keypair(const EngineTime& now) {
    if (!session_ || !client_index_ || !vpn_index_) return;
    if (session_->send_keypair(KeypairFrame{*client_index_, *vpn_index_}, now.mono)) {
        ++counters_.keypair_frames;
        keypair_sent_ = now.mono;
    }
}

}  // namespace pave
