export * from './subjects';
export * from './results';
export * from './types';
export * from './money';
export * from './validation';
export * from './errors';
export * from './ch2-client';
export * from './nats-requester';
