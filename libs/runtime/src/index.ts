export * from './local-infra';
export * from './env-reader';
export * from './redis-factory';
export * from './lua-scripts';
export * from './service-kit';
export * from './rate-limited-log';
export * from './storage-unavailable.filter';
