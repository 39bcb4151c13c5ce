/**
 * Runs once before all test files: finds Redis and NATS (JetStream) at REDIS_URL / NATS_URL or starts private
 * ones, and exports their URLs to the test workers through the environment.
 */
import { ensureLocalInfra } from '../../libs/runtime/src/local-infra';

export default async function globalSetup(): Promise<void> {
  const infra = await ensureLocalInfra({ log: (l) => process.stderr.write(`[test infra] ${l}\n`) });
  process.env.REDIS_URL = infra.redis.url;
  process.env.NATS_URL = infra.nats.url;
  (globalThis as { __IMC_INFRA__?: unknown }).__IMC_INFRA__ = infra;
}
