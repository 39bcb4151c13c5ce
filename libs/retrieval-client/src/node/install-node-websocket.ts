import { WebSocket as WsWebSocket } from 'ws';

/** sip.js expects a browser-like global `WebSocket`: in Node, the `ws` package's (protocol-notes.md §8). */
export function installNodeWebSocket(): void {
  const g = globalThis as { WebSocket?: unknown };
  if (!g.WebSocket) g.WebSocket = WsWebSocket;
}
