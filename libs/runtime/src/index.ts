export * from './local-infra';
export * from './env-reader';
export * from './redis-factory';
export * from './lua-scripts';
export * from './service-kit';
export * from './local-data-dir';
export * from './service-logger';
