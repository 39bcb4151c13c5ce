# A Redis Cluster node for deploy/cluster/docker-compose.yml: the official image under the project's own name, so that
# tools that treat a service whose image is "redis" as the single Redis (../shared/tools/local-docker moves it to
# another port) leave the six nodes, which have their own ports, alone. getent (resolving the node names for
# `redis-cli --cluster create`) is in the image: musl-utils on Alpine, libc-bin on Debian.
FROM redis:7-alpine
