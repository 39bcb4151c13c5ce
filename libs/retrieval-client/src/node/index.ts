/**
 * The retrieval's Node side (the CLI, the tests): sip.js's WebSocket, and the MSRP transports — over WebSocket (RFC
 * 7977) and TLS (`msrps`, RFC 4975 §14) the client connects; over TCP it listens and the server connects (our offer
 * a=setup:passive, RFC 6135). Imported as `@imc/retrieval-client/node`, never from the browser-safe index.
 */
export * from './install-node-websocket';
export * from './node-tcp-msrp-transport';
export * from './node-tls-msrp-transport';
export * from './node-websocket-msrp-transport';
