// Browser-safe: the Node side is '@imc/retrieval-client/node' (src/node/).
export * from './aoc';
export * from './message-summary';
export * from './msrp-offer-handler';
export * from './msrp-transport';
export * from './register-refused-error';
export * from './retrieval';
export * from './sip-user';
export * from './websocket-msrp-transport';
