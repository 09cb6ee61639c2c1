#include "node/wg_command.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "node/config/wg_config.h"
#include "node/config/wg_quick_file.h"
#include "node/log.h"
#include "node/resolve.h"
#include "node/run_program.h"
#include "node/wg_quick.h"
#include "node/wg_state.h"

namespace pave {

namespace {

constexpr auto kStopWait = std::chrono::seconds(20);

int fail(int code, const std::string& msg) {
    std::cerr << "pave: error: " << msg << "\n";
    return code;
}

// Undoes what a record says was made: wg-quick down (up), the original endpoint (attach),
// then the records. Returns "" or what could not be undone.
std::string undo(const std::string& dir, const WgState& s) {
    std::string err;
    if (s.mode == "up" && interface_exists(s.iface)) {
        if (!s.derived.empty() && access(s.derived.c_str(), R_OK) == 0)
            err = wg_quick("down", s.derived);
        else
            err = "interface " + s.iface + " is up but its derived file " + s.derived + " is gone";
    } else if (s.mode == "up" && s.interface_up && s.policy_routing) {
        // The interface went away without wg-quick down (wireguard-go died): its full-tunnel
        // rules and firewall table are still there, and wg-quick down cannot run without it.
        log::warn("wg", "{} is gone; removing wg-quick's routing rules and table for it", s.iface);
        err = remove_wg_quick_routing(s.iface, s.fwmark);
    } else if (s.mode == "attach" && !s.peer.empty() && !s.original_endpoint.empty() && interface_exists(s.iface)) {
        err = wg_set_endpoint(s.iface, s.peer, s.original_endpoint);
        if (err.empty()) log::info("wg", "{}: peer endpoint restored", s.iface);
    }
    if (err.empty()) remove_wg_runtime(dir, s);
    return err;
}

// SIGINT/SIGTERM are held while the system is put back in order (children get them back).
void hold_stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, nullptr);
}

// Before a new up/attach: refuses while another process runs for the interface, and cleans up
// after one that died. "" or an error.
std::string claim(const std::string& iface, const std::string& dir) {
    std::string err;
    // Held until this process exits: a second up/attach for the interface is refused at once.
    static int lock_fd = -1;
    if (lock_fd < 0) {
        lock_fd = lock_wg_interface(iface, err);
        if (lock_fd < 0) return err;
    }
    auto old = read_wg_state(dir, err);
    if (!err.empty()) return err + " (remove " + dir + " if no PAVE runs for " + iface + ")";
    if (!old) return "";
    if (pave_wg_process_alive(old->pid))
        return "PAVE already runs for " + iface + " (pid " + std::to_string(old->pid) + "); stop it with `pave wg " +
               (old->mode == "up" ? "down " + old->config : "detach " + iface) + "`";
    log::warn("wg", "{}: cleaning up after pid {}, which did not stop cleanly", iface, old->pid);
    if (std::string e = undo(dir, *old); !e.empty()) return "cannot clean up after pid " + std::to_string(old->pid) + ": " + e;
    return "";
}

// Stops the process recorded for the interface, or cleans up after it. Exit code.
int stop_recorded(const std::string& iface, const std::string& what_if_none) {
    std::string dir = wg_runtime_dir(iface), err;
    auto s = read_wg_state(dir, err);
    if (!err.empty()) return fail(1, err);
    if (!s) return fail(1, what_if_none);
    if (pave_wg_process_alive(s->pid)) {
        if (::kill(pid_t(s->pid), SIGTERM) != 0) return fail(1, "cannot signal pid " + std::to_string(s->pid));
        auto deadline = std::chrono::steady_clock::now() + kStopWait;
        while (pave_wg_process_alive(s->pid)) {
            if (std::chrono::steady_clock::now() > deadline)
                return fail(1, "pid " + std::to_string(s->pid) + " did not stop within 20 s");
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        std::string again;
        if (!read_wg_state(dir, again)) {
            std::cout << "pave wg: " << iface << " stopped (pid " << s->pid << ")\n";
            return 0;
        }
        // It died without finishing its own clean-up: finish it here.
        s = read_wg_state(dir, again);
        if (!s) return 0;
    }
    if (std::string e = undo(dir, *s); !e.empty()) return fail(1, e);
    std::cout << "pave wg: " << iface << " cleaned up after pid " << s->pid << ", which had stopped\n";
    return 0;
}

}  // namespace

int run_wg_up(const std::string& config_path, bool run_hooks, NodeOptions o) {
    auto iface = wg_interface_name(config_path);
    if (!iface)
        return fail(2, "'" + config_path + "': the file name must be INTERFACE.conf, INTERFACE being 1-15 of "
                       "a-z A-Z 0-9 _ = + . - (as for wg-quick)");
    std::ifstream f(config_path, std::ios::binary);
    if (!f) return fail(2, "cannot read " + config_path);
    std::string text(kWgConfigMaxBytes + 1, '\0');
    f.read(text.data(), std::streamsize(text.size()));
    text.resize(size_t(f.gcount()));
    auto parsed = parse_wg_config(text);
    if (!parsed.config) return fail(2, config_path + ": " + parsed.error);
    const WgConfig& c = *parsed.config;
    for (const char* tool : {"wg-quick", "wg"})
        if (!program_in_path(tool)) return fail(1, std::string(tool) + " not found: install wireguard-tools");

    // Before anything changes: once the tunnel is up, the name may only resolve through it.
    std::string err;
    auto vpn = resolve_host_port(c.endpoint_text(), err);
    if (!vpn) return fail(1, "cannot resolve the VPN endpoint " + c.endpoint_text() + ": " + err);

    std::string dir = wg_runtime_dir(*iface);
    if (std::string e = claim(*iface, dir); !e.empty()) return fail(1, e);
    if (interface_exists(*iface))
        return fail(1, "interface " + *iface + " exists already (brought up by wg-quick?): take it down first, or use "
                       "`pave wg attach " + *iface + "`");
    if (std::string e = prepare_wg_runtime_dir(dir); !e.empty()) return fail(1, e);

    bool keep_dns = !c.dns.empty() || !c.dns_search.empty() ? wg_quick_can_apply_dns() : false;
    if ((!c.dns.empty() || !c.dns_search.empty()) && !keep_dns)
        log::warn("wg", "DNS left alone: wg-quick applies the file's DNS line through resolvconf, which is not "
                        "installed; this host's resolver settings are unchanged");
    if (!c.pre_up.empty() || !c.post_up.empty() || !c.pre_down.empty() || !c.post_down.empty())
        log::info("wg", "{} the file's PreUp/PostUp/PreDown/PostDown lines", run_hooks ? "running" : "not running (no --run-hooks)");

    WgState st;
    st.mode = "up";
    st.pid = getpid();
    st.iface = *iface;
    st.config = config_path;
    st.derived = dir + "/" + *iface + ".conf";
    st.vpn = vpn->to_string();
    st.fwmark = wg_quick_fwmark(c);
    st.policy_routing = c.full_tunnel() && (c.table.empty() || c.table == "auto");
    if (std::string e = write_wg_state(dir, st); !e.empty()) return fail(1, e);

    o.client = true;
    o.vpn = vpn->to_string();
    o.listen = "127.0.0.1:0";
    o.fwmark = st.fwmark;
    o.control_socket = wg_control_path(dir);
    o.on_listening = [&](const std::string& local) -> std::string {
        auto ep = Endpoint::parse(local);
        if (!ep) return "bad local address " + local;
        WgQuickDerivation d{*ep, config_path, keep_dns, run_hooks};
        if (std::string e = write_private_file(st.derived, wg_quick_file_text(c, d)); !e.empty()) return e;
        st.local = local;
        if (std::string e = write_wg_state(dir, st); !e.empty()) return e;
        if (std::string e = wg_quick("up", st.derived); !e.empty()) return e;
        st.interface_up = true;
        if (std::string e = write_wg_state(dir, st); !e.empty()) return e;
        log::info("wg", "{} up: MTU {}, fwmark {}, peer endpoint {} (PAVE) relaying to the VPN{}", *iface,
                  wg_quick_mtu(c), o.fwmark, local, c.full_tunnel() ? "; full tunnel" : "");
        return "";
    };
    int rc = run_node(o);
    hold_stop_signals();
    if (std::string e = undo(dir, st); !e.empty()) {
        std::cerr << "pave: error: " << e << " (run `pave wg down " << config_path << "` to retry)\n";
        return 1;
    }
    log::info("wg", "{} down", *iface);
    return rc;
}

int run_wg_down(const std::string& config_path) {
    auto iface = wg_interface_name(config_path);
    if (!iface) return fail(2, "'" + config_path + "': the file name must be INTERFACE.conf (as for wg-quick)");
    return stop_recorded(*iface, std::string("no `pave wg up` recorded for ") + *iface +
                                     (interface_exists(*iface) ? " (if wg-quick brought it up: wg-quick down " + config_path + ")"
                                                               : " (it is not up)"));
}

int run_wg_attach(const std::string& iface, const std::string& peer, NodeOptions o) {
    if (!wg_interface_name_ok(iface))
        return fail(2, "'" + iface + "' is not an interface name");
    if (!program_in_path("wg")) return fail(1, "wg not found: install wireguard-tools");
    std::string err;
    auto peers = wg_show_endpoints(iface, err);
    if (!peers) return fail(1, err);
    const WgPeerEndpoint* chosen = nullptr;
    if (!peer.empty()) {
        for (const auto& p : *peers)
            if (p.public_key == peer) chosen = &p;
        if (!chosen) return fail(1, iface + " has no peer " + peer);
    } else if (peers->size() == 1) {
        chosen = &peers->front();
    } else {
        std::string list;
        for (const auto& p : *peers) list += "\n  " + p.public_key + "  " + p.endpoint;
        return fail(2, peers->empty() ? iface + " has no peer"
                                      : iface + " has " + std::to_string(peers->size()) +
                                            " peers: name the VPN's with --peer KEY:" + list);
    }
    auto original = Endpoint::parse(chosen->endpoint);
    if (!original) return fail(1, "peer " + chosen->public_key + " has no endpoint (" + chosen->endpoint + "): nothing to relay to");
    if (chosen->endpoint.rfind("127.", 0) == 0 || chosen->endpoint.rfind("[::1]", 0) == 0)
        return fail(1, "peer " + chosen->public_key + " already points at a local port (" + chosen->endpoint + ")");
    auto mark = wg_show_fwmark(iface, err);
    if (!mark) return fail(1, err);

    std::string dir = wg_runtime_dir(iface);
    if (std::string e = claim(iface, dir); !e.empty()) return fail(1, e);
    if (std::string e = prepare_wg_runtime_dir(dir); !e.empty()) return fail(1, e);
    WgState st;
    st.mode = "attach";
    st.pid = getpid();
    st.iface = iface;
    st.peer = chosen->public_key;
    st.original_endpoint = original->to_string();
    st.vpn = original->to_string();
    if (std::string e = write_wg_state(dir, st); !e.empty()) return fail(1, e);

    o.client = true;
    o.vpn = original->to_string();
    o.listen = "127.0.0.1:0";
    if (*mark) o.fwmark = *mark;
    o.control_socket = wg_control_path(dir);
    o.on_listening = [&](const std::string& local) -> std::string {
        st.local = local;
        if (std::string e = write_wg_state(dir, st); !e.empty()) return e;
        if (std::string e = wg_set_endpoint(iface, st.peer, local); !e.empty()) return e;
        log::info("wg", "{}: peer {} now reaches its endpoint through PAVE at {}{}", iface, st.peer, local,
                  *mark ? "" : " (the interface has no fwmark: in a full tunnel, PAVE's packets would loop)");
        return "";
    };
    int rc = run_node(o);
    hold_stop_signals();
    if (std::string e = undo(dir, st); !e.empty()) {
        std::cerr << "pave: error: " << e << " (run `pave wg detach " << iface << "` to retry)\n";
        return 1;
    }
    return rc;
}

int run_wg_detach(const std::string& iface) {
    if (!wg_interface_name_ok(iface))
        return fail(2, "'" + iface + "' is not an interface name");
    return stop_recorded(iface, "no `pave wg attach` recorded for " + iface);
}

}  // namespace pave
