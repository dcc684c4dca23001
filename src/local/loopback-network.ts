import { createServer } from 'node:net';
import type { ReplicaNetwork, ReplicaPlacement, ServicePortRef } from './replica-network.ts';

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
  #next = 2;

  /** `prefix` is the first two octets (`127.10`); `.0.1` is the gateway's. */
  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  async place(key: string, _podName: string, declaredPorts: readonly number[], services: readonly ServicePortRef[]): Promise<ReplicaPlacement> {
    let address = this.#addresses.get(key);
    if (address === undefined) {
      const n = this.#next++;
      address = `${this.#prefix}.${Math.floor(n / 256)}.${n % 256}`;
      this.#addresses.set(key, address);
    }
    const appPorts = new Map<number, number>();
    for (const port of declaredPorts) appPorts.set(port, await freeLoopbackPort());
    const namespace = key.slice(0, key.indexOf('.'));
    const localPorts: Record<string, string> = {};
    const serviceEnv: Record<string, string> = {};
    let next = FIRST_LOCAL_SERVICE_PORT;
    for (const service of services) {
      while (declaredPorts.includes(next)) next++;
      const name = envName(service.namespace === namespace ? [service.name, String(service.port)] : [service.name, service.namespace, String(service.port)]);
      if (name in serviceEnv) continue;
      localPorts[String(next)] = `${service.hostname}:${service.port}`;
      serviceEnv[name] = `${address}:${next}`;
      next++;
    }
    return {
      address,
      appPorts,
      probeHost: '127.0.0.1',
      appEnv: {
        HTTP_PROXY: `http://${address}:${EXPLICIT_PROXY_PORT}`,
        NODE_USE_ENV_PROXY: '1',
        // The replica's own address holds the WEFT_SERVICE_* ports, which are reached directly.
        NO_PROXY: `localhost,127.0.0.1,::1,[::1],${address}`,
        ...serviceEnv,
      },
      proxyMetadata: { INTERCEPTION_MODE: 'NONE', APP_PORTS: JSON.stringify(Object.fromEntries(appPorts)), LOCAL_SERVICE_PORTS: JSON.stringify(localPorts) },
      command: (program, args) => ({ command: program, args: [...args] }),
      release: async () => undefined,
    };
  }

  async servicesChanged(): Promise<void> {}

  async close(): Promise<void> {}
}

/** `WEFT_SERVICE_MY_APP_8080` from `my-app`, `8080`. */
function envName(parts: readonly string[]): string {
  return `WEFT_SERVICE_${parts.join('_').toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

/** A loopback port free now, for an app to listen on. */
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
