import type { Topology } from '@imc/runtime';
export const IM_CONFIG = Symbol('IM_CONFIG');
export const IM_READINESS = Symbol('IM_READINESS');
export const IM_ADMIN_TOKEN = Symbol('IM_ADMIN_TOKEN');
export const IM_BALANCE = Symbol('IM_BALANCE');
export const IM_QUOTE = Symbol('IM_QUOTE');

export interface ImReadiness {
  redis(): Promise<boolean>;
  nats(): boolean;
  /** Which Redis/NATS nodes this process sees, and their state (libs/runtime readinessProbes). */
  topology?(): Promise<Topology>;
}
