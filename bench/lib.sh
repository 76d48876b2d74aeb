# lib.sh - shell helpers the HTTP benchmarks share (scripts/bench-ingest,
# scripts/bench-e2e, scripts/bench-delivery); sourced, never run. The
# caller sets bench_name (for messages) and bin (the trackway binary)
# first. Nothing here starts a process that outlives the caller: the
# pids it starts are left in server_pid, nginx_pid and wrk_pid, which
# the scripts' cleanup ends with stop_pid.

# The helpers of bench/ingest/harness.py this file calls.
lib_ingest_harness=(/usr/bin/python3 bench/ingest/harness.py)
lib_echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so

fail() {
    echo "$bench_name: $*" >&2
    exit 1
}

# parse_options USAGE_FN "NAME ..." ARGS...: each --NAME VALUE among ARGS
# sets the variable NAME (dashes become underscores); -h and --help print
# USAGE_FN's text and exit; anything else is a usage error (exit 2).
parse_options() {
    local usage_fn=$1 names=" $2 " name
    shift 2
    while (($# > 0)); do
        case "$1" in
        -h | --help)
            "$usage_fn"
            exit 0
            ;;
        --*)
            if [[ "$names" != *" ${1#--} "* ]]; then
                echo "$bench_name: unknown argument $1" >&2
                "$usage_fn" >&2
                exit 2
            fi
            if (($# < 2)); then
                echo "$bench_name: $1 needs a value" >&2
                exit 2
            fi
            name=${1#--}
            printf -v "${name//-/_}" '%s' "$2"
            shift 2
            ;;
        *)
            echo "$bench_name: unknown argument $1" >&2
            "$usage_fn" >&2
            exit 2
            ;;
        esac
    done
}

# Exits 2 unless each named variable holds a positive whole number.
check_counts() {
    local v
    for v in "$@"; do
        if [[ ! "${!v}" =~ ^[1-9][0-9]*$ ]]; then
            echo "$bench_name: --${v//_/-} must be a positive whole" \
                "number, not '${!v}'" >&2
            exit 2
        fi
    done
}

# Exits unless the binary and the benchmark packages are there.
check_tools() {
    local tool
    if [[ ! -x "$bin" ]]; then
        fail "$bin is not built; run 'make build' first."
    fi
    for tool in wrk nginx /usr/bin/python3; do
        if ! command -v "$tool" >/dev/null; then
            fail "$tool is missing; run scripts/setup bench as root."
        fi
    done
    if [[ ! -e "$lib_echo_module" ]]; then
        fail "$lib_echo_module is missing (libnginx-mod-http-echo);" \
            "run scripts/setup bench as root."
    fi
}

# The machine, the versions and the data directory's filesystem; warns
# when it is tmpfs, where fdatasync costs nothing.
describe_machine() {
    local dir=$1 fstype
    echo "machine: $(nproc) cpus, $(uname -srm)," \
        "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "versions: $("$bin" --version 2>/dev/null | head -1 ||
        echo trackway), $(nginx -v 2>&1 | sed 's/^nginx version: //')," \
        "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
    fstype=$(stat -f -c %T "$dir")
    echo "data dir: $dir on $fstype, $(df -P "$dir" |
        awk 'NR == 2 {printf "%.1f GB free", $4 * 1024 / 1e9}')"
    if [[ "$fstype" == tmpfs ]]; then
        echo "WARNING: $dir is tmpfs: fdatasync costs nothing there, so" \
            "the trackway figures would mean little"
    fi
}

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

# start_trackway DIR CONFIG_FN [ARGS...]: writes DIR/trackway.yaml from
# CONFIG_FN ARGS... and starts `trackway serve` on it (again, when DIR
# held a server before); sets server_pid, server_fd and port.
start_trackway() {
    local dir=$1 line
    shift
    mkdir -p "$dir"
    "$@" >"$dir/trackway.yaml"
    rm -f "$dir/stdout"
    mkfifo "$dir/stdout"
    show "$bin" serve -c "$dir/trackway.yaml"
    TRACKWAY_LOG_LEVEL=warn "$bin" serve -c "$dir/trackway.yaml" \
        >"$dir/stdout" 2>"$dir/stderr" &
    server_pid=$!
    exec {server_fd}<"$dir/stdout"
    # Its one line of stdout is the readiness signal; EOF means it died.
    if ! read -r -t 60 -u "$server_fd" line ||
        [[ ! "$line" =~ listening\ on\ http://127\.0\.0\.1:([0-9]+) ]]; then
        echo "$bench_name: trackway serve did not start:" >&2
        cat "$dir/stderr" >&2
        exit 1
    fi
    port=${BASH_REMATCH[1]}
}

stop_trackway() {
    stop_pid "$server_pid"
    server_pid=
    if [[ -n "$server_fd" ]]; then
        exec {server_fd}<&-
        server_fd=
    fi
}

# start_nginx DIR WORKERS [BODY_LIMIT]: nginx from bench/ingest/nginx.conf.in
# in a fresh prefix DIR on a free loopback port, reading each body and
# answering 200; BODY_LIMIT (e.g. 4m) raises its body limit and buffer so
# larger bodies stay in memory. Sets nginx_pid and nginx_port.
start_nginx() {
    local dir=$1 workers=$2 body=${3:-} try
    local -a edits=()
    if [[ -n "$body" ]]; then
        edits=(-e "s|client_max_body_size .*;|client_max_body_size $body;|"
            -e "s|client_body_buffer_size .*;|client_body_buffer_size $body;|")
    fi
    for try in 1 2 3 4 5; do
        rm -rf "$dir"
        mkdir -p "$dir"
        nginx_port=$("${lib_ingest_harness[@]}" free-port)
        sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$nginx_port|g" \
            -e "s|@WORKERS@|$workers|g" -e "s|@MODULE@|$lib_echo_module|g" \
            "${edits[@]}" bench/ingest/nginx.conf.in >"$dir/nginx.conf"
        show nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
        nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
            >"$dir/stdout" 2>&1 &
        nginx_pid=$!
        if "${lib_ingest_harness[@]}" wait-http \
            "http://127.0.0.1:$nginx_port/" "$nginx_pid" 30; then
            return 0
        fi
        wait "$nginx_pid" 2>/dev/null || true
        nginx_pid=
        # Another process may have taken the port between the two steps.
        if ! grep -q "Address already in use" "$dir/error.log" 2>/dev/null; then
            break
        fi
    done
    echo "$bench_name: nginx did not start:" >&2
    cat "$dir/error.log" "$dir/stdout" >&2 2>/dev/null || true
    exit 1
}

stop_nginx() {
    stop_pid "$nginx_pid"
    nginx_pid=
}

# run_wrk OUT CMD...: runs a wrk command line in the background (so that
# cleanup can stop it), waits for it, and prints its output indented.
run_wrk() {
    local out=$1 rc=0
    shift
    show "$@"
    "$@" >"$out" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || rc=$?
    wrk_pid=
    sed 's/^/    /' "$out"
    if ((rc != 0)); then
        fail "wrk failed (exit $rc)"
    fi
}
