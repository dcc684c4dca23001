/**
 * Simulated proxies, many per process, each on its own gRPC connection. An ADS client speaks State
 * of the World as a sidecar does: CDS and LDS by wildcard (the first request carries the node),
 * then EDS for the EDS clusters CDS named and RDS for the route configurations LDS named; every
 * response is ACKed with its versionInfo and nonce and the whole subscription. It reads only what
 * it needs from a response (the envelope, cluster names and types, listeners' route names), so
 * that the processes of simulated proxies stay cheap next to the control plane. An echo client
 * says hello, then answers each message with an ACK-sized message.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { adsServiceDefinition, decodeMessage, messageType, TypeUrl } from '../src/xds/index.ts';
import type { DiscoveryRequest } from '../src/xds/envoy/index.ts';
import { sidecarNode } from './control-plane-mesh.ts';
import { emit, now, serveCommands } from './control-plane-process.ts';
import { echoServiceDefinition } from './control-plane-servers.ts';

export interface ClientsOptions {
  readonly mode: 'ads' | 'echo';
  readonly port: number;
  /** Clients `first` .. `first + count - 1` of the run. */
  readonly first: number;
  readonly count: number;
  readonly services: number;
  readonly deadlineMs: number;
}

/** What a client saw of the push: first response (and its ACK) and last response after the mark. */
export interface PushRecord {
  readonly firstReceived: number;
  readonly firstAcked: number;
  readonly lastReceived: number;
  readonly responses: number;
  readonly bytes: number;
  readonly types: readonly string[];
}

interface Envelope {
  readonly versionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly size: number;
  /** For CDS, the EDS clusters; for LDS, the route configurations named; else empty. */
  readonly names: readonly string[];
}

const DISCOVERY_RESPONSE = messageType('envoy.service.discovery.v3.DiscoveryResponse');
const CLUSTER_TYPE_EDS = 3;

/** A Cluster's `name` (field 1) and `type` (field 2), read off the wire. */
function edsClusterName(bytes: Uint8Array): string | undefined {
  const reader = protobuf.Reader.create(bytes);
  let name = '';
  let type = 0;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === 1) name = reader.string();
    else if (field === 2) type = reader.int32();
    else reader.skipType(tag & 7);
  }
  return type === CLUSTER_TYPE_EDS ? name : undefined;
}

function routeNames(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) for (const item of value) routeNames(item, into);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, field] of Object.entries(value)) {
      if (key === 'routeConfigName' && typeof field === 'string') into.add(field);
      else routeNames(field, into);
    }
  }
}

function readEnvelope(bytes: Buffer): Envelope {
  const message = DISCOVERY_RESPONSE.decode(bytes) as unknown as { versionInfo: string; typeUrl: string; nonce: string; resources: { value: Uint8Array }[] };
  let names: string[] = [];
  if (message.typeUrl === TypeUrl.Cluster) names = message.resources.flatMap((r) => edsClusterName(r.value) ?? []);
  else if (message.typeUrl === TypeUrl.Listener) {
    const routes = new Set<string>();
    for (const r of message.resources) routeNames(decodeMessage('envoy.config.listener.v3.Listener', r.value), routes);
    names = [...routes];
  }
  return { versionInfo: message.versionInfo, typeUrl: message.typeUrl, nonce: message.nonce, size: bytes.byteLength, names: names.sort() };
}

const ADS = adsServiceDefinition.StreamAggregatedResources;
const adsClientDefinition = { StreamAggregatedResources: { ...ADS, responseDeserialize: readEnvelope } } satisfies grpc.ServiceDefinition;
const AdsClientConstructor = grpc.makeGenericClientConstructor(adsClientDefinition, 'AggregatedDiscoveryService');
const EchoClientConstructor = grpc.makeGenericClientConstructor(echoServiceDefinition, 'Echo');

/** Each client its own connection, as each proxy has; responses of a full mesh exceed gRPC's 4 MB default. */
const CHANNEL_OPTIONS = { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };

interface Recorder {
  marked: boolean;
  record: { firstReceived: number; firstAcked: number; lastReceived: number; responses: number; bytes: number; types: Set<string> } | undefined;
}

function note(recorder: Recorder, received: number, acked: number, size: number, type: string): void {
  if (!recorder.marked) return;
  const r = recorder.record;
  if (r === undefined) recorder.record = { firstReceived: received, firstAcked: acked, lastReceived: received, responses: 1, bytes: size, types: new Set([type]) };
  else {
    r.lastReceived = received;
    r.responses++;
    r.bytes += size;
    r.types.add(type);
  }
}

interface SimulatedProxy extends Recorder {
  readonly started: number;
  synced: number | undefined;
  close(): void;
}

interface TypeState {
  names: readonly string[];
  versionInfo: string;
  nonce: string;
  received: number;
  /** A request with new names went out and has no answer yet. */
  waiting: boolean;
}

const SHORT: Record<string, string> = { [TypeUrl.Cluster]: 'CDS', [TypeUrl.ClusterLoadAssignment]: 'EDS', [TypeUrl.Listener]: 'LDS', [TypeUrl.RouteConfiguration]: 'RDS' };

function adsProxy(target: string, k: number, services: number, onSynced: () => void, onError: (message: string) => void): SimulatedProxy {
  const client = new AdsClientConstructor(target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  const call = (client as unknown as { StreamAggregatedResources(): grpc.ClientDuplexStream<DiscoveryRequest, Envelope> }).StreamAggregatedResources();
  const types = new Map<string, TypeState>(
    [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration].map((t) => [t, { names: [], versionInfo: '', nonce: '', received: 0, waiting: false }]),
  );
  const proxy: SimulatedProxy = { started: now(), synced: undefined, marked: false, record: undefined, close: () => { call.cancel(); client.close(); } };
  const request = (typeUrl: string): void => {
    const state = types.get(typeUrl)!;
    call.write({ typeUrl, versionInfo: state.versionInfo, responseNonce: state.nonce, resourceNames: [...state.names] });
  };
  /** A sidecar subscribes to the EDS clusters and route configurations it was given, re-subscribing when they change. */
  const follow = (typeUrl: string, names: readonly string[]): void => {
    const state = types.get(typeUrl)!;
    if (names.length === state.names.length && names.every((n, i) => n === state.names[i])) return;
    state.names = names;
    state.waiting = true;
    request(typeUrl);
  };
  call.on('data', (response: Envelope) => {
    const received = now();
    const state = types.get(response.typeUrl);
    if (state === undefined) return;
    state.versionInfo = response.versionInfo;
    state.nonce = response.nonce;
    state.received++;
    state.waiting = false;
    request(response.typeUrl);
    note(proxy, received, now(), response.size, SHORT[response.typeUrl] ?? response.typeUrl);
    if (response.typeUrl === TypeUrl.Cluster) follow(TypeUrl.ClusterLoadAssignment, response.names);
    if (response.typeUrl === TypeUrl.Listener) follow(TypeUrl.RouteConfiguration, response.names);
    if (proxy.synced === undefined && [...types.values()].every((s) => !s.waiting && (s.received > 0 || s.names.length === 0)) && types.get(TypeUrl.Cluster)!.received > 0 && types.get(TypeUrl.Listener)!.received > 0) {
      proxy.synced = now();
      onSynced();
    }
  });
  call.on('error', (error: Error) => {
    if (!/Cancelled/.test(error.message)) onError(error.message);
  });
  call.write({ typeUrl: TypeUrl.Cluster, node: sidecarNode(k, services) } as DiscoveryRequest);
  call.write({ typeUrl: TypeUrl.Listener });
  return proxy;
}

const ECHO_ACK = Buffer.alloc(80, 1);

function echoProxy(target: string, onSynced: () => void, onError: (message: string) => void): SimulatedProxy {
  const client = new EchoClientConstructor(target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  const call = (client as unknown as { Stream(): grpc.ClientDuplexStream<Buffer, Buffer> }).Stream();
  const proxy: SimulatedProxy = { started: now(), synced: undefined, marked: false, record: undefined, close: () => { call.cancel(); client.close(); } };
  call.on('data', (message: Buffer) => {
    const received = now();
    if (proxy.synced === undefined) {
      proxy.synced = received;
      onSynced();
      return;
    }
    call.write(ECHO_ACK);
    note(proxy, received, now(), message.byteLength, 'echo');
  });
  call.on('error', (error: Error) => {
    if (!/Cancelled/.test(error.message)) onError(error.message);
  });
  call.write(Buffer.alloc(16));
  return proxy;
}

/**
 * Events: `synced` (every client fully configured; when each started and synced), `marked`,
 * `pushed` (a PushRecord per client, sent once every client has heard of the push and none has
 * for `settleMs`, or on `report`).
 */
export function runClients(options: ClientsOptions): void {
  const target = `127.0.0.1:${options.port}`;
  const settleMs = 500;
  let synced = 0;
  let errors = 0;
  let markedAt = 0;
  let settleTimer: ReturnType<typeof setTimeout> | undefined;
  const proxies: SimulatedProxy[] = [];
  const onSynced = (): void => {
    if (++synced === options.count) emit({ event: 'synced', started: proxies.map((p) => p.started), synced: proxies.map((p) => p.synced) });
  };
  const onError = (message: string): void => {
    if (errors++ === 0) process.stderr.write(`stream error: ${message}\n`);
  };
  const report = (): void => {
    if (settleTimer !== undefined) clearTimeout(settleTimer);
    settleTimer = undefined;
    const records = proxies.map((p) => (p.record === undefined ? null : { ...p.record, types: [...p.record.types].sort() }));
    for (const p of proxies) p.marked = false;
    emit({ event: 'pushed', records, errors });
  };
  /** Reports once every client has a record and nothing arrived for settleMs. */
  const watch = (): void => {
    const heard = proxies.every((p) => p.record !== undefined);
    const idle = now() - proxies.reduce((last, p) => Math.max(last, p.record?.lastReceived ?? 0), markedAt);
    if (heard && idle >= settleMs) report();
    else settleTimer = setTimeout(watch, heard ? settleMs - idle : 50);
  };
  for (let i = 0; i < options.count; i++) {
    const k = options.first + i;
    const proxy = options.mode === 'ads' ? adsProxy(target, k, options.services, onSynced, onError) : echoProxy(target, onSynced, onError);
    proxies.push(proxy);
  }
  serveCommands(options.deadlineMs, (command) => {
    if (command === 'mark') {
      for (const p of proxies) {
        p.marked = true;
        p.record = undefined;
      }
      markedAt = now();
      emit({ event: 'marked' });
      watch();
    } else if (command === 'report') report();
    else if (command === 'exit') {
      for (const p of proxies) p.close();
      process.exit(0);
    }
  });
}
