#!/bin/sh
# One-shot: forms the Redis Cluster of deploy/cluster/docker-compose.yml from its six nodes (3 primaries, 3 replicas)
# unless it is formed already (a restart, `down` + `up` with the volumes kept). REDISCLI_AUTH carries the password.
#   REDIS_NODES  host:port of every node, blank- or comma-separated
set -eu
nodes=$(echo "${REDIS_NODES:?}" | tr ',' ' ')
first=${nodes%% *}
cli() { redis-cli --no-auth-warning "$@"; }
if cli -h "${first%:*}" -p "${first#*:}" cluster info | grep -q '^cluster_state:ok'; then
  echo "redis-cluster-init: the cluster is formed already:"; cli -h "${first%:*}" -p "${first#*:}" cluster nodes; exit 0
fi
# redis-cli --cluster create takes IP addresses, not names
addrs=
for n in $nodes; do
  ip=$(getent hosts "${n%:*}" 2>/dev/null | awk '{print $1; exit}')
  # busybox's nslookup where getent is missing
  [ -n "$ip" ] || ip=$(nslookup "${n%:*}" 2>/dev/null | awk '/^Address:? / && $NF !~ /#/ {a=$NF} END {print a}')
  [ -n "$ip" ] || { echo "redis-cluster-init: cannot resolve ${n%:*}" >&2; exit 1; }
  addrs="$addrs $ip:${n#*:}"
done
echo "redis-cluster-init: creating the cluster on$addrs"
# shellcheck disable=SC2086
cli --cluster create $addrs --cluster-replicas 1 --cluster-yes
# wait until every node agrees (the services' health checks need cluster_state:ok)
for i in $(seq 1 60); do
  ok=0
  for n in $nodes; do cli -h "${n%:*}" -p "${n#*:}" cluster info | grep -q '^cluster_state:ok' && ok=$((ok + 1)); done
  [ "$ok" = "$(echo $nodes | wc -w)" ] && { echo "redis-cluster-init: cluster_state:ok on every node"; exit 0; }
  sleep 1
done
echo "redis-cluster-init: the cluster did not reach cluster_state:ok" >&2; exit 1
