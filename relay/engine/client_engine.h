// The client role's logic (`pave connect`), I/O-free: fed datagrams, DHT values and the time,
// it talks to the world only through its ClientEngineHost (relay/engine/client_engine_host.h).
//
// One attempt walks these steps:
//
//   finding relays --(a live relay in the directory)--> learning public address
//   learning public address --(2 reflector answers; 1 after 150 ms, at once when it confirms
//                              the previous connection's IP; none after 3 s)--> rendezvous
//                              (STUN requests go from the start, beside the directory read)
//   rendezvous --(an accepted, fresh answer with a usable relay candidate)--> punching
//   punching --(path validated and RTT measured, or validated for 2 s)--> connected
//
// and its back-edges:
//   rendezvous: a relay silent for the answer wait (ClientEngineConfig::choice.answer_wait, 5 s)
//               -> asked no more in this cycle, others are asked;
//               a relay full (capacity, per-address limit), naming no usable address or sending
//               an invalid key share -> others are asked;
//               any other refusal -> failed at step 'rendezvous' (it would be the same anywhere);
//   any step before connected: the attempt's timeout -> failed at that step, with the reason;
//   punching: the relay closes the session as it validates, full (CLOSE with kRefuseCapacity or
//             kRefuseAddressLimit) -> back to rendezvous, others are asked;
//             the session fails or is closed otherwise -> failed at step 'punching';
//   connected: the session ends (relay closed it, peer silent) -> failed at step 'session'.
// A failure before the first connection is final (host.gave_up); after one, a new attempt
// begins at once (the local WireGuard keeps its endpoint, the client's listener, while the
// engine finds another relay).
//
// Standby relays and failover: besides the active session the engine keeps `standby` (default
// 1) standby sessions to other relays, punched, validated and kept alive by the session's
// keepalive. The offers of the first rendezvous that did not win go on and their answers
// become standbys; when one is lost (closed, failed, silent) another is looked for in the
// background (at most two offers waiting at a time). A standby never shares a public address
// with the active relay or another standby, and relays of another bucket are asked first.
// Relays that failed us (refused, silent, failed to punch, died) are avoided for a while with
// backoff (relay/engine/relay_backoff.h). The active relay is judged dead by the session
// (CLOSE frame, 20 s of silence) or, while WireGuard's data flows, by the PathWatch
// (relay/engine/path_watch.h: no answer within max(3 x SRTT, 250 ms) of a keepalive PING sent
// when data went unanswered for max(2 x SRTT, 100 ms)). Then the first validated standby
// becomes active at once: WireGuard keeps its endpoint (our local port) and the VPN roams to
// the new relay on the first authenticated packet through it. The new relay's gate never saw
// the keypair's handshake, so the engine names the live keypair (the indices it saw in
// WireGuard's transport data both ways) in a KEYPAIR frame and the gate carries that keypair
// under its migration budget until the VPN answers on it (relay/gate.h), re-sent every 100 ms
// with data until the VPN's data comes back. A relay holds a standby session (its gate locked,
// no WireGuard yet) while the session's keepalives arrive (Gate::keep_locked).
//
// Roaming: a NAT rebinding leaves every relay's path silent, which the PathWatch finds while
// data flows (all relays silent: our address changed, a new attempt at once). A change of the
// host's own addresses is told by the node (on_local_addresses_changed) and probes every path at
// once, so even an idle tunnel has a working path again before WireGuard's next packet.
//
// Rendezvous sends several sealed offers at once (dht/relay_choice.h decides which relays and
// when), each with its own ephemeral key and session id, put on a random inbox shard key
// (dht/inbox_keys.h); the first accepted answer wins and the other offers are withdrawn. The
// answer does not come through the DHT: right after the put the client sends hellos
// (relay/wire/rendezvous_frame.h) to the relay's public endpoints from its presence record, at
// kHelloSchedule, which opens its NAT toward the relay; the relay answers a hello with the
// offer's id with the sealed answer, sent to the hello's source. The only DHT request of a
// rendezvous is the put of the offer.
//
// The directory: the engine owns the Directory it chooses relays from. It reads it with short
// gets at one random replica key per bucket (dht/directory_reads.h: every bucket at start and
// while it knows no relay, again when a new attempt begins or every relay known has been asked,
// and one random key now and then in the background), never with a listen; the values arrive via on_dht_values and are judged
// there (signatures, expiry, field ranges).
//
// The local WireGuard: the first WireGuard-shaped datagram on the local listener fixes the
// source the engine serves; datagrams from other sources are dropped and counted, except a
// handshake initiation from a loopback address, which moves the lock to its source (WireGuard
// restarted, `wg-quick down; wg-quick up`, binds a new port; the listener is local, so only a
// loopback source may take it over) and says so in an event. While the client is not connected
// its packets are dropped (counted), except the newest handshake initiation, which is held (one
// message, kHeldInitiationMaxAge at most) and sent as soon as a path is connected, so that
// WireGuard's first initiation is not lost to its 5 s retry.
//
// The VPN's answer: on each connected path the engine watches WireGuard's handshake. The first
// handshake response back from the relay gives the event "VPN answered the handshake"; if none
// has come kHandshakeAnswerWait after the first initiation forwarded on the path, a warning names
// the likely causes (wrong VPN endpoint or port, wrong key, VPN down), and so does a relay that
// closes the session before the answer (a relay closes a session whose VPN endpoint's port is
// closed or that answers with something that is not WireGuard). One warning until the VPN
// answers, however many paths go by. A path after the first starts with an event saying what it
// waits for (the relay's gate forwards WireGuard's data only after the VPN has answered a
// handshake on the session). A new local source starts the watch again.
//
// Progress: one EngineEvent per line a user sees, topic "connect", level info; the adapter prints
// each as "pave connect: <message>" (the lab tests match these lines).
//
// Time: the engine reads no clock; every call takes an EngineTime. on_tick may be called at any
// time (early calls are harmless) and must be called by the deadline it returned; a control
// frame or a DHT answer may bring that deadline forward, so call on_tick after on_datagram took
// a control frame and after on_dht_values (the data path, WireGuard, needs no tick: the
// handshake warning is judged at the next deadline, which is never more than a second away). Randomness
// (session ids, ephemeral keys, STUN transaction ids, the choice among relays) comes from
// crypto/random.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crypto/x25519.h"
#include "dht/directory.h"
#include "dht/directory_cache.h"
#include "dht/directory_reads.h"
#include "dht/guard_set.h"
#include "dht/relay_choice.h"
#include "relay/engine/client_engine_host.h"
#include "relay/engine/path_watch.h"
#include "relay/engine/relay_backoff.h"
#include "relay/rate_limiter.h"
#include "relay/reflector.h"
#include "relay/session.h"
#include "relay/wire/rendezvous_frame.h"
#include "relay/wire/wireguard_shape.h"

namespace pave {

// How long a relay may take to answer a rendezvous before it counts as silent (the default of
// RelayChoice::Params::answer_wait, which the engine uses).
inline constexpr std::chrono::seconds kAnswerWait{5};
static_assert(RelayChoice::Params{}.answer_wait == kAnswerWait);
// Per-offer progress lines for the first few offers of an attempt; then a summary now and then.
inline constexpr unsigned kVerboseAsks = 3;
// A handshake initiation held while no path is up is sent when one connects if it is at most
// this old: WireGuard sends a new one (REKEY_TIMEOUT, 5 s) and forgets the older one's state.
inline constexpr std::chrono::seconds kHeldInitiationMaxAge{5};
// `wg set IFACE listen-port N` moves a running WireGuard to a new port with its keypair: its
// transport data to the live keypair's VPN index from a new loopback source takes the entry
// over once the locked source has been quiet this long (a restarted WireGuard is followed at
// its first initiation instead).
inline constexpr std::chrono::milliseconds kLocalMoveQuiet{500};
// How long after the first initiation forwarded on a path the VPN's handshake response may take
// before the engine warns (WireGuard's own retry interval; a VPN answers within a round trip).
inline constexpr std::chrono::seconds kHandshakeAnswerWait{5};
// The relay a failover moved to is found dead this soon after it: both relays at once is more
// likely our own address (a NAT rebinding, a new network) than two relays dying, so neither is
// avoided and a new attempt learns our public address afresh.
inline constexpr std::chrono::seconds kOwnChangeWindow{3};
// A datagram from a relay an offer waits for sends one hello to it at once, at most this often
// per offer (its NAT has just opened toward us: the punch of a relay that took the offer).
inline constexpr std::chrono::milliseconds kHelloOnContact{50};
inline constexpr std::chrono::seconds kPreviousGrace{1};
// While the VPN has not answered on a migrated keypair, the KEYPAIR frame goes again with data
// at most this often (a lost frame would hold the data back).
inline constexpr std::chrono::milliseconds kKeypairResend{100};
// When the hellos of an offer go out, after its put (ms): early ones for a relay that reads the
// inbox fast, later ones for a slow DHT; none after the answer wait.
inline constexpr std::array<uint16_t, 10> kHelloSchedule{0, 100, 250, 500, 800, 1200, 1700, 2400, 3200, 4200};
// Hellos to one network (an IPv4 /24 or IPv6 /48, whatever the address's class), from all
// offers together: two whole schedules at once, then two a second. A presence record names its
// endpoints itself and relay keys are free, so records naming a victim, or every address of a
// victim's network, must not turn clients into a stream toward it: whatever the number of such
// records, a client sends one network at most 2 x kHelloSchedule.size() hellos plus two a
// second (the keys of at most kHelloDestinations networks are kept; the least recently used goes).
inline constexpr double kHelloDestinationBurst = 2 * kHelloSchedule.size();
inline constexpr double kHelloDestinationRate = 2.0;
inline constexpr size_t kHelloDestinations = 4096;

struct ClientEngineConfig {
    Endpoint vpn;                          // the WireGuard server the relay forwards to
    std::chrono::seconds timeout{20};      // per attempt
    std::vector<Endpoint> stun_servers;    // reflectors besides the DHT peers (--stun)
    sa_family_t family = AF_INET;          // the family of the client's session socket
    bool lan_candidates = false;           // accept a relay's private candidates (--lan-candidates)
    unsigned standby = 1;                  // standby sessions to other relays (--standby)
    std::optional<Ed25519Public> own_relay;  // this process's own relay role: never chosen
    SessionTimers timers;
    // The first two offers go at once (the first answer becomes the active session, the second
    // the standby); then RelayChoice's pace.
    RelayChoice::Params choice = [] {
        RelayChoice::Params p;
        p.calm_spacing = std::chrono::milliseconds(0);
        p.calm_outstanding = 2;
        return p;
    }();
    DirectoryReads::Params reads;
    // Guards (dht/guard_set.h): active and standby relays are chosen among them first. 0: no
    // guards (a fresh random relay for every connection).
    size_t guards = 3;
    // A relay becomes eligible as a guard once this client has known it this long.
    uint64_t min_relay_age_s = 600;
    // The guard state file's text from an earlier run ("" if none; see encode_guard_state).
    std::string guard_state;
    // The directory cache file's text from an earlier run ("" if none; dht/directory_cache.h):
    // its records are judged at start like DHT values, so the first offers need no DHT read.
    std::string directory_cache;
    // Listen on one fixed replica key of every bucket for as long as the engine runs instead of
    // reading with gets: how clients read before the directory reads; the simulator keeps it to
    // measure what a storer learned then (tests/sim/test_directory_reads.cpp).
    bool listen_directory = false;
};

class ClientEngine {
public:
    using Clock = std::chrono::steady_clock;
    enum class Step { finding_relays, learning_address, rendezvous, punching, connected, failed };
    static const char* to_string(Step s);

    // Counters of what was dropped or not used, for `sessions`.
    struct Counters {
        uint64_t answers_stale = 0, answers_no_usable_candidate = 0, answers_refused = 0, answers_late = 0;
        uint64_t hellos_sent = 0, hellos_limited = 0, relays_unreachable = 0;  // relays whose record names no usable endpoint
        uint64_t hellos_on_contact = 0;  // hellos sent at once when the relay's first datagram came
        uint64_t offers_unsealable = 0;
        uint64_t refused_at_validation = 0;  // accepted, then closed full as the path validated
        uint64_t local_other_source = 0, local_dropped_not_connected = 0;
        uint64_t local_relocks = 0;                        // the lock moved to a new loopback source
        uint64_t initiations_held = 0, held_initiations_sent = 0;  // held while no path was up; sent on connect
        uint64_t wg_to_relay = 0, wg_from_relay = 0;
        uint64_t wg_bytes_to_relay = 0, wg_bytes_from_relay = 0;
        uint64_t directory_values = 0;  // relay records judged
        uint64_t directory_reads = 0;   // gets at directory keys
        uint64_t directory_cached = 0;  // live relays taken from the directory cache at start
        uint64_t failovers = 0;         // the active session moved to a standby
        uint64_t standbys_made = 0, standbys_lost = 0;
        uint64_t standby_same_address = 0;  // answers naming the active relay's address: not used
        uint64_t watch_probes = 0;          // keepalive PINGs of the PathWatch
        uint64_t keypair_frames = 0;        // KEYPAIR frames sent
        uint64_t address_changes = 0;       // on_local_addresses_changed calls while connected
    };
    // The last failover: when, why, from and to which relay, and the gap in WireGuard's data
    // from the relays (last packet from the old relay to the first from the new one).
    struct Failover {
        Clock::time_point at{};
        std::string cause, from, to;
        bool keypair_moved = false;
        std::optional<Clock::duration> gap;
    };
    // A standby session.
    struct Standby {
        RelayInfo relay;
        std::vector<Endpoint> addrs;  // the relay's candidates (public addresses)
        std::unique_ptr<Session> session;
        Clock::time_point since{};
        bool announced = false;  // "standby ready" said
    };

    ClientEngine(ClientEngineHost& host, ClientEngineConfig cfg);
    ~ClientEngine();
    ClientEngine(const ClientEngine&) = delete;
    ClientEngine& operator=(const ClientEngine&) = delete;

    // Listens on the relay bucket keys and begins the first attempt ("finding relays").
    void start(const EngineTime& now);
    // Closes the session (CLOSE frame to the relay) and cancels every listen; the engine does
    // nothing more afterwards. Call it before destroying the engine (the destructor does not
    // call the host).
    void close(const EngineTime& now);

    // A datagram on the client's session socket (control frame, WireGuard from the relay, STUN
    // answer). False when it is none of the engine's (the caller counts or handles it).
    bool on_datagram(const EngineTime& now, const Endpoint& from, ByteView data);
    // A datagram on the local WireGuard listener.
    void on_local_datagram(const EngineTime& now, const Endpoint& from, ByteView data);
    // An address of this host was added or removed (the node's address watch). Our public
    // address may have changed with it, and with it every relay's path to us, whether or not
    // WireGuard sends anything: the active relay and the standbys are probed at once, as the
    // PathWatch probes a relay that leaves data unanswered, and the verdict is the PathWatch's
    // (all silent: a new attempt at once, learning the address afresh and naming the live
    // keypair to its relay; the standby answered: failover to it; the active answered: nothing
    // changed for it). Call on_tick afterwards.
    void on_local_addresses_changed(const EngineTime& now);
    // Values (or their expiry) at a key the engine listens on, with the token the host returned.
    // Values of listens already cancelled are ignored (answers: counted late).
    void on_dht_values(const EngineTime& now, const DhtKey& key, DhtListenToken token, const std::vector<Bytes>& values,
                       bool expired);
    // A get (ClientEngineHost::dht_get) ended.
    void on_dht_done(const EngineTime& now, const DhtKey& key, DhtListenToken token, bool ok);
    // Timers and step progress; returns when it wants to be called next.
    Clock::time_point on_tick(const EngineTime& now);

    // State, for the shell and the tests.
    Step step() const { return step_; }
    unsigned attempts() const { return attempts_; }
    bool ever_connected() const { return ever_connected_; }
    const Session* session() const { return session_.get(); }
    const std::optional<RelayInfo>& relay() const { return relay_; }  // the relay of the session
    const RelayChoice* choice() const { return choice_ ? &*choice_ : nullptr; }
    const Reflector& reflector() const { return reflector_; }
    const Directory& directory() const { return directory_; }
    const Counters& counters() const { return counters_; }
    const GuardSet& guards() const { return guards_; }
    // Why the guard state given in the config was not used ("" if it was, or there was none).
    const std::string& guard_state_error() const { return guard_state_error_; }
    size_t offers_waiting() const { return asks_.size(); }
    const std::optional<Endpoint>& local_peer() const { return local_peer_; }
    bool holds_initiation() const { return held_initiation_.has_value(); }
    bool vpn_answered() const { return handshake_.answered; }  // on the current path
    const std::vector<Standby>& standbys() const { return standbys_; }
    const std::optional<Failover>& last_failover() const { return last_failover_; }
    const RelayBackoff& backoff() const { return backoff_; }
    bool watching() const { return watch_.watching(); }

private:
    // One sealed offer waiting for its answer.
    struct Ask {
        RelayInfo relay;
        std::optional<X25519Key> eph;
        ByteArray<16> session_id{};
        Bytes answer_material;
        HelloId hello_id{};
        std::vector<Endpoint> hello_to;  // the relay's record endpoints our policy allows
        Clock::time_point put_at{};
        size_t hellos = 0;  // of kHelloSchedule
        std::optional<Clock::time_point> contact_hello;  // the last hello_on_contact
    };
    void progress(const std::string& msg);
    void fail(const EngineTime& now, const std::string& step, const std::string& why);
    void begin_attempt(const EngineTime& now);
    void step_tick(const EngineTime& now);
    void rendezvous_tick(const EngineTime& now);
    bool send_offer(const EngineTime& now, const RelayInfo& relay);
    void on_answer(const EngineTime& now, uint64_t ask_id, ByteView value);
    void send_hellos(const EngineTime& now);
    void hello_on_contact(const EngineTime& now, const Endpoint& from, ByteView data);
    void drop_ask(uint64_t ask_id);
    void cancel_asks();
    void on_connected(const EngineTime& now, bool switched);
    void forward_local(const EngineTime& now, const WgMessage& m, ByteView data);
    void hold_initiation(const EngineTime& now, ByteView data);
    void handshake_tick(const EngineTime& now);
    void warn_no_answer(const std::string& why);
    void probe_reflectors(Clock::time_point t);
    // Standbys and failover.
    void standby_tick(const EngineTime& now);
    bool wants_offers() const;
    std::vector<RelayInfo> choosable(const EngineTime& now);
    std::vector<Endpoint> hello_endpoints(const RelayInfo& relay) const;
    std::set<Ed25519Public> unreachable_seen_;  // relays counted in relays_unreachable
    void adopt_active(const EngineTime& now, const RelayInfo& relay, const SessionKeys& keys,
                      const std::vector<Endpoint>& relay_cands);
    void adopt_standby(const EngineTime& now, const RelayInfo& relay, const SessionKeys& keys,
                       const std::vector<Endpoint>& relay_cands);
    bool fail_over(const EngineTime& now, const std::string& cause,
                   std::optional<Clock::time_point> heard_since = std::nullopt);
    void send_keypair(const EngineTime& now);
    void close_standbys(const EngineTime& now);

    ClientEngineHost& host_;
    ClientEngineConfig cfg_;
    Directory directory_;
    Reflector reflector_;
    void directory_tick(const EngineTime& now);
    void issue_reads(const EngineTime& now);
    DirectoryReads reads_;
    std::map<DhtListenToken, DirectoryReads::Read> read_tokens_;  // gets in flight
    std::optional<Clock::time_point> cycle_read_at_;  // the read made when choice_'s cycle was over
    void want_directory_for_attempt(const EngineTime& now, bool first);
    void guard_failed(const Ed25519Public& pub, const EngineTime& now);
    void guard_served(const Ed25519Public& pub, const Session& s, const EngineTime& now);
    void save_guards(const EngineTime& now, bool force);
    GuardSet guards_;
    std::string guard_state_error_;
    // The latest accepted record of relays seen (bounded), for the directory cache file.
    void ingest(const EngineTime& now, ByteView value, unsigned bucket);
    void load_directory_cache(const EngineTime& now);
    void save_directory_cache(const EngineTime& now, bool force);
    std::map<Ed25519Public, CachedRecord> raw_records_;
    std::string directory_cache_saved_;
    std::optional<Clock::time_point> directory_cache_saved_at_;
    bool guards_dirty_ = false;
    size_t guards_saved_seen_ = 0;  // first sightings in the state last saved
    std::optional<Clock::time_point> guards_saved_at_;
    std::map<DhtListenToken, unsigned> bucket_listens_;  // token -> bucket (listen_directory only)
    bool started_ = false, closed_ = false;
    std::optional<uint64_t> last_expire_s_;

    Step step_ = Step::finding_relays;
    Clock::time_point attempt_start_{}, step_start_{}, last_summary_{};
    bool ever_connected_ = false;
    unsigned attempts_ = 0;

    std::optional<RelayInfo> relay_;
    std::optional<RelayChoice> choice_;
    std::map<uint64_t, Ask> asks_;                   // offers waiting for an answer, by ask id
    std::map<HelloId, uint64_t> ask_hellos_;          // hello id -> ask id
    uint64_t next_ask_id_ = 1;
    unsigned asks_in_attempt_ = 0;
    std::unique_ptr<Session> session_;
    std::optional<Endpoint> local_peer_;  // the WireGuard source we locked onto
    // The newest handshake initiation that arrived while no path was up.
    struct HeldInitiation {
        Bytes data;
        Clock::time_point at{};
    };
    std::optional<HeldInitiation> held_initiation_;
    // WireGuard's handshake on the current path.
    struct HandshakeWatch {
        std::optional<Clock::time_point> first_initiation;  // forwarded on this path
        bool answered = false;
    };
    HandshakeWatch handshake_;
    bool vpn_warned_ = false;  // since the VPN last answered (or WireGuard's source changed)
    Counters counters_;
    KeyedRateLimiter hello_destinations_{kHelloDestinationRate, kHelloDestinationBurst, kHelloDestinations};

    std::vector<Endpoint> active_addrs_;  // the active relay's candidates
    std::vector<Standby> standbys_;
    bool standby_search_ = false;
    Clock::time_point next_standby_search_{};
    RelayBackoff backoff_;
    PathWatch watch_;
    // The live WireGuard keypair as seen in transport data: the index the VPN's data carries
    // (ours) and the one our data carries (the VPN's).
    std::optional<uint32_t> client_index_, vpn_index_;
    Clock::time_point local_last_heard_{};  // the locked WireGuard source's latest datagram
    std::optional<Clock::time_point> keypair_sent_;  // migrating: KEYPAIR last sent, no VPN data back yet
    std::optional<Clock::time_point> last_wg_in_;    // WireGuard last received from the active relay
    std::optional<Clock::time_point> gap_from_;      // failover: the last packet from the old relay
    std::optional<Failover> last_failover_;
    std::optional<Ed25519Public> failed_over_from_;  // the relay the last failover left
    // WireGuard from the relay a failover left is still passed to WireGuard (authenticated
    // there) for kPreviousGrace: a stopping relay carries what was in flight a moment longer.
    std::optional<Endpoint> previous_peer_;
    Clock::time_point previous_until_{};
    // When the PathWatch first probed the active relay, the standbys were probed too: at the
    // verdict, a standby that answered is alive; none answering means our own address changed.
    std::optional<Clock::time_point> standbys_probed_;
    bool address_suspect_ = false;  // the running watch began with a local address change
    // A standby wanted and no relay to ask: the directory is read again (all buckets), at
    // growing intervals (2 s doubling to 60 s), so relays that appeared since become standbys.
    Clock::time_point next_standby_read_{};
    Clock::duration standby_read_every_ = std::chrono::seconds(2);
    std::string lost_cause_;                         // why the last connected session ended
};

}  // namespace pave
