/**
 * Runs once before all test files: finds Redis and NATS (JetStream) at REDIS_URL / NATS_URL or starts private
 * ones, and exports their URLs to the test workers through the environment.
 *
 * With IMC_TOPOLOGY=cluster the same suites run on the clustered shape instead (test/support/cluster-topology.ts):
 * a Redis Cluster of 3 primaries + 3 replicas and a 3-node NATS cluster with JetStream, started on loopback ports.
 */
import { ensureLocalInfra } from '../../libs/runtime/src/local-infra';
import { startClusterTopology } from './cluster-topology';

export default async function globalSetup(): Promise<void> {
  const log = (l: string) => process.stderr.write(`[test infra] ${l}\n`);
  if (process.env.IMC_TOPOLOGY === 'cluster') {
    const cluster = await startClusterTopology({ log });
    process.env.REDIS_URL = cluster.redisUrl;
    process.env.NATS_URL = cluster.natsUrl;
    (globalThis as { __IMC_INFRA__?: unknown }).__IMC_INFRA__ = cluster;
    return;
  }
  const infra = await ensureLocalInfra({ log });
  process.env.REDIS_URL = infra.redis.url;
  process.env.NATS_URL = infra.nats.url;
  (globalThis as { __IMC_INFRA__?: unknown }).__IMC_INFRA__ = infra;
}
