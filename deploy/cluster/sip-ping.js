// Health check of the SIP edge: an OPTIONS over UDP (Max-Forwards 0, so the edge answers it itself); exits 0 on any
// response within 2 s. Usage: node sip-ping.js HOST PORT
'use strict';
const sock = require('node:dgram').createSocket('udp4');
const [host = '127.0.0.1', port = '5070'] = process.argv.slice(2);
setTimeout(() => process.exit(1), 2000).unref();
sock.on('message', () => process.exit(0));
sock.bind(0, () => {
  const me = sock.address().port;
  const id = Math.random().toString(36).slice(2);
  sock.send(
    `OPTIONS sip:${host}:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bK${id};rport\r\nMax-Forwards: 0\r\n` +
      `From: <sip:health@localhost>;tag=${id}\r\nTo: <sip:${host}:${port}>\r\nCall-ID: ${id}@health\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
    Number(port),
    host,
  );
});
