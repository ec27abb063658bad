#!/usr/bin/env bash
# Durable SMTP ingest of mailcx-server against Postfix's smtp-sink (which discards mail: the
# machine's SMTP ceiling), in one run with the same smtp-source load. Three cases, each run
# REPS times, medians printed:
#   c8 new   8 sessions, a new connection per message
#   c8 kept  8 sessions, connection kept
#   c1 kept  1 session, connection kept
# Per case: messages/s, server CPU ms per 1,000 messages (utime+stime from /proc), and the
# ratio of mailcx to smtp-sink. Every mailcx run checks afterwards that every message is stored.
#
# Usage: tests/bench/ingest-vs-smtp-sink.sh        (env: MESSAGES=10000 C1_MESSAGES=3000 REPS=3;
#        MAILCX_SERVER=path/to/mailcx-server runs that binary instead of building the release one)
# Installs postfix (for smtp-source and smtp-sink) from Debian if missing, then makes sure no
# system MTA is left running or listening. Needs root for that step only.
set -euo pipefail

MESSAGES=${MESSAGES:-10000}
C1_MESSAGES=${C1_MESSAGES:-3000}
REPS=${REPS:-3}
# smtp-source's headers plus a 5,022-byte body: 5,159 bytes as stored, as in issue 12.
BODY_BYTES=5022
RCPT=bench@mail.cx

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
server_pid=""
sink_pid=""

cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

say() { echo "$*" >&2; }

# Postfix's tools, without Postfix itself left running: the package starts its MTA on port 25.
install_tools() {
    if ! command -v smtp-source >/dev/null || ! command -v smtp-sink >/dev/null || ! command -v sqlite3 >/dev/null; then
        say "installing postfix (smtp-source, smtp-sink) and sqlite3 from Debian"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y postfix sqlite3 >/dev/null 2>&1 ||
            { apt-get update >/dev/null && apt-get install -y postfix sqlite3 >/dev/null; }
    fi
    PATH=$PATH:/usr/sbin
    postfix stop >/dev/null 2>&1 || true
    service postfix stop >/dev/null 2>&1 || true
    local master=/var/spool/postfix/pid/master.pid
    if [ -f "$master" ]; then
        kill "$(tr -d ' ' <"$master")" 2>/dev/null || true
    fi
    for _ in $(seq 50); do
        ss -ltnH 'sport = :25' | grep -q . || return 0
        sleep 0.1
    done
    say "something still listens on port 25:"
    ss -ltnp 'sport = :25' >&2
    exit 1
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# utime+stime of process $1 in milliseconds.
cpu_ms() {
    local ticks
    ticks=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
    echo $((ticks * 1000 / $(getconf CLK_TCK)))
}

now_ns() { date +%s%N; }

# Runs smtp-source against port $1 with the case's flags $2 and count $3; prints elapsed ns.
load() {
    local port=$1 flags=$2 count=$3 start end
    start=$(now_ns)
    # shellcheck disable=SC2086
    smtp-source $flags -m "$count" -l "$BODY_BYTES" -f sender@example.org -t "$RCPT" \
        -M bench.example.org "127.0.0.1:$port" >/dev/null
    end=$(now_ns)
    echo $((end - start))
}

# One smtp-sink run: prints "rate cpu_ms_per_1000".
run_sink() {
    local flags=$1 count=$2 port elapsed before after
    port=$(free_port)
    smtp-sink -u nobody "127.0.0.1:$port" 256 >/dev/null 2>&1 &
    sink_pid=$!
    wait_port "$port"
    before=$(cpu_ms "$sink_pid")
    elapsed=$(load "$port" "$flags" "$count")
    after=$(cpu_ms "$sink_pid")
    kill "$sink_pid"
    wait "$sink_pid" 2>/dev/null || true
    sink_pid=""
    report "$count" "$elapsed" $((after - before))
}

# One mailcx run on a fresh database: prints "rate cpu_ms_per_1000"; fails when mail was lost.
run_mailcx() {
    local flags=$1 count=$2 http smtp db elapsed before after stored
    http=$(free_port)
    smtp=$(free_port)
    db="$work/run-$RANDOM.db"
    "$server" --db "$db" --http-addr "127.0.0.1:$http" \
        --smtp-addr "127.0.0.1:$smtp" --domains mail.cx --retention 24h --quota 100000000000 \
        --rate-limit 0 --accounts-per-hour 0 >"$work/server.log" 2>&1 &
    server_pid=$!
    wait_port "$http"
    curl -sf -X POST "http://127.0.0.1:$http/api/accounts" -H 'content-type: application/json' \
        -d "{\"address\":\"$RCPT\",\"password\":\"benchmark\"}" >/dev/null
    before=$(cpu_ms "$server_pid")
    elapsed=$(load "$smtp" "$flags" "$count")
    after=$(cpu_ms "$server_pid")
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    stored=$(sqlite3 "$db" 'SELECT COUNT(*) FROM messages')
    if [ "$stored" -ne "$count" ]; then
        say "FAILURE: mailcx stored $stored of $count messages ($flags)"
        exit 1
    fi
    rm -f "$db" "$db"-*
    report "$count" "$elapsed" $((after - before))
}

wait_port() {
    for _ in $(seq 100); do
        ss -ltnH "sport = :$1" | grep -q . && return 0
        sleep 0.05
    done
    say "nothing listens on port $1"
    exit 1
}

# "rate cpu_ms_per_1000" from a count, elapsed ns and CPU ms.
report() {
    awk -v n="$1" -v ns="$2" -v cpu="$3" 'BEGIN { printf "%.0f %.0f\n", n / (ns / 1e9), cpu * 1000 / n }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

install_tools
server=${MAILCX_SERVER:-}
if [ -z "$server" ]; then
    say "building the release server"
    (cd "$root" && cargo build --release -q -p mailcx-server)
    server="$root/target/release/mailcx-server"
fi

printf '%-8s %12s %12s %7s %14s %14s %7s\n' case "sink msg/s" "mailcx msg/s" ratio \
    "sink cpu/1k" "mailcx cpu/1k" "cpu x"
for case in "c8 new|-s 8" "c8 kept|-s 8 -d" "c1 kept|-s 1 -d"; do
    name=${case%%|*}
    flags=${case#*|}
    count=$MESSAGES
    [ "$name" = "c1 kept" ] && count=$C1_MESSAGES
    : >"$work/sink" && : >"$work/mailcx"
    # Alternate the two within each rep, so a noisy moment hits both.
    for _ in $(seq "$REPS"); do
        run_sink "$flags" "$count" >>"$work/sink"
        run_mailcx "$flags" "$count" >>"$work/mailcx"
    done
    sink_rate=$(cut -d' ' -f1 "$work/sink" | median)
    sink_cpu=$(cut -d' ' -f2 "$work/sink" | median)
    mailcx_rate=$(cut -d' ' -f1 "$work/mailcx" | median)
    mailcx_cpu=$(cut -d' ' -f2 "$work/mailcx" | median)
    say "$name: sink $(cut -d' ' -f1 "$work/sink" | xargs) /s, mailcx $(cut -d' ' -f1 "$work/mailcx" | xargs) /s"
    awk -v name="$name" -v sr="$sink_rate" -v mr="$mailcx_rate" -v sc="$sink_cpu" -v mc="$mailcx_cpu" \
        'BEGIN { printf "%-8s %12d %12d %7.2f %11d ms %11d ms %7.2f\n", name, sr, mr, mr / sr, sc, mc, (sc > 0 ? mc / sc : 0) }'
done
