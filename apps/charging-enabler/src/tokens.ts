import type { Topology } from '@imc/runtime';
/** Injection tokens of the enabler's Nest modules. */
export const ENABLER_CONFIG = Symbol('ENABLER_CONFIG');
export const ENABLER_READINESS = Symbol('ENABLER_READINESS');
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

export interface Readiness {
  redis(): Promise<boolean>;
  nats(): boolean;
  /** Which Redis/NATS nodes this process sees, and their state (libs/runtime readinessProbes). */
  topology?(): Promise<Topology>;
}
