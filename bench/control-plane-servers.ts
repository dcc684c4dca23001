/**
 * The server processes of the push benchmark. `runControlPlane` is Weft's control plane as
 * `weft control-plane` builds it (`startControlPlane`), fed by a MemoryConfigSource holding the
 * generated mesh; the command `change <v1 weight>` edits one VirtualService's split from inside
 * the process. `runEchoServer` is the in-run reference: a gRPC bidi service that writes the same
 * pre-encoded bytes to every stream, the transport cost without any ADS logic.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../src/core/index.ts';
import { MemoryConfigSource } from '../src/control/sources/index.ts';
import { startControlPlane } from '../src/main/control-plane.ts';
import { generateControlPlaneMesh, virtualServiceYaml } from './control-plane-mesh.ts';
import { emit, memory, now, serveCommands } from './control-plane-process.ts';

export interface ControlPlaneOptions {
  readonly services: number;
  /** Left out: the control plane's defaults (100 ms quiet, 1 s max). */
  readonly debounceQuietMs?: number;
  readonly debounceMaxMs?: number;
  readonly deadlineMs: number;
}

/**
 * Events: `ready` (port, memory with nothing connected), `memory`, `applied` (t0 when the change
 * started, how long validation, analysis and the snapshot rebuild took), `push` (when the
 * debounced push began and when its loop over the streams returned).
 */
export async function runControlPlane(options: ControlPlaneOptions): Promise<void> {
  const source = new MemoryConfigSource();
  const loaded = source.apply([{ name: 'mesh.yaml', text: generateControlPlaneMesh(options.services) }]);
  if (!loaded.ok) throw new Error(`the generated mesh was refused: ${loaded.error[0]?.message}`);
  const quiet = () => undefined;
  const logger: Logger = {
    debug: (message, fields) => {
      if (message !== 'pushing') return;
      const start = now();
      // The push loop is synchronous: what runs next comes after every stream was served.
      setImmediate(() => emit({ event: 'push', start, end: now(), connections: fields?.['connections'] }));
    },
    info: quiet,
    warn: (message, fields) => process.stderr.write(`warn: ${message} ${JSON.stringify(fields)}\n`),
    error: (message, fields) => process.stderr.write(`error: ${message} ${JSON.stringify(fields)}\n`),
  };
  const push = options.debounceQuietMs === undefined ? undefined : { debounceQuietMs: options.debounceQuietMs, debounceMaxMs: options.debounceMaxMs ?? options.debounceQuietMs };
  const controlPlane = await startControlPlane({
    config: { source }, xdsAddress: '127.0.0.1:0', debugAddress: '127.0.0.1:0', logger, ...(push !== undefined ? { push } : {}),
  });
  emit({ event: 'ready', port: controlPlane.xdsPort, resources: source.current().resources.length, memory: memory() });
  serveCommands(options.deadlineMs, async (command, args) => {
    if (command === 'memory') emit({ event: 'memory', memory: memory(), connections: controlPlane.ads.status().length });
    else if (command === 'change') {
      const t0 = now();
      const applied = source.apply([{ name: 'change.yaml', text: virtualServiceYaml(0, Number(args[0])) }]);
      const applyMs = now() - t0;
      if (!applied.ok) throw new Error(`the change was refused: ${applied.error[0]?.message}`);
      emit({ event: 'applied', t0, applyMs, changes: applied.value.changes.map((c) => c.action) });
    } else if (command === 'exit') {
      await controlPlane.close();
      process.exit(0);
    }
  });
}

/** Bytes in, bytes out: no (de)serialization beyond gRPC's framing. */
const passthrough = {
  path: '/bench.Echo/Stream',
  requestStream: true,
  responseStream: true,
  requestSerialize: (bytes: Buffer) => bytes,
  requestDeserialize: (bytes: Buffer) => bytes,
  responseSerialize: (bytes: Buffer) => bytes,
  responseDeserialize: (bytes: Buffer) => bytes,
} as const;

export const echoServiceDefinition = { Stream: passthrough } satisfies grpc.ServiceDefinition;

/** Answers each stream's first message (its hello) with one byte; `push <size>` writes `size` bytes to every stream. */
export async function runEchoServer(options: { readonly deadlineMs: number }): Promise<void> {
  const server = new grpc.Server();
  const calls = new Set<grpc.ServerDuplexStream<Buffer, Buffer>>();
  server.addService(echoServiceDefinition, {
    Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      let hello = true;
      calls.add(call);
      call.on('data', () => {
        if (hello) call.write(Buffer.alloc(1));
        hello = false;
      });
      const drop = () => calls.delete(call);
      call.on('end', () => {
        drop();
        call.end();
      });
      call.on('cancelled', drop);
      call.on('error', drop);
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error)));
  });
  emit({ event: 'ready', port, memory: memory() });
  serveCommands(options.deadlineMs, (command, args) => {
    if (command === 'memory') emit({ event: 'memory', memory: memory(), connections: calls.size });
    else if (command === 'change') {
      const bytes = Buffer.alloc(Number(args[0]), 7);
      const t0 = now();
      emit({ event: 'applied', t0, applyMs: 0 });
      for (const call of calls) call.write(bytes);
      emit({ event: 'push', start: t0, end: now(), connections: calls.size });
    } else if (command === 'exit') {
      for (const call of calls) call.end();
      server.forceShutdown();
      process.exit(0);
    }
  });
}
