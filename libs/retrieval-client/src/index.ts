// Browser-safe: the Node transports are imported from '@imc/retrieval-client/node-msrp-transports'.
export * from './message-summary';
export * from './msrp-offer-handler';
export * from './msrp-transport';
export * from './retrieval';
export * from './sip-user';
export * from './websocket-msrp-transport';
