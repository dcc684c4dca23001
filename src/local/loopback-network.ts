import { createServer } from 'node:net';
import { ownAddress, type ProxyAddresses, type ReplicaNetwork, type ReplicaPlacement, type ServicePortRef } from './replica-network.ts';

/** Port on the replica's address where the sidecar takes the app's outbound requests as an HTTP proxy. */
export const EXPLICIT_PROXY_PORT = 15001;
/** The first port of the replica's address that stands for a service port (`WEFT_SERVICE_*`). */
export const FIRST_LOCAL_SERVICE_PORT = 20000;

/**
 * Explicit mode: nothing captured, no root. Each replica gets a loopback address of its own
 * (`<prefix>.0.2`, `.0.3`, ...; Linux routes all of 127.0.0.0/8 to the loopback) where its sidecar
 * binds the declared ports and its HTTP proxy; the app listens on free ports of 127.0.0.1, and
 * reaches its sidecar through HTTP_PROXY. For clients that do not use a proxy, each service port
 * the replica may call also gets a port of the replica's address, published to the app as
 * `WEFT_SERVICE_<NAME>_<PORT>=<address>:<port>` (`WEFT_SERVICE_<NAME>_<NAMESPACE>_<PORT>` for
 * services of other namespaces), as of the replica's start.
 */
export class LoopbackNetwork implements ReplicaNetwork {
  readonly mode = 'explicit';
  readonly #prefix: string;
  readonly #addresses = new Map<string, string>();
  readonly #ports: LoopbackPorts;
  #next = 2;

  /** `prefix` is the first two octets (`127.10`); `.0.1` is the gateway's. `reserved`: ports of 127.0.0.1 taken by the gateway. */
  constructor(prefix: string, reserved: Iterable<number> = []) {
    this.#prefix = prefix;
    this.#ports = new LoopbackPorts(reserved);
  }

  async place(key: string, _podName: string, declaredPorts: readonly number[], services: readonly ServicePortRef[]): Promise<ReplicaPlacement> {
    let address = this.#addresses.get(key);
    if (address === undefined) {
      const n = this.#next++;
      address = `${this.#prefix}.${Math.floor(n / 256)}.${n % 256}`;
      this.#addresses.set(key, address);
    }
    const appPorts = new Map<number, number>();
    for (const port of declaredPorts) appPorts.set(port, await this.#ports.next());
    let next = FIRST_LOCAL_SERVICE_PORT;
    const local = await localServicePorts(key, address, services, async () => {
      while (declaredPorts.includes(next)) next++;
      return next++;
    });
    return {
      address,
      proxy: ownAddress(address),
      hostPorts: new Map(),
      proxyArgs: [],
      appPorts,
      probeHost: '127.0.0.1',
      appEnv: {
        HTTP_PROXY: `http://${address}:${EXPLICIT_PROXY_PORT}`,
        NODE_USE_ENV_PROXY: '1',
        // The replica's own address holds the WEFT_SERVICE_* ports, which are reached directly.
        NO_PROXY: `localhost,127.0.0.1,::1,[::1],${address}`,
        ...local.env,
      },
      proxyMetadata: { INTERCEPTION_MODE: 'NONE', APP_PORTS: JSON.stringify(Object.fromEntries(appPorts)), LOCAL_SERVICE_PORTS: JSON.stringify(local.ports) },
      command: (program, args) => ({ command: program, args: [...args] }),
      release: async () => undefined,
    };
  }

  async gateway(): Promise<ProxyAddresses> {
    return ownAddress(`${this.#prefix}.0.1`);
  }

  async servicesChanged(): Promise<void> {}

  async close(): Promise<void> {}
}

/**
 * A port per service port the replica `<namespace>.<pod>` may call, from `nextPort`: the sidecar's
 * LOCAL_SERVICE_PORTS metadata (local port → `host:port`) and the app's WEFT_SERVICE_* variables
 * (`<address>:<local port>`).
 */
export async function localServicePorts(
  key: string, address: string, services: readonly ServicePortRef[], nextPort: () => Promise<number>,
): Promise<{ ports: Record<string, string>; env: Record<string, string> }> {
  const namespace = key.slice(0, key.indexOf('.'));
  const ports: Record<string, string> = {};
  const env: Record<string, string> = {};
  for (const service of services) {
    const name = envName(service.namespace === namespace ? [service.name, String(service.port)] : [service.name, service.namespace, String(service.port)]);
    if (name in env) continue;
    const port = await nextPort();
    ports[String(port)] = `${service.hostname}:${service.port}`;
    env[name] = `${address}:${port}`;
  }
  return { ports, env };
}

/** `WEFT_SERVICE_MY_APP_8080` from `my-app`, `8080`. */
function envName(parts: readonly string[]): string {
  return `WEFT_SERVICE_${parts.join('_').toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

/**
 * Free ports of 127.0.0.1 for the processes of a mesh, each handed out once: a port the system
 * says is free stays free only until someone binds it, and the system may offer it again before
 * the process it was meant for has started.
 */
export class LoopbackPorts {
  readonly #given: Set<number>;

  /** `reserved`: ports already promised elsewhere (the gateway's), never handed out. */
  constructor(reserved: Iterable<number> = []) {
    this.#given = new Set(reserved);
  }

  async next(): Promise<number> {
    for (;;) {
      const port = await freeLoopbackPort();
      if (this.#given.has(port)) continue;
      this.#given.add(port);
      return port;
    }
  }
}

/** A loopback port free now. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
