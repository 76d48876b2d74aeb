# lib.sh - shell helpers the HTTP benchmarks share (scripts/bench-ingest,
# scripts/bench-e2e); sourced, never run. Nothing here starts a process
# that outlives the caller: stop_pid is how the scripts' cleanup ends
# their own processes.

# Stops one process of ours: TERM, then KILL if it has not gone in 30 s.
stop_pid() {
    local pid=$1 watchdog
    kill -TERM "$pid" 2>/dev/null || return 0
    (
        sleep 30
        kill -KILL "$pid" 2>/dev/null
    ) &
    watchdog=$!
    wait "$pid" 2>/dev/null || true
    kill "$watchdog" 2>/dev/null || true
    wait "$watchdog" 2>/dev/null || true
}

# Prints a command as it can be pasted back into a shell.
show() {
    printf '$'
    printf ' %q' "$@"
    printf '\n'
}

# A server's own warnings and errors (it logs at warn and above here).
show_log() {
    if [[ -s "$2" ]]; then
        echo "    $1 said ($(wc -l <"$2") lines, the last 5):"
        tail -5 "$2" | sed 's/^/        /'
    fi
}

load_line() {
    local load cpu io
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    cpu=$(head -1 /proc/pressure/cpu 2>/dev/null | cut -d' ' -f2-4 || true)
    io=$(head -1 /proc/pressure/io 2>/dev/null | cut -d' ' -f2-4 || true)
    echo "load $1: loadavg $load; cpu pressure ${cpu:-n/a};" \
        "io pressure ${io:-n/a}"
}

# CPU clock ticks (user + system) of a process and its children.
cpu_ticks() {
    local total=0 pid
    for pid in "$1" $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}
