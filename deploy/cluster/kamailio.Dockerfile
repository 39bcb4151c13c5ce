# Kamailio (Debian bookworm's package, 5.6; netbase for /etc/protocols, which its TCP set-up reads) as the SIP edge for deploy/cluster/docker-compose.yml, running
# deploy/kamailio/kamailio.cfg. The entry point writes the dispatcher list from IMC_IM_SERVERS and listens as told
# by EDGE_* (see kamailio-entrypoint.sh). Build context: the project root.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends kamailio netbase \
 && rm -rf /var/lib/apt/lists/* && kamailio -v | head -1
COPY deploy/kamailio/kamailio.cfg /etc/imc/kamailio.cfg
COPY deploy/cluster/kamailio-entrypoint.sh deploy/cluster/sip-ping.js /usr/local/bin/
USER node
ENTRYPOINT ["sh", "/usr/local/bin/kamailio-entrypoint.sh"]
