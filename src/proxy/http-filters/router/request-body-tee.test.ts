import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, type Readable } from 'node:stream';
import { RequestBodyTee } from './request-body-tee.ts';

async function all(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('RequestBodyTee', () => {
  it('streams to the first attempt as the body arrives, and replays it whole to the next', async () => {
    const source = new PassThrough();
    const tee = new RequestBodyTee(source, 1024);
    const first = tee.open()!;
    source.write('hello ');
    const firstChunk = await new Promise<Buffer>((resolve) => first.once('data', resolve));
    assert.equal(firstChunk.toString(), 'hello ', 'the attempt reads before the body has ended');
    first.resume();
    source.end('world');
    await tee.done;
    assert.equal(await all(tee.open()!), 'hello world');
    assert.equal(tee.replayable, true);
  });

  it('replays what has arrived and streams the rest to an attempt opened mid-body', async () => {
    const source = new PassThrough();
    const tee = new RequestBodyTee(source, 1024);
    tee.open()!.resume();
    source.write('a');
    await new Promise((resolve) => setImmediate(resolve));
    const second = tee.open()!;
    const text = all(second);
    source.end('b');
    assert.equal(await text, 'ab');
  });

  it('stops being replayable once the body outgrows its limit, while the current attempt keeps streaming', async () => {
    const source = new PassThrough();
    const tee = new RequestBodyTee(source, 4);
    const first = tee.open()!;
    const text = all(first);
    source.end('0123456789');
    assert.equal(await text, '0123456789');
    assert.equal(tee.replayable, false);
    assert.equal(tee.open(), undefined);
    assert.equal(await tee.whole(), undefined);
  });

  it('gives the whole body to a mirror once it has ended', async () => {
    const source = new PassThrough();
    const tee = new RequestBodyTee(source, 1024);
    const whole = tee.whole();
    source.end('copy');
    assert.equal((await whole)?.toString(), 'copy');
  });

  it('breaks the attempt\'s stream when the downstream body breaks off', async () => {
    const source = new PassThrough();
    const tee = new RequestBodyTee(source, 1024);
    const attempt = tee.open()!;
    const failed = new Promise((resolve) => attempt.once('error', resolve));
    source.write('part');
    source.destroy();
    assert.match(String(await failed), /ended early/);
    assert.equal(tee.replayable, false);
  });
});
