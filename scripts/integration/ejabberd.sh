#!/bin/bash
# Starts an ejabberd for tests in DIR, on loopback ports of its own, as a foreground child.
# usage: [PERCH_IT_PORT=N] ejabberd.sh DIR   start (runs in the foreground; stop with `ejabberd.sh DIR stop`)
#        ejabberd.sh DIR users    register the test users once the node is up
#        ejabberd.sh DIR CMD...   run any ejabberdctl command against that node
# Two virtual hosts share one node so both SCRAM variants are tested against one server:
#   perch.test          the default SCRAM-SHA-1 password storage
#   sha256.perch.test   auth_scram_hash: sha256, so ejabberd offers SCRAM-SHA-256 only
# Users perch, peer, operator, viewer, stranger, board1 and board2 on both, each with the password USER-secret, and
# unicode with "ﬁsh-é" (U+FB01 ligature, decomposed é): ejabberd stores the SCRAM keys of its NFKC
# form (Resourceprep), "fish-é" with U+00E9, as SASLprep gives too. c2s on PERCH_IT_PORT (STARTTLS, default
# 15232) and the port after it (direct TLS), with the test certificate from Tests/Fixtures/certs (it
# covers perch.test and *.perch.test). The Erlang distribution listens on 127.0.0.1, port
# PERCH_IT_PORT + 7, without epmd, so nothing outlives the node. Started again on the same DIR, it keeps
# its data (users included). PERCH_IT_HTTP_PORT=N adds XMPP over WebSocket (/ws), BOSH (/bosh) and
# XEP-0156 host-meta (/.well-known/host-meta, .json) on HTTP port N and HTTPS port N+1.
set -eu
mkdir -p "$1"
dir=$(cd "$1" && pwd)
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
ctl() {
    ejabberdctl --config-dir "$dir" --config "$dir/ejabberd.yml" --ctl-config "$dir/ejabberdctl.cfg" \
        --logs "$dir/logs" --spool "$dir/spool" "$@"
}
if [ "${1:-}" = users ]; then
    for host in perch.test sha256.perch.test; do
        for user in perch peer operator viewer stranger board1 board2; do
            ctl register "$user" "$host" "$user-secret"
        done
        ctl register unicode "$host" "$(printf '\357\254\201sh-e\314\201')"
    done
    exit
elif [ $# -gt 0 ]; then
    ctl "$@"
    exit
fi

port=${PERCH_IT_PORT:-15232}
mkdir -p "$dir/spool" "$dir/logs"
cat "$root/Tests/Fixtures/certs/server.pem" "$root/Tests/Fixtures/certs/server.key" > "$dir/server.pem"
printf '{file, resolv, "/etc/resolv.conf"}.\n{lookup, [file, native]}.\n' > "$dir/inetrc"
chmod 600 "$dir/server.pem"
cp "$root/Tests/Fixtures/certs/ca.pem" "$dir/ca.pem"
cat > "$dir/ejabberdctl.cfg" <<CFG
ERLANG_NODE=perch-it-$port@localhost
ERL_DIST_PORT=$((port + 7))
ERL_EPMD_ADDRESS=127.0.0.1
INET_DIST_INTERFACE=127.0.0.1
EJABBERD_PID_PATH=$dir/ejabberd.pid
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
CFG
http=${PERCH_IT_HTTP_PORT:-}
httplisten=''
httpmodules=''
if [ -n "$http" ]; then
    for p in "$http" "$((http + 1))"; do
        httplisten="$httplisten
  - port: $p
    ip: \"127.0.0.1\"
    module: ejabberd_http
    tls: $([ "$p" = "$http" ] && echo false || echo true)
    request_handlers:
      /ws: ejabberd_http_ws
      /bosh: mod_bosh
      /.well-known/host-meta: mod_host_meta
      /.well-known/host-meta.json: mod_host_meta"
    done
    httpmodules="
  mod_bosh: {}
  mod_host_meta:
    bosh_service_url: \"https://localhost:$((http + 1))/bosh\"
    websocket_url: \"wss://localhost:$((http + 1))/ws\""
fi
cat > "$dir/ejabberd.yml" <<CFG
hosts:
  - perch.test
  - sha256.perch.test
loglevel: info
certfiles:
  - "$dir/server.pem"
ca_file: "$dir/ca.pem"
listen:
  - port: $port
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    access: c2s
    starttls_required: true
  - port: $((port + 1))
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    access: c2s
    tls: true$httplisten
s2s_use_starttls: required
auth_method: internal
auth_password_format: scram
host_config:
  sha256.perch.test:
    auth_scram_hash: sha256
acl:
  local:
    user_regexp: ""
access_rules:
  c2s:
    allow: all
  local:
    allow: local
  pubsub_createnode:
    allow: local
modules:$httpmodules
  mod_caps: {}
  mod_disco: {}
  mod_ping: {}
  mod_privacy: {}
  mod_pubsub:
    access_createnode: pubsub_createnode
    plugins:
      - flat
      - pep
  mod_blocking: {}
  mod_muc:
    host: "conference.@HOST@"
    access_create: all
    history_size: 20
    default_room_options:
      mam: false
  mod_roster:
    versioning: true
  mod_stream_mgmt:
    resend_on_timeout: if_offline
  mod_time: {}
  mod_version:
    show_os: false
CFG
# Run as root, ejabberdctl switches to the 'ejabberd' user: give it the directory.
if [ "$(id -u)" -eq 0 ] && id ejabberd >/dev/null 2>&1; then chown -R ejabberd:ejabberd "$dir"; fi
exec bash -c "$(declare -f ctl); dir='$dir'; ctl foreground"
