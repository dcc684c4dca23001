import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { eventually, GATEWAY, Mesh, type AccessLogLine, type Upstream } from './mesh-harness.ts';

/**
 * DestinationRule `tls` (Istio's TLS origination, "egress TLS origination" and "mutual TLS
 * origination" tasks) proven through the ingress gateway over real sockets: certificates come from
 * Kubernetes Secrets named by `credentialName` in the gateway's namespace (istio-system), which
 * the control plane serves over SDS; the upstreams are HTTPS servers on loopback addresses of
 * their own, declared by ServiceEntries as a user would.
 */

function pem(name: string): string {
  return readFileSync(new URL(`../../src/proxy/upstream/testdata/${name}`, import.meta.url), 'utf8');
}

const CA = pem('ca.pem');
const OTHER_CA = pem('other-ca.pem');
const SERVER = pem('server.pem');
const SERVER_KEY = pem('server-key.pem');
const CLIENT = pem('client.pem');
const CLIENT_KEY = pem('client-key.pem');

/** What an HTTPS upstream saw of one request. */
interface TlsSeen {
  readonly path: string;
  /** The SNI the client sent (false or null: none). */
  readonly servername: string | false | null;
  /** The client certificate's subject CN, if one was presented. */
  readonly clientCn: string | undefined;
}

/** An HTTPS server with `server.pem` (signed by `ca.pem`); with `requireClientCertificate`, only clients with a certificate from `ca.pem` get through. */
class TlsUpstream {
  readonly address: string;
  readonly seen: TlsSeen[] = [];
  /** Handshakes the server refused, with why. */
  readonly refused: string[] = [];
  port = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(address: string, requireClientCertificate: boolean) {
    this.address = address;
    this.#server = createServer({ cert: SERVER, key: SERVER_KEY, ca: [CA], requestCert: requireClientCertificate, rejectUnauthorized: requireClientCertificate });
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    this.#server.on('tlsClientError', (error: Error) => this.refused.push(error.message));
    this.#server.on('request', (request, response) => {
      const socket = request.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      const cn = peer.subject?.CN;
      this.seen.push({ path: request.url ?? '', servername: socket.servername, clientCn: typeof cn === 'string' ? cn : undefined });
      request.resume();
      request.once('end', () => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ tls: true, path: request.url }));
      });
    });
  }

  static async start(address: string, requireClientCertificate: boolean): Promise<TlsUpstream> {
    const upstream = new TlsUpstream(address, requireClientCertificate);
    upstream.#server.listen(0, address);
    await once(upstream.#server, 'listening');
    upstream.port = (upstream.#server.address() as { port: number }).port;
    return upstream;
  }

  saw(token: string): TlsSeen[] {
    return this.seen.filter((s) => s.path.includes(token));
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

let mesh: Mesh;
let server: TlsUpstream;
let mtlsServer: TlsUpstream;
const closers: (() => Promise<void>)[] = [];

const b64 = (text: string): string => Buffer.from(text).toString('base64');

/** A Secret in the gateway's namespace, as `kubectl create secret generic <name> --from-file=...` writes it. */
function secret(name: string, data: Readonly<Record<string, string>>, namespace = 'istio-system'): string {
  return `apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${namespace}}
type: Opaque
data:
${Object.entries(data).map(([k, v]) => `  ${k}: ${b64(v)}`).join('\n')}
`;
}

/**
 * A ServiceEntry for `host` (port 8443, HTTP: the gateway originates the TLS) at `upstream`, a
 * DestinationRule with `tls` (YAML flow map), and a VirtualService routing `host` on the gateway.
 */
function tlsOrigination(name: string, host: string, upstream: { readonly address: string; readonly port: number }, tls: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 8443, name: http, protocol: HTTP}]
  endpoints: [{address: ${upstream.address}, ports: {http: ${upstream.port}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: default}
spec:
  host: ${host}
  trafficPolicy:
    tls: ${tls}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  gateways: [${GATEWAY}]
  http:
  - route: [{destination: {host: ${host}, port: {number: 8443}}}]
`;
}

/** Waits until the gateway holds the SDS secrets `names` (its config dump lists them). */
async function secretsDelivered(...names: string[]): Promise<void> {
  await eventually(async () => {
    const dump = JSON.parse(await mesh.admin('/config_dump')) as { configs: { '@type': string; dynamicActiveSecrets?: { name: string }[] }[] };
    const held = new Set(dump.configs.flatMap((c) => c.dynamicActiveSecrets ?? []).map((s) => s.name));
    return names.every((n) => held.has(n));
  }, `the gateway to hold SDS secrets ${names.join(', ')}`);
}

/** Sends through the gateway until the answer is `status` (config and secrets arrive asynchronously), and returns the token of the request that got it. */
async function sendUntil(host: string, status: number): Promise<string> {
  let last = '';
  return eventually(async () => {
    const token = mesh.token('tls');
    const reply = await mesh.send(`/get?${token}`, { host });
    last = `${reply.status} ${reply.body}`;
    return reply.status === status ? token : undefined;
  }, `${host} to answer ${status} (last: ${last})`);
}

function failureReason(line: AccessLogLine): string {
  const reason = (line as unknown as Record<string, unknown>)['upstream_transport_failure_reason'];
  return typeof reason === 'string' ? reason : '';
}

before(async () => {
  mesh = await Mesh.start();
  closers.push(() => mesh.close());
  server = await TlsUpstream.start(mesh.nextAddress(), false);
  closers.push(() => server.close());
  mtlsServer = await TlsUpstream.start(mesh.nextAddress(), true);
  closers.push(() => mtlsServer.close());
});

after(async () => {
  for (const close of closers.reverse()) await close();
});

describe('DestinationRule tls SIMPLE with credentialName (the CA from SDS)', () => {
  before(async () => {
    mesh.apply('simple-secrets', [
      secret('upstream-ca', { 'ca.crt': CA }),
      secret('wrong-ca', { 'ca.crt': OTHER_CA }),
      // The right CA, but in the upstream's namespace, which the gateway may not read.
      secret('default-ns-ca', { 'ca.crt': CA }, 'default'),
    ].join('---\n'));
    await mesh.configure('simple', [
      tlsOrigination('simple', 'simple.api.example.com', server, '{mode: SIMPLE, credentialName: upstream-ca}'),
      tlsOrigination('wrong-ca', 'wrong-ca.api.example.com', server, '{mode: SIMPLE, credentialName: wrong-ca}'),
      tlsOrigination('other-ns', 'other-ns.api.example.com', server, '{mode: SIMPLE, credentialName: default-ns-ca}'),
      tlsOrigination('wrong-san', 'wrong-san.api.example.com', server, '{mode: SIMPLE, credentialName: upstream-ca, subjectAltNames: [payments.example.org]}'),
      tlsOrigination('sni', 'sni.api.example.com', server, '{mode: SIMPLE, credentialName: upstream-ca, sni: upstream.example.com}'),
    ].join('---\n'));
    await secretsDelivered('upstream-ca-cacert', 'wrong-ca-cacert');
  });

  it('reaches an HTTPS upstream whose certificate chains to the Secret\'s ca.crt (200), sending the request\'s host as SNI', async () => {
    const token = await sendUntil('simple.api.example.com', 200);
    const seen = server.saw(token);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.servername, 'simple.api.example.com', 'auto SNI from the Host');
    assert.equal(seen[0]?.clientCn, undefined, 'SIMPLE presents no client certificate');
  });

  it('refuses the upstream when the Secret holds another CA: 503 UF, the verification failure in the access log', async () => {
    const token = mesh.token('wrongca');
    const reply = await mesh.send(`/get?${token}`, { host: 'wrong-ca.api.example.com' });
    assert.equal(reply.status, 503, reply.body);
    assert.equal(server.saw(token).length, 0, 'the request never reached the upstream');
    const [line] = await mesh.accessLog(token);
    // UF, and URX: the gateway's default retry policy (connect-failure, twice) was used up.
    assert.match(line?.response_flags ?? '', /^UF\b/, JSON.stringify(line));
    assert.match(failureReason(line!), /^TLS error: certificate verify failed/, JSON.stringify(line));
  });

  it('reads credentialName only from the gateway\'s own namespace: a Secret in the upstream\'s namespace is never delivered (503)', async () => {
    const token = mesh.token('otherns');
    const reply = await mesh.send(`/get?${token}`, { host: 'other-ns.api.example.com' });
    assert.equal(reply.status, 503, reply.body);
    assert.equal(server.saw(token).length, 0);
    const [line] = await mesh.accessLog(token);
    assert.match(failureReason(line!), /SDS secret "default-ns-ca-cacert" has not been delivered/, JSON.stringify(line));
  });

  it('refuses a server certificate without the subjectAltNames the rule asks for (503)', async () => {
    const token = mesh.token('san');
    const reply = await mesh.send(`/get?${token}`, { host: 'wrong-san.api.example.com' });
    assert.equal(reply.status, 503, reply.body);
    assert.equal(server.saw(token).length, 0);
    const [line] = await mesh.accessLog(token);
    assert.match(line?.response_flags ?? '', /^UF\b/, JSON.stringify(line));
    assert.match(failureReason(line!), /^TLS error: certificate SAN verify failed: .* match none of DNS exact "payments\.example\.org"/, JSON.stringify(line));
  });

  it('sends the rule\'s sni to the upstream', async () => {
    const token = await sendUntil('sni.api.example.com', 200);
    assert.equal(server.saw(token)[0]?.servername, 'upstream.example.com');
  });
});

describe('DestinationRule tls MUTUAL with credentialName (client certificate and CA from SDS)', () => {
  before(async () => {
    mesh.apply('mutual-secrets', secret('client-credential', { 'tls.crt': CLIENT, 'tls.key': CLIENT_KEY, 'ca.crt': CA }));
    await mesh.configure('mutual', [
      tlsOrigination('mutual', 'mutual.api.example.com', mtlsServer, '{mode: MUTUAL, credentialName: client-credential}'),
      tlsOrigination('no-client-cert', 'no-client-cert.api.example.com', mtlsServer, '{mode: SIMPLE, credentialName: client-credential}'),
    ].join('---\n'));
    await secretsDelivered('client-credential', 'client-credential-cacert');
  });

  it('presents the Secret\'s tls.crt to an upstream that requires a client certificate (200)', async () => {
    const token = await sendUntil('mutual.api.example.com', 200);
    const seen = mtlsServer.saw(token);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.clientCn, 'client');
  });

  it('is refused by that upstream without a client certificate (SIMPLE): 503', async () => {
    const refusedBefore = mtlsServer.refused.length;
    const token = mesh.token('nocert');
    const reply = await mesh.send(`/get?${token}`, { host: 'no-client-cert.api.example.com' });
    assert.equal(reply.status, 503, reply.body);
    assert.equal(mtlsServer.saw(token).length, 0);
    await eventually(() => mtlsServer.refused.length > refusedBefore, 'the upstream to refuse a handshake');
    assert.match(mtlsServer.refused.slice(refusedBefore).join('; '), /certificate/i);
    const [line] = await mesh.accessLog(token);
    // Under TLS 1.3 the client's handshake completes before the server checks for a certificate,
    // so the gateway sees the server's alert as the connection closing (UC) rather than a failed connect (UF).
    assert.match(line?.response_flags ?? '', /^U[FC]\b/, JSON.stringify(line));
  });
});

describe('DestinationRule tls DISABLE', () => {
  let plain: Upstream;

  before(async () => {
    plain = await mesh.upstream('plain');
    closers.push(() => plain.close());
    await mesh.configure('disable', tlsOrigination('plain', 'plain.api.example.com', plain, '{mode: DISABLE}'));
  });

  it('sends plaintext to a plaintext upstream (200)', async () => {
    const token = await sendUntil('plain.api.example.com', 200);
    assert.equal(plain.saw(token).length, 1);
  });
});
