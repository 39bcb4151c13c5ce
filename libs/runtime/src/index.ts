export * from './local-infra';
