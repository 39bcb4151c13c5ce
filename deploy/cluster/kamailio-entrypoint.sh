#!/bin/sh
# Starts Kamailio with deploy/kamailio/kamailio.cfg in the foreground.
#   IMC_IM_SERVERS  the im-servers' SIP addresses, host:port separated by commas or blanks (dispatcher set 1)
#   IMC_DS_PING     seconds between OPTIONS probes of each im-server (default 2)
#   EDGE_PORT       SIP port, UDP and TCP (default 5070)
#   EDGE_BIND       address to listen on (default 0.0.0.0; SIP_BIND_HOST if set)
#   EDGE_ADVERTISED_HOST  the address clients reach the edge at, written in Record-Route and Via (default: none,
#                   i.e. the listening address; on a bridge network set it to the Docker host's address)
set -eu
dir=/tmp/imc-edge
mkdir -p "$dir"
: "${IMC_IM_SERVERS:?set IMC_IM_SERVERS (host:port of each im-server)}"
: > "$dir/dispatcher.list"
for s in $(echo "$IMC_IM_SERVERS" | tr ',' ' '); do echo "1 sip:$s" >> "$dir/dispatcher.list"; done
export IMC_DS_LIST="$dir/dispatcher.list" IMC_DS_PING="${IMC_DS_PING:-2}"
port=${EDGE_PORT:-5070}
bind=${EDGE_BIND:-${SIP_BIND_HOST:-0.0.0.0}}
adv=
[ -n "${EDGE_ADVERTISED_HOST:-}" ] && adv="/${EDGE_ADVERTISED_HOST}:${port}"
echo "kamailio-entrypoint: listening on $bind:$port (udp, tcp)${adv:+ advertised as ${adv#/}}; im-servers: $(tr '\n' ' ' < "$dir/dispatcher.list")"
exec kamailio -DD -E -f /etc/imc/kamailio.cfg -l "udp:$bind:$port$adv" -l "tcp:$bind:$port$adv" -P "$dir/kamailio.pid" -Y "$dir"
