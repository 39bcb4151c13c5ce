export * from './sip-flow';
export * from './udp-sip-transport';
export * from './tcp-sip-transport';
export * from './ws-sip-transport';
