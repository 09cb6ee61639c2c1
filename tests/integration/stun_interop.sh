#!/usr/bin/env bash
# STUN interoperability with coturn (Debian packages coturn: turnserver, turnutils_stunclient).
# All traffic stays on 127.0.0.1.
#
# Usage: stun_interop.sh PAVE_BINARY MODE
#   MODE coturn  coturn client against a coturn server only (checks the harness; PAVE_BINARY unused)
#        client  pave's STUN client against coturn:
#                  pave stun-probe --server 127.0.0.1:PORT --bind 127.0.0.1:LPORT --timeout-ms MS
#                must print a line "mapped 127.0.0.1:LPORT" and exit 0, and exit non-zero when
#                nothing answers
#        server  pave answering STUN on its relay port, probed by coturn's client and by pave's:
#                  pave $PAVE_NODE_ARGS   ({PORT} and {STATE} are substituted)
#                coturn's plain Binding Request must get 127.0.0.1:<its port>; a request with
#                an RFC 5780 CHANGE-REQUEST (comprehension-required, not implemented) must get a
#                420 listing it; a request with a wrong magic cookie must get nothing
#        all     coturn, client and server
# Prints exactly one line on stdout: "PASS stun_interop" or "FAIL <reason>"; exit status 0 / 1.
# On failure the logs of the processes started go to stderr.
set -u

PAVE=${1:-}
MODE=${2:-all}
PAVE_NODE_ARGS=${PAVE_NODE_ARGS:-"--state-dir {STATE} node --bind 127.0.0.1 --port {PORT} --network-id 7 --no-relay"}
WAIT_S=5

WORK=$(mktemp -d /tmp/pave-stun-interop.XXXXXX)
PIDS=()

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    local f
    for f in "$WORK"/*.log; do
        [ -s "$f" ] || continue
        echo "---- $(basename "$f")" >&2
        tail -n 40 "$f" >&2
    done
    echo "FAIL $*"
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 || fail "missing tool: $1"
}

# A UDP port on 127.0.0.1 nobody listens on right now.
free_udp_port() {
    local _ p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if [ -z "$(ss -Hlun "sport = :$p" 2>/dev/null)" ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

udp_listening() {
    ss -Hlun "( sport = :$1 )" 2>/dev/null | grep -qF "127.0.0.1:$1"
}

# Starts a STUN-only coturn on 127.0.0.1; sets TURN_PORT. Retries a few ports (another process
# may take a free port between the check and the bind).
start_coturn() {
    local _ __
    for _ in 1 2 3 4 5; do
        TURN_PORT=$(free_udp_port) || fail "no free UDP port"
        turnserver -n --listening-ip=127.0.0.1 --listening-port="$TURN_PORT" \
            --no-tls --no-dtls --no-auth --stun-only --no-cli --no-rfc5780 \
            --log-file=stdout --simple-log --pidfile="$WORK/turnserver.pid" \
            >"$WORK/turnserver.log" 2>&1 &
        local pid=$!
        PIDS+=("$pid")
        for __ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            if udp_listening "$TURN_PORT"; then
                return 0
            fi
            sleep 0.1
        done
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    fail "turnserver did not start"
}

# Prints the reflexive address coturn's client learned from 127.0.0.1:$1 (extra args before).
coturn_probe() {
    local port=$1
    shift
    timeout "$WAIT_S" turnutils_stunclient "$@" -p "$port" 127.0.0.1 >"$WORK/stunclient.log" 2>&1
    local rc=$?
    sed -n 's/.*UDP reflexive addr: *\([0-9.]*:[0-9]*\).*/\1/p' "$WORK/stunclient.log" | head -n 1
    return $rc
}

# Sends one datagram (hex) to 127.0.0.1:$1 and prints the reply in lowercase hex ("" if none
# within a second).
raw_exchange() {
    local port=$1 hex=$2
    # shellcheck disable=SC2001 # one escape per byte
    printf '%b' "$(echo "$hex" | sed 's/../\\x&/g')" |
        timeout "$WAIT_S" socat -t 1 - "UDP:127.0.0.1:$port" 2>>"$WORK/socat.log" |
        od -An -v -tx1 | tr -d ' \n'
}

check_coturn() {
    local got
    got=$(coturn_probe "$TURN_PORT") || fail "coturn: turnutils_stunclient failed against turnserver"
    [[ "$got" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "coturn: unexpected reflexive address '$got'"
}

# pave stun-probe against 127.0.0.1:$1 from a fixed local port; checks the mapped address.
pave_probe_expect() {
    local server_port=$1 what=$2 lport out
    lport=$(free_udp_port) || fail "no free UDP port"
    out=$(timeout $((WAIT_S + 2)) "$PAVE" stun-probe --server "127.0.0.1:$server_port" \
        --bind "127.0.0.1:$lport" --timeout-ms $((WAIT_S * 1000)) 2>"$WORK/probe.log")
    local rc=$?
    echo "$out" >>"$WORK/probe.log"
    [ $rc -eq 0 ] || fail "$what: pave stun-probe exited $rc"
    local mapped
    mapped=$(echo "$out" | sed -n 's/^mapped \(.*\)$/\1/p' | head -n 1)
    [ "$mapped" = "127.0.0.1:$lport" ] || fail "$what: pave stun-probe reported '$mapped', expected 127.0.0.1:$lport"
}

check_client() {
    [ -x "$PAVE" ] || fail "client: pave binary '$PAVE' not executable"
    pave_probe_expect "$TURN_PORT" "client"
    # Nothing listens on a fresh port: the probe must fail, not invent an address.
    local dead lport
    dead=$(free_udp_port) || fail "no free UDP port"
    lport=$(free_udp_port) || fail "no free UDP port"
    timeout $((WAIT_S + 2)) "$PAVE" stun-probe --server "127.0.0.1:$dead" --bind "127.0.0.1:$lport" \
        --timeout-ms 1000 >"$WORK/probe-dead.log" 2>&1
    local rc=$?
    [ $rc -ne 0 ] || fail "client: pave stun-probe succeeded with no server"
    [ $rc -ne 124 ] || fail "client: pave stun-probe did not give up within its timeout"
}

check_server() {
    [ -x "$PAVE" ] || fail "server: pave binary '$PAVE' not executable"
    local port state args _ pid
    port=$(free_udp_port) || fail "no free UDP port"
    state="$WORK/state"
    mkdir -p "$state"
    "$PAVE" --state-dir "$state" identity create >/dev/null 2>&1 || fail "server: pave identity create failed"
    args=${PAVE_NODE_ARGS//\{PORT\}/$port}
    args=${args//\{STATE\}/$state}
    # shellcheck disable=SC2086 # args is a word list on purpose
    "$PAVE" $args >"$WORK/pave-node.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || fail "server: pave node exited early"
        udp_listening "$port" && break
        sleep 0.1
    done
    udp_listening "$port" || fail "server: pave node is not listening on 127.0.0.1:$port"

    local got
    got=$(coturn_probe "$port") || fail "server: turnutils_stunclient got no answer from pave"
    [[ "$got" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "server: pave answered coturn with '$got'"

    # CHANGE-REQUEST is comprehension-required and not implemented: a 420 (class/number 4/20)
    # with UNKNOWN-ATTRIBUTES listing 0x0003, same transaction id, never a success.
    local tx=000102030405060708090a0b reply
    reply=$(raw_exchange "$port" "000100082112a442${tx}0003000400000000")
    [[ "$reply" == "0111"????"2112a442${tx}"* ]] || fail "server: CHANGE-REQUEST answered with '${reply:-nothing}', expected a 420"
    [[ "$reply" == *00000414* ]] || fail "server: CHANGE-REQUEST answer has no ERROR-CODE 420: $reply"
    [[ "$reply" == *000a00020003* ]] || fail "server: CHANGE-REQUEST answer does not list 0x0003: $reply"
    # A wrong magic cookie is not STUN: no answer at all.
    reply=$(raw_exchange "$port" "000100002112a443${tx}")
    [ -z "$reply" ] || fail "server: answered a request with a wrong magic cookie: $reply"

    pave_probe_expect "$port" "server"
    kill -0 "$pid" 2>/dev/null || fail "server: pave node died during the test"
}

need turnserver
need turnutils_stunclient
need ss
need timeout
need socat
need od

case "$MODE" in
coturn | client | server | all) ;;
*)
    echo "usage: $0 PAVE_BINARY coturn|client|server|all" >&2
    echo "FAIL bad mode '$MODE'"
    exit 1
    ;;
esac

if [ "$MODE" != server ]; then
    start_coturn
    check_coturn
fi
case "$MODE" in
client) check_client ;;
server) check_server ;;
all)
    check_client
    check_server
    ;;
esac

echo "PASS stun_interop"
exit 0
