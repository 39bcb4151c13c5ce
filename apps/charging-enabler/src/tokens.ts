/** Injection tokens of the enabler's Nest modules. */
export const ENABLER_CONFIG = Symbol('ENABLER_CONFIG');
export const ENABLER_READINESS = Symbol('ENABLER_READINESS');
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

export interface Readiness {
  redis(): Promise<boolean>;
  nats(): boolean;
}
