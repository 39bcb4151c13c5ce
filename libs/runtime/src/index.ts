export * from './local-infra';
export * from './env-reader';
export * from './connection-options';
export * from './redact-url';
export * from './redis-factory';
export * from './lua-scripts';
export * from './service-kit';
