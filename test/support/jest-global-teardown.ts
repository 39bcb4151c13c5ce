/** Stops what the global setup started: the private servers, or the cluster topology. */

export default async function globalTeardown(): Promise<void> {
  const infra = (globalThis as { __IMC_INFRA__?: { stop(): Promise<void> } }).__IMC_INFRA__;
  if (infra) await infra.stop();
}
