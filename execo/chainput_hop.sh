#!/bin/sh
# execo ChainPut: one link of the chain  localhost -> host1 -> host2 -> ... -> hostN
#
# Shipped with execo (execo/chainput_hop.sh) and run by
# execo.chainput.ChainPut as "sh -c SCRIPT execo-chainput ARGS...": locally
# for the sender, and on each remote host (through ssh) for the receivers.
# Users are not expected to run it by hand.
#
# Needs a Bourne shell, netcat, tar, tee, mkfifo, find and sha256sum (or
# shasum). The netcat options used are those of netcat-traditional:
#   server: NC -l -p PORT [-w SERVER_TIMEOUT]      client: NC -w TIMEOUT -q 0 ADDRESS PORT
#
# usage:
#   send NC CLIENT_TIMEOUT HOST_RETRY TRY_DELAY "ADDR PORT ADDR PORT ..." DIR BASE [DIR BASE]...
#     tar DIR/BASE... (symbolic links followed, as scp does) and send the
#     stream to the first reachable ADDR PORT.
#   recv NC CLIENT_TIMEOUT SERVER_TIMEOUT HOST_RETRY TRY_DELAY SELF PORT "ADDR PORT ..." DEST
#     listen on PORT (every address) for one connection, forward the stream
#     as it arrives to the first reachable ADDR PORT, extract it into DEST
#     (created if needed) and check every file against the sender's sums.
#   SERVER_TIMEOUT 0: no timeout. Each ADDR PORT is tried HOST_RETRY times,
#   TRY_DELAY seconds apart, before the next one is tried.
#
# Every argument is data: file names, DEST and the addresses are only ever
# expanded between double quotes, given after "--" or as "./name", never
# evaluated.
#
# The stream: a header line "execo-chainput-stream 1 N", the N lines of the
# sender's sha256sum output for every regular file sent ("SUM  ./path"),
# then a tar archive. A receiver forwards the stream byte for byte, only
# once it has seen a valid header (a hop that received nothing never
# connects to the next one).
#
# Exit codes: 0 ok; 1 nothing could be sent (sender); 2 usage; 3 nothing
# received; 4 not an execo-chainput stream; 5 tar failed; 6 checksum
# mismatch; 7 local file or directory problem; 127 command not found.
# Messages: stderr, prefixed by "execo-chainput[SELF]:". A receiver prints
# "execo-chainput-ready PORT" on stdout just before it listens.

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

# forward "ADDR PORT ADDR PORT ...": send stdin to the first reachable
# candidate. A netcat which could not connect has read nothing from stdin,
# so the next try sends the whole stream. Stdin is always read to its end
# (the hops upstream never block on this one). Returns 0 if sent.
forward() {
    set -- $1
    while [ $# -ge 2 ]; do
        addr=$1
        port=$2
        shift 2
        try=1
        while :; do
            if $nc -w "$client_timeout" -q 0 "$addr" "$port" >/dev/null; then
                log "sent to $addr port $port"
                cat >/dev/null
                return 0
            fi
            log "could not send to $addr port $port (try $try/$host_retry)"
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
    [ $# -ge 7 ] || die 2 "usage: send NC CLIENT_TIMEOUT HOST_RETRY TRY_DELAY CANDIDATES DIR BASE..."
    nc=$1 client_timeout=$2 host_retry=$3 delay=$4 candidates=$5
    shift 5
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
        printf 'execo-chainput-stream 1 %d\n' "$count"
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
    if ! IFS=' ' read -r magic version count && [ -z "$magic" ]; then
        echo stop > "$tmp/gate"
        if [ "$server_timeout" -gt 0 ]; then
            log "nothing received on port $port within ${server_timeout}s (previous hosts of the chain unreachable?)"
        else
            log "nothing received on port $port"
        fi
        return 3
    fi
    case $count in
        ''|*[!0-9]*) magic= ;;
    esac
    if [ "$magic" != execo-chainput-stream ] || [ "$version" != 1 ]; then
        echo stop > "$tmp/gate"
        cat >/dev/null
        log "unexpected data received on port $port: not an execo-chainput stream"
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

recv() {
    [ $# -eq 9 ] || die 2 "usage: recv NC CLIENT_TIMEOUT SERVER_TIMEOUT HOST_RETRY TRY_DELAY SELF PORT CANDIDATES DEST"
    nc=$1 client_timeout=$2 server_timeout=$3 host_retry=$4 delay=$5 me=$6 port=$7 candidates=$8 dest=$9
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
    mkfifo "$tmp/fwd" "$tmp/gate" || die 7 "mkfifo failed in $tmp"
    gated_forward < "$tmp/fwd" &
    forwarder=$!
    wopt=
    [ "$server_timeout" -gt 0 ] && wopt="-w $server_timeout"
    echo "execo-chainput-ready $port"
    $nc -l -p "$port" $wopt < /dev/null | tee "$tmp/fwd" | consume &
    wait $!
    status=$?
    case $status in
        0|5) ;;  # the forwarder got "go": let it send the end of the stream
        *) kill "$forwarder" 2>/dev/null ;;  # it has nothing to send (and
           # may still wait for a word from consume, if consume was killed)
    esac
    wait "$forwarder"
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
