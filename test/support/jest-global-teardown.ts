import type { LocalInfra } from '../../libs/runtime/src/local-infra';

export default async function globalTeardown(): Promise<void> {
  const infra = (globalThis as { __IMC_INFRA__?: LocalInfra }).__IMC_INFRA__;
  if (infra) await infra.stop();
}
