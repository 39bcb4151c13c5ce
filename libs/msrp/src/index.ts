export * from './msrp-frame';
export * from './msrp-parser';
export * from './msrp-serializer';
export * from './msrp-session';
export * from './msrp-connection';
export * from './cpim';
export * from './imdn';
export * from './sdp';
