export * from './msrp-tcp';
export * from './msrp-ws';
export * from './node-clock';
export * from './node-random';
export * from './unbound-limiter';
export * from './fingerprint';
