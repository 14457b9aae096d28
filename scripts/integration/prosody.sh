#!/bin/sh
# Starts a Prosody for tests in DIR, on loopback ports of its own, as a foreground child.
# usage: [PERCH_IT_PORT=N] prosody.sh DIR    (writes DIR/prosody.pid; stop with kill)
# Domain perch.test, users perch, peer, operator, viewer, stranger, board1 and board2, each with the password
# USER-secret, and unicode with a non-ASCII password that SASLprep changes (see below); c2s on PERCH_IT_PORT (STARTTLS,
# default 15222) and the port after it (direct TLS), with the test certificate from Tests/Fixtures/certs.
# Group chat (XEP-0045) at conference.perch.test; anyone may create rooms.
# Started again on the same DIR, it keeps its data: that is how the tests restart a server.
# PERCH_IT_PROSODY_OFFLINE=1 keeps Prosody's default mod_offline (for a test's own server only: what
# it stores for the device is delivered at every login).
# PERCH_IT_PROSODY_ADHOC=1 loads mod_adhoc (the demo: Profanity's /cmd refuses to run unless the
# user's server advertises ad-hoc commands itself, though the commands are the device's).
# PERCH_IT_HTTP_PORT=N adds XMPP over WebSocket (/xmpp-websocket) and BOSH (/http-bind) on HTTP port N
# and HTTPS port N+1 (plain HTTP counts as secure: it is for the loopback-only ws:// and http:// tests).
set -eu
dir=$1
port=${PERCH_IT_PORT:-15222}
disabled='"s2s"; "offline"; "c2s_direct_tls"'
[ "${PERCH_IT_PROSODY_OFFLINE:-}" = 1 ] && disabled='"s2s"; "c2s_direct_tls"'
extra=''
[ "${PERCH_IT_PROSODY_ADHOC:-}" = 1 ] && extra='; "adhoc"'
http=${PERCH_IT_HTTP_PORT:-}
httpcfg='http_ports = { }
https_ports = { }'
if [ -n "$http" ]; then
    extra="$extra; \"websocket\"; \"bosh\""
    httpcfg="http_ports = { $http }
https_ports = { $((http + 1)) }
http_interfaces = { \"127.0.0.1\" }
https_interfaces = { \"127.0.0.1\" }
https_ssl = { certificate = \"$dir/certs/perch.test.crt\"; key = \"$dir/certs/perch.test.key\" }
http_default_host = \"perch.test\"
consider_websocket_secure = true
consider_bosh_secure = true
http_max_content_size = 1048576"
    # Prosody answers an HTTPS SNI name only for a host it serves: the test URLs say localhost.
    localhost='VirtualHost "localhost"
    modules_enabled = { }'
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dir/data" "$dir/certs"
cp "$root/Tests/Fixtures/certs/server.pem" "$dir/certs/perch.test.crt"
cp "$root/Tests/Fixtures/certs/server.key" "$dir/certs/perch.test.key"
chmod 600 "$dir/certs/perch.test.key"
# HTTPS picks its certificate by SNI name: the URLs of the tests say localhost (the certificate has it).
cp "$dir/certs/perch.test.crt" "$dir/certs/localhost.crt"
cp "$dir/certs/perch.test.key" "$dir/certs/localhost.key"
chmod 600 "$dir/certs/localhost.key"
cat > "$dir/prosody.cfg.lua" <<CFG
daemonize = false
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
log = { { levels = { min = "info" }, to = "file", filename = "$dir/prosody.log" } }
interfaces = { "127.0.0.1" }
c2s_ports = { $port }
c2s_direct_tls_ports = { $((port + 1)) }
s2s_ports = { }
$httpcfg
admin_socket = "$dir/admin.sock"
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "version"; "time"; "blocklist"; "carbons"; "pep"; "smacks"$extra }
modules_disabled = { $disabled }
authentication = "internal_hashed"
c2s_require_encryption = true
allow_registration = false
certificates = "$dir/certs"
ssl = { certificate = "$dir/certs/perch.test.crt"; key = "$dir/certs/perch.test.key" }
c2s_direct_tls_ssl = { certificate = "$dir/certs/perch.test.crt"; key = "$dir/certs/perch.test.key" }
network_settings = { tcp_backlog = 32 }
-- The device may create nodes on the pubsub service (Prosody lets only admins do that).
admins = { "perch@perch.test" }
VirtualHost "perch.test"
Component "pubsub.perch.test" "pubsub"
Component "conference.perch.test" "muc"
    restrict_room_creation = false
    max_history_messages = 20
${localhost:-}
CFG
# Run as root, prosody and prosodyctl switch to the 'prosody' user: give it the directory.
if [ "$(id -u)" -eq 0 ] && id prosody >/dev/null 2>&1; then chown -R prosody:prosody "$dir"; fi
prosodyctl --config "$dir/prosody.cfg.lua" register perch perch.test perch-secret >/dev/null
for user in peer operator viewer stranger board1 board2; do
    prosodyctl --config "$dir/prosody.cfg.lua" register "$user" perch.test "$user-secret" >/dev/null
done
# "ﬁsh-é" written with the U+FB01 ligature and a decomposed é (e, U+0301): Prosody stores the SCRAM
# keys of its SASLprep form, "fish-é" with U+00E9, which a client must prepare the same way.
prosodyctl --config "$dir/prosody.cfg.lua" register unicode perch.test "$(printf '\357\254\201sh-e\314\201')" >/dev/null
# Prosody refuses to run as root: drop to its own user when we are root.
if [ "$(id -u)" -eq 0 ] && id prosody >/dev/null 2>&1; then
    exec runuser -u prosody -- prosody --config "$dir/prosody.cfg.lua"
fi
exec prosody --config "$dir/prosody.cfg.lua"
