#!/bin/sh
# execo ChainPut: one link of the chain  localhost -> host1 -> host2 -> ... -> hostN
#
# Shipped with execo (execo/chainput_hop.sh) and run by
# execo.chainput.ChainPut as "sh -c SCRIPT execo-chainput ARGS...": locally
# for the sender, and on each remote host (through ssh) for the receivers.
# Users are not expected to run it by hand.
#
# Needs a Bourne shell, netcat, tar, tee, mkfifo, find and sha256sum (or
# shasum); to tell when netcat listens without its -v messages, awk and
# /proc/net/tcp, ss or netstat. The netcat options used are those of
# netcat-traditional:
#   server: NC -l -p PORT [-w SERVER_TIMEOUT]      client: NC -w TIMEOUT -q 0 ADDRESS PORT
#
# usage:
#   send NC CLIENT_TIMEOUT HOST_RETRY TRY_DELAY TOKEN "ADDR PORT ADDR PORT ..." DIR BASE [DIR BASE]...
#     tar DIR/BASE... (symbolic links followed, as scp does) and send the
#     stream to the first reachable ADDR PORT.
#   recv NC CLIENT_TIMEOUT SERVER_TIMEOUT HOST_RETRY TRY_DELAY TOKEN SELF PORT "ADDR PORT ..." DEST
#     listen on PORT (every address) for one connection, forward the stream
#     as it arrives to the first reachable ADDR PORT, extract it into DEST
#     (created if needed) and check every file against the sender's sums.
#   SERVER_TIMEOUT 0: no timeout. Each ADDR PORT is tried HOST_RETRY times,
#   TRY_DELAY seconds apart, before the next one is tried. TOKEN: a word
#   telling this transfer's hops from anything else listening on a port.
#
# Every argument is data: file names, DEST and the addresses are only ever
# expanded between double quotes, given after "--" or as "./name", never
# evaluated.
#
# The connection: a receiver's netcat first says "execo-chainput-hello 2
# TOKEN"; a hop sends the stream only after it read that line. Another
# program listening on the port (or a receiver of another transfer) thus
# never gets the files: the hop tries the next host. A receiver prints
# "execo-chainput-ready PORT" only once its netcat listens on PORT (netcat's
# own "listening" message, or the port seen listening in /proc/net/tcp, ss
# or netstat); a port another program already listens on fails it (exit 8).
#
# The stream: a header line "execo-chainput-stream 2 N TOKEN", the N lines
# of the sender's sha256sum output for every regular file sent ("SUM
# ./path"), then a tar archive. A receiver forwards the stream byte for
# byte, only once it has seen a valid header (a hop that received nothing
# never connects to the next one).
#
# Exit codes: 0 ok; 1 nothing could be sent (sender); 2 usage; 3 nothing
# received; 4 not an execo-chainput stream; 5 tar failed; 6 checksum
# mismatch; 7 local file or directory problem; 8 cannot listen on PORT (in
# use); 127 command not found. Messages: stderr, prefixed by
# "execo-chainput[SELF]:".

set -f
# a closed stdout/stderr (ssh session gone) must not kill a hop midway: the
# hosts after it still need the stream, and the temporary directory must
# still be removed
trap '' PIPE
me=localhost
tmp=

log() {
    printf 'execo-chainput[%s]: %s\n' "$me" "$*" >&2
}

die() {
    code=$1
    shift
    log "$*"
    exit "$code"
}

cleanup() {
    if [ -n "$tmp" ]; then
        # what the listening netcat said (-v: its connections)
        [ -s "$tmp/nc_err" ] && cat "$tmp/nc_err" >&2
        rm -rf "$tmp"
    fi
}

# killed (ssh hangup, execo's kill): stop the whole process group, remove the
# temporary directory. Long steps run in the background with "wait", which
# (unlike a foreground command) a trapped signal interrupts at once.
on_signal() {
    trap '' HUP INT TERM
    kill -TERM 0 2>/dev/null
    exit "$1"
}

install_traps() {
    trap cleanup EXIT
    trap 'on_signal 129' HUP
    trap 'on_signal 130' INT
    trap 'on_signal 143' TERM
}

make_tmp() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/execo-chainput.XXXXXX" 2>/dev/null)
    if [ -z "$tmp" ]; then
        tmp="${TMPDIR:-/tmp}/execo-chainput.$$"
        mkdir -m 700 "$tmp" || { tmp=; die 7 "cannot create a temporary directory in ${TMPDIR:-/tmp}"; }
    fi
}

first_word() {
    printf '%s' "$1"
}

need() {
    # need CMD WHAT: exit 127 unless CMD can be run
    case $1 in
        */*) [ -f "$1" ] && [ -x "$1" ] ;;
        *) command -v "$1" >/dev/null 2>&1 ;;
    esac || die 127 "$2 '$1' not found on $me"
}

check_tools() {
    [ -n "$nc" ] || die 2 "empty netcat command"
    need "$(first_word $nc)" "netcat command (execo connection param 'nc')"
    for c in tar tee mkfifo find; do
        need "$c" "command"
    done
    if command -v sha256sum >/dev/null 2>&1; then
        sum=sha256sum
    elif command -v shasum >/dev/null 2>&1; then
        sum="shasum -a 256"
    else
        die 127 "neither sha256sum nor shasum found on $me"
    fi
}

pause() {
    sleep "$delay" 2>/dev/null || sleep 1
}

# a tenth of a second (a second where sleep takes whole seconds only:
# ticks counts tenths)
ticks=1
short_pause() {
    sleep 0.1 2>/dev/null || { sleep 1; ticks=10; }
}

# port_listening PORT: 0 if a TCP socket listens on PORT (any address), 1 if
# none does, 2 if this cannot be told here
port_listening() {
    command -v awk >/dev/null 2>&1 || return 2
    if [ -r /proc/net/tcp ]; then
        # "sl local_address rem_address st ...": LISTEN is st 0A
        cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p="$(printf '%04X' "$1")" '
            $4 == "0A" { n = split($2, a, ":"); if (toupper(a[n]) == p) f = 1 }
            END { exit f ? 0 : 1 }'
        return $?
    fi
    for lister in "ss -ltn" "netstat -an"; do
        listing=$($lister 2>/dev/null) || continue
        [ -n "$listing" ] || continue
        # the local address is the 4th field of both: ADDR:PORT, ADDR.PORT
        printf '%s\n' "$listing" | awk -v p="$1" '
            /LISTEN/ { n = split($4, a, /[:.]/); if (a[n] == p) f = 1 }
            END { exit f ? 0 : 1 }'
        return $?
    done
    return 2
}

# send_to ADDR PORT: send stdin to ADDR PORT, once the receiver there said
# hello with this transfer's token. Returns 0 sent; 1 could not connect
# (nothing read from stdin); 2 something else answered there, or nothing
# within the client timeout (nothing read from stdin); 3 failed midway.
send_to() {
    rm -f "$tmp/to" "$tmp/from" "$tmp/no_hello"
    mkfifo "$tmp/to" "$tmp/from" || return 1
    $nc -w "$client_timeout" -q 0 "$1" "$2" < "$tmp/to" > "$tmp/from" &
    ncpid=$!
    exec 4> "$tmp/to" 5< "$tmp/from"
    # a listener which never says hello: give up after the client timeout
    { sleep $((client_timeout + 1)); : > "$tmp/no_hello"; kill "$ncpid"; } \
        < /dev/null > /dev/null 2>&1 4>&- 5<&- &
    watchdog=$!
    hello=
    IFS= read -r hello <&5
    kill "$watchdog" 2>/dev/null
    if [ "$hello" != "execo-chainput-hello 2 $token" ]; then
        exec 4>&- 5<&-
        kill "$ncpid" 2>/dev/null
        wait "$ncpid"
        if [ -n "$hello" ] || [ -e "$tmp/no_hello" ]; then
            return 2
        fi
        return 1
    fi
    cat <&5 > /dev/null 4>&- &
    drain=$!
    exec 5<&-
    cat >&4
    copied=$?
    exec 4>&-
    wait "$ncpid"
    nc_status=$?
    wait "$drain"
    [ $copied -eq 0 ] && [ $nc_status -eq 0 ] && return 0
    return 3
}

# forward "ADDR PORT ADDR PORT ...": send stdin to the first reachable
# candidate. A try which could not connect (or found another program
# there) has read nothing from stdin, so the next try sends the whole
# stream. Stdin is always read to its end (the hops upstream never block
# on this one). Returns 0 if sent.
forward() {
    set -- $1
    while [ $# -ge 2 ]; do
        to_addr=$1
        to_port=$2
        shift 2
        try=1
        while :; do
            send_to "$to_addr" "$to_port"
            case $? in
                0)
                    log "sent to $to_addr port $to_port"
                    cat >/dev/null
                    return 0 ;;
                2)
                    log "$to_addr port $to_port is not a receiver of this transfer (another program listens there?): skipped"
                    break ;;
                3)
                    log "sending to $to_addr port $to_port failed midway"
                    cat >/dev/null
                    return 1 ;;
            esac
            log "could not send to $to_addr port $to_port (try $try/$host_retry)"
            [ "$try" -ge "$host_retry" ] && break
            try=$((try + 1))
            pause
        done
    done
    cat >/dev/null
    return 1
}

# ------------------------------------------------------------------ sender

send() {
    [ $# -ge 8 ] || die 2 "usage: send NC CLIENT_TIMEOUT HOST_RETRY TRY_DELAY TOKEN CANDIDATES DIR BASE..."
    nc=$1 client_timeout=$2 host_retry=$3 delay=$4 token=$5 candidates=$6
    shift 6
    check_tools
    make_tmp
    install_traps
    # sums of every regular file, paths as they are in the archive
    : > "$tmp/manifest"
    n=$#
    while [ $n -ge 2 ]; do
        dir=$1 base=$2
        shift 2
        n=$((n - 2))
        [ -e "$dir/$base" ] || die 7 "no such local file: $dir/$base"
        [ -r "$dir/$base" ] || die 7 "local file not readable: $dir/$base"
        (cd "$dir" && find -L "./$base" -type f -exec $sum {} +) >> "$tmp/manifest" \
            || die 7 "cannot compute the checksums of $dir/$base"
        set -- "$@" -C "$dir" "./$base"
    done
    [ -n "$candidates" ] || die 1 "no receiver to send to (no remote host ready)"
    count=$(wc -l < "$tmp/manifest")
    count=$((count + 0))
    {
        printf 'execo-chainput-stream 2 %d %s\n' "$count" "$token"
        cat "$tmp/manifest"
        tar -c -h -f - "$@"
        echo $? > "$tmp/tar_status"
    } | forward "$candidates" &
    wait $!
    sent=$?
    tar_status=$(cat "$tmp/tar_status" 2>/dev/null)
    [ "$tar_status" = 0 ] || die 5 "tar of the local files failed (status ${tar_status:-unknown})"
    [ $sent -eq 0 ] || die 1 "no receiver reachable among: $candidates"
    exit 0
}

# ---------------------------------------------------------------- receiver

# the stream from tee: read the header, open the gate of the forwarder,
# extract. Always reads its stdin to the end.
consume() {
    magic=
    if ! IFS=' ' read -r magic version count stream_token && [ -z "$magic" ]; then
        echo stop > "$tmp/gate"
        return 3    # recv says why
    fi
    case $count in
        ''|*[!0-9]*) magic= ;;
    esac
    if [ "$magic" != execo-chainput-stream ] || [ "$version" != 2 ] || [ "$stream_token" != "$token" ]; then
        echo stop > "$tmp/gate"
        cat >/dev/null
        log "unexpected data received on port $port: not this execo-chainput transfer's stream"
        return 4
    fi
    echo go > "$tmp/gate"
    i=0
    while [ $i -lt "$count" ] && IFS= read -r line; do
        printf '%s\n' "$line"
        i=$((i + 1))
    done > "$tmp/manifest"
    if [ $i -ne "$count" ]; then
        cat >/dev/null
        log "stream truncated in its header"
        return 4
    fi
    (cd "$dest" && tar -x -o -f -)
    tar_status=$?
    cat >/dev/null
    if [ $tar_status -ne 0 ]; then
        log "extraction into $shown_dest failed (tar status $tar_status)"
        return 5
    fi
    return 0
}

gated_forward() {
    go=
    read -r go < "$tmp/gate"
    if [ "$go" = go ] && [ -n "$candidates" ]; then
        forward "$candidates" || log "could not forward to any of the next hosts (${candidates:-none}): they will not receive the files"
    else
        cat >/dev/null
    fi
}

port_in_use() {
    die 8 "port $port is already in use on $me (another program listens there): cannot receive"
}

# listen_failed: whether the listening netcat could not bind its port (it
# says "Address already in use", or another program listens there now)
listen_failed() {
    grep -qi "in use" "$tmp/nc_err" && return 0
    [ "$(cat "$tmp/nc_status" 2>/dev/null)" = 0 ] && return 1
    port_listening "$port"
}

# listen: start netcat listening on $port (in the background: $listener),
# what it receives going into the fifo $tmp/in (read end: fd 6); return
# once it listens. Exit 8 when it cannot: the port is in use (another
# program, or a receiver of another transfer), or netcat failed.
listen() {
    port_listening "$port"
    state=$?
    [ $state -eq 0 ] && port_in_use
    printf 'execo-chainput-hello 2 %s\n' "$token" > "$tmp/hello"
    : > "$tmp/nc_err"
    wopt=
    [ "$server_timeout" -gt 0 ] && wopt="-w $server_timeout"
    {
        $nc -l -p "$port" $wopt < "$tmp/hello" 2> "$tmp/nc_err" &
        echo $! > "$tmp/nc_pid"
        wait $!
        echo $? > "$tmp/nc_status"
    } > "$tmp/in" &
    listener=$!
    exec 6< "$tmp/in"
    waited=0
    while :; do
        # netcat.traditional retries a busy port for a while: it says so
        if [ -e "$tmp/nc_status" ] || grep -qi "in use" "$tmp/nc_err"; then
            while [ ! -s "$tmp/nc_pid" ]; do short_pause; done
            kill "$(cat "$tmp/nc_pid")" 2>/dev/null
            exec 6<&-
            wait "$listener"
            listen_failed && port_in_use
            die 8 "netcat could not listen on port $port on $me: $(tail -n 1 "$tmp/nc_err")"
        fi
        # netcat -v says so; else the port is seen listening (it was not
        # before); else, when nothing can tell, netcat still runs after a while.
        # (A program taking the port in between is seen below, or at worst
        # gets nothing: it cannot answer the hello.)
        if grep -qi listening "$tmp/nc_err" ||
            { [ $state -eq 1 ] && port_listening "$port"; } ||
            { [ $state -eq 2 ] && [ $waited -ge 20 ]; } ||
            [ $waited -ge 300 ]; then
            [ -e "$tmp/nc_status" ] || grep -qi "in use" "$tmp/nc_err" || return 0
        fi
        short_pause
        waited=$((waited + ticks))
    done
}

recv() {
    [ $# -eq 10 ] || die 2 "usage: recv NC CLIENT_TIMEOUT SERVER_TIMEOUT HOST_RETRY TRY_DELAY TOKEN SELF PORT CANDIDATES DEST"
    nc=$1 client_timeout=$2 server_timeout=$3 host_retry=$4 delay=$5 token=$6 me=$7 port=$8 candidates=$9
    shift 9
    dest=$1
    check_tools
    case $dest in
        "~") dest=$HOME ;;
        "~/"*) dest=$HOME/${dest#"~/"} ;;
    esac
    # a relative name starting with "-" is not an option of cd (the
    # messages keep the name as given)
    shown_dest=$dest
    case $dest in
        /*) ;;
        *) dest=./$dest ;;
    esac
    mkdir -p -- "$dest" 2>/dev/null
    [ -d "$dest" ] && [ -w "$dest" ] || die 7 "destination directory $shown_dest cannot be created or is not writable"
    make_tmp
    install_traps
    mkfifo "$tmp/in" "$tmp/fwd" "$tmp/gate" || die 7 "mkfifo failed in $tmp"
    listen
    gated_forward < "$tmp/fwd" 6<&- &
    forwarder=$!
    echo "execo-chainput-ready $port"
    tee "$tmp/fwd" <&6 | consume 6<&- &
    exec 6<&-
    wait $!
    status=$?
    case $status in
        0|5) ;;  # the forwarder got "go": let it send the end of the stream
        *) kill "$forwarder" 2>/dev/null ;;  # it has nothing to send (and
           # may still wait for a word from consume, if consume was killed)
    esac
    wait "$forwarder"
    wait "$listener"
    if [ $status -eq 3 ]; then
        listen_failed && port_in_use
        if [ "$server_timeout" -gt 0 ]; then
            log "nothing received on port $port within ${server_timeout}s (previous hosts of the chain unreachable?)"
        else
            log "nothing received on port $port"
        fi
        exit 3
    fi
    [ $status -eq 0 ] || exit $status
    if [ -s "$tmp/manifest" ]; then
        (cd "$dest" && $sum -c "$tmp/manifest") > "$tmp/check" 2>&1 &
        if ! wait $!; then
            log "checksum mismatch: the files in $shown_dest differ from the local ones:"
            grep -v ': OK$' "$tmp/check" >&2
            exit 6
        fi
    fi
    log "received and checked $(wc -l < "$tmp/manifest") file(s) in $shown_dest"
    exit 0
}

case $1 in
    send) shift; send "$@" ;;
    recv) shift; recv "$@" ;;
    *) die 2 "usage: send ... | recv ... (run by execo.chainput.ChainPut)" ;;
esac
