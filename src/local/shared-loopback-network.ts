import { EXPLICIT_PROXY_PORT, localServicePorts, LoopbackPorts } from './loopback-network.ts';
import type { ProxyAddresses, ReplicaNetwork, ReplicaPlacement, ServicePortRef } from './replica-network.ts';

/**
 * Explicit mode where the system gives the loopback only 127.0.0.1 (macOS without aliases on lo0):
 * every replica's sidecar binds free ports of 127.0.0.1 instead of the usual ones on an address
 * of its own. A declared port is reached at its hostPort (the endpoint `127.0.0.1:<hostPort>`,
 * which the control plane knows from POD_PORTS), the HTTP proxy's 15001 and the admin ports move to
 * free ports, and the app listens on free ports as in the other explicit mode.
 */
export class SharedLoopbackNetwork implements ReplicaNetwork {
  readonly mode = 'explicit';
  readonly #ports: LoopbackPorts;

  /** `reserved`: ports of 127.0.0.1 taken by the gateway. */
  constructor(reserved: Iterable<number> = []) {
    this.#ports = new LoopbackPorts(reserved);
  }

  async place(key: string, _podName: string, declaredPorts: readonly number[], services: readonly ServicePortRef[]): Promise<ReplicaPlacement> {
    const address = '127.0.0.1';
    const hostPorts = new Map<number, number>();
    const appPorts = new Map<number, number>();
    for (const port of declaredPorts) {
      hostPorts.set(port, await this.#ports.next());
      appPorts.set(port, await this.#ports.next());
    }
    const proxyPort = await this.#ports.next();
    const local = await localServicePorts(key, address, services, () => this.#ports.next());
    return {
      address,
      proxy: await this.#proxyAddresses(),
      hostPorts,
      proxyArgs: ['--port-map', `${EXPLICIT_PROXY_PORT}=${proxyPort}`],
      appPorts,
      probeHost: '127.0.0.1',
      appEnv: {
        HTTP_PROXY: `http://${address}:${proxyPort}`,
        NODE_USE_ENV_PROXY: '1',
        NO_PROXY: 'localhost,127.0.0.1,::1,[::1]',
        ...local.env,
      },
      proxyMetadata: {
        INTERCEPTION_MODE: 'NONE',
        // The inbound listeners are the hostPorts, so the app's ports are keyed by them.
        APP_PORTS: JSON.stringify(Object.fromEntries([...hostPorts].map(([declared, host]) => [host, appPorts.get(declared)]))),
        LOCAL_SERVICE_PORTS: JSON.stringify(local.ports),
      },
      command: (program, args) => ({ command: program, args: [...args] }),
      release: async () => undefined,
    };
  }

  gateway(): Promise<ProxyAddresses> {
    return this.#proxyAddresses();
  }

  async servicesChanged(): Promise<void> {}

  async close(): Promise<void> {}

  async #proxyAddresses(): Promise<ProxyAddresses> {
    const at = async () => `127.0.0.1:${await this.#ports.next()}`;
    return { address: '127.0.0.1', admin: await at(), health: await at(), stats: await at() };
  }
}
