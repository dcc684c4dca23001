import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, it } from 'node:test';
import { inspectHttp } from './http-inspector.ts';
import { listen, withTimeout } from './test-support.ts';
import { inspectClientHello } from './tls-inspector.ts';

/** The bytes Node's TLS client sends first (its ClientHello), caught by a plain TCP server. */
async function clientHello(options: { servername?: string; ALPNProtocols?: string[] }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const server = createServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (inspectClientHello(Buffer.concat(chunks)).kind !== 'need-more') socket.destroy();
    });
  });
  try {
    const port = await listen(server);
    const client = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    // The server hangs up mid-handshake: the client's error is expected.
    client.on('error', () => {});
    await withTimeout(new Promise((resolve) => client.once('close', resolve)), 3000, 'the TLS client did not close');
    return Buffer.concat(chunks);
  } finally {
    server.close();
  }
}

/** A ClientHello split into two handshake records, as large hellos are. */
function splitIntoTwoRecords(hello: Buffer): Buffer {
  const body = hello.subarray(5);
  const half = Math.floor(body.length / 2);
  const record = (part: Buffer): Buffer => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, part.length >> 8, part.length & 0xff]), part]);
  return Buffer.concat([record(body.subarray(0, half)), record(body.subarray(half))]);
}

describe('TLS inspector', () => {
  it('finds TLS, the SNI and the ALPN list in a real ClientHello', async () => {
    const hello = await clientHello({ servername: 'api.example.com', ALPNProtocols: ['h2', 'http/1.1'] });
    assert.deepEqual(inspectClientHello(hello), { kind: 'tls', serverName: 'api.example.com', alpn: ['h2', 'http/1.1'] });
  });

  it('finds TLS without SNI or ALPN when the client sends neither', async () => {
    const hello = await clientHello({});
    assert.deepEqual(inspectClientHello(hello), { kind: 'tls', alpn: [] });
  });

  it('asks for more bytes until the ClientHello is complete, at every cut', async () => {
    const hello = await clientHello({ servername: 'a.example.com' });
    for (const cut of [1, 3, 5, 9, 40, hello.length - 1]) assert.deepEqual(inspectClientHello(hello.subarray(0, cut)), { kind: 'need-more' }, `cut at ${cut}`);
  });

  it('reads a ClientHello that spans two records', async () => {
    const hello = await clientHello({ servername: 'split.example.com', ALPNProtocols: ['h2'] });
    const split = splitIntoTwoRecords(hello);
    assert.deepEqual(inspectClientHello(split), { kind: 'tls', serverName: 'split.example.com', alpn: ['h2'] });
    assert.deepEqual(inspectClientHello(split.subarray(0, split.length - 3)), { kind: 'need-more' });
  });

  it('says not TLS for plain text, at the first byte that rules TLS out', () => {
    assert.deepEqual(inspectClientHello(Buffer.from('GET / HTTP/1.1\r\n')), { kind: 'not-tls' });
    assert.deepEqual(inspectClientHello(Buffer.from([0x16, 0x02])), { kind: 'not-tls' });
    assert.deepEqual(inspectClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0, 0, 1, 0])), { kind: 'not-tls' }, 'a handshake that is not a ClientHello');
  });
});

describe('HTTP inspector', () => {
  it('recognises HTTP/1.1 and HTTP/1.0 by the request line', () => {
    assert.equal(inspectHttp(Buffer.from('GET /index.html HTTP/1.1\r\nHost: a\r\n')), 'http/1.1');
    assert.equal(inspectHttp(Buffer.from('POST /api HTTP/1.0\r\n')), 'http/1.0');
    assert.equal(inspectHttp(Buffer.from('OPTIONS * HTTP/1.1\n')), 'http/1.1');
  });

  it('recognises h2c by the HTTP/2 connection preface', () => {
    assert.equal(inspectHttp(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04')), 'h2c');
    assert.equal(inspectHttp(Buffer.from('PRI * HTTP/2.0\r\n')), 'need-more');
  });

  it('asks for more bytes while the request line is incomplete', () => {
    for (const partial of ['G', 'GET', 'GET ', 'GET /a', 'GET /a ', 'GET /a HTTP/1', 'GET /a HTTP/1.1', 'GET /a HTTP/1.1\r']) {
      assert.equal(inspectHttp(Buffer.from(partial)), 'need-more', partial);
    }
  });

  it('says not HTTP for other protocols and malformed request lines', () => {
    for (const text of ['\x16\x03\x01', 'SSH-2.0-OpenSSH_9.6\r\n', 'GET  / HTTP/1.1\r\n', 'GET / HTTP/2.0\r\n', 'GET / HTTP/1.1 extra\r\n', 'G\x00T']) {
      assert.equal(inspectHttp(Buffer.from(text, 'latin1')), 'not-http', JSON.stringify(text));
    }
  });
});
