import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { InternalListeners } from './internal-listeners.ts';

/** Bounds a wait in a test. */
async function within<T>(promise: Promise<T>, what: string, ms = 2000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(what)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** A registry with one listener, `inner`, whose accepted ends are collected. */
function withListener(): { registry: InternalListeners; accepted: Socket[]; next(): Promise<Socket> } {
  const registry = new InternalListeners();
  const accepted: Socket[] = [];
  const waiting: ((socket: Socket) => void)[] = [];
  registry.register('inner', (socket) => {
    accepted.push(socket);
    waiting.shift()?.(socket);
  });
  return {
    registry,
    accepted,
    next: () => within(new Promise<Socket>((resolve) => waiting.push(resolve)), 'the listener took no connection'),
  };
}

async function readAll(socket: Socket): Promise<string> {
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await within(once(socket, 'end'), 'the stream did not end');
  return text;
}

describe('InternalListeners', () => {
  it('connects in-process: the listener takes its end, then the client end emits connect, and bytes flow both ways', async () => {
    const { registry, next } = withListener();
    const origin = { remoteAddress: '10.1.2.3', remotePort: 40000, localAddress: '127.0.0.1', localPort: 15001 };
    const client = registry.connect('inner', { origin });
    const accepted = next();
    await within(once(client, 'connect'), 'no connect');
    const server = await accepted;
    assert.deepEqual([server.remoteAddress, server.remotePort, server.localAddress, server.localPort], ['10.1.2.3', 40000, '127.0.0.1', 15001]);
    assert.deepEqual([client.remoteAddress, client.remotePort], ['127.0.0.1', 15001]);
    client.write('ping');
    const [fromClient] = (await within(once(server, 'data'), 'nothing reached the listener')) as [Buffer];
    assert.equal(fromClient.toString(), 'ping');
    server.write('pong');
    const [fromServer] = (await within(once(client, 'data'), 'nothing came back')) as [Buffer];
    assert.equal(fromServer.toString(), 'pong');
    client.destroy();
  });

  it('passes a FIN on as the end of the other side, which can still answer (half-close), then both close', async () => {
    const { registry, next } = withListener();
    const client = registry.connect('inner', { allowHalfOpen: true });
    const server = await next();
    const closed = Promise.all([once(client, 'close'), once(server, 'close')]);
    const received = readAll(server);
    const answer = readAll(client);
    client.end('request');
    assert.equal(await received, 'request');
    assert.equal(server.writable, true);
    server.end('answer');
    assert.equal(await answer, 'answer');
    await within(closed, 'the ends did not close');
  });

  it('resets the other side when one end is destroyed before its FIN', async () => {
    const { registry, next } = withListener();
    const client = registry.connect('inner');
    const server = await next();
    server.destroy();
    await within(once(client, 'close'), 'the client end stayed open');
    assert.ok(client.destroyed);
  });

  it('holds a writer back until the reader takes more', async () => {
    const { registry, next } = withListener();
    const client = registry.connect('inner');
    const server = await next();
    server.pause();
    const chunk = Buffer.alloc(64 * 1024);
    let writes = 0;
    while (client.write(chunk) && writes < 100) writes++;
    assert.ok(writes < 100, 'the writer was never told to wait');
    let drained = false;
    client.once('drain', () => (drained = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(drained, false);
    server.resume();
    await within(once(client, 'drain'), 'the writer never drained');
    client.destroy();
  });

  it('refuses a connection to a listener nobody registered, as a refused TCP connection', async () => {
    const registry = new InternalListeners();
    const client = registry.connect('missing');
    // Not events.once: it rejects on the error that comes first.
    const closed = new Promise((resolve) => client.once('close', resolve));
    const [error] = (await within(once(client, 'error'), 'no error')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ECONNREFUSED');
    assert.match(error.message, /no internal listener "missing"/);
    await within(closed, 'no close');
  });

  it('forgets a listener only for the acceptor that registered it', async () => {
    const registry = new InternalListeners();
    const first = (): void => {};
    const second = (socket: Socket): void => void socket.destroy();
    registry.register('inner', first);
    registry.register('inner', second);
    registry.unregister('inner', first);
    assert.ok(registry.has('inner'));
    registry.unregister('inner', second);
    assert.equal(registry.has('inner'), false);
  });
});
