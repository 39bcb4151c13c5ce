# A NATS cluster node for deploy/cluster/docker-compose.yml: the official image under the project's own name (see
# redis.Dockerfile for why).
FROM nats:2.10-alpine
