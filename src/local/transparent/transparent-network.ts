import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ownAddress, type ProxyAddresses, type ReplicaNetwork, type ReplicaPlacement, type ServicePortRef } from '../replica-network.ts';
import { applyCaptureRules, captureRules } from './capture-rules.ts';
import { PodNetwork, type HostsEntry } from './pod-network.ts';

/** The group the sidecar runs as, whose traffic the capture rules let through (Istio's 1337). */
export const PROXY_GID = 1337;

export interface TransparentNetworkOptions {
  readonly network: PodNetwork;
  /** The hosts file lines a pod of `namespace` gets: every service's names at its virtual IP. */
  readonly hosts: (namespace: string) => readonly HostsEntry[];
  /** The gateway runs on the host, on this loopback address of its own. */
  readonly gatewayAddress: string;
  /** Where `ip netns exec` finds each namespace's /etc files (`/etc/netns`). */
  readonly etcNetnsDir?: string;
}

/**
 * Transparent mode (Linux, root), as Kubernetes with Istio: each replica is a pod, a network
 * namespace on a bridge with its own IP, where iptables sends the app's outbound TCP to the
 * sidecar's 15001 and inbound TCP to 15006, except the sidecar's own traffic (its group, 1337).
 * The app listens on its declared ports and calls services by name; the pod's hosts file resolves
 * the names to the services' virtual IPs. Nothing in the app knows the mesh is there.
 */
export class TransparentNetwork implements ReplicaNetwork {
  readonly mode = 'transparent';
  readonly #options: TransparentNetworkOptions;
  /** Pod key → namespace of the workload and netns. */
  readonly #pods = new Map<string, { readonly namespace: string; readonly netns: string; readonly address: string }>();

  constructor(options: TransparentNetworkOptions) {
    this.#options = options;
  }

  /** Services need nothing here: the app calls them by name, and the capture does the rest. */
  async place(key: string, podName: string, declaredPorts: readonly number[], _services: readonly ServicePortRef[]): Promise<ReplicaPlacement> {
    const namespace = key.slice(0, key.indexOf('.'));
    let pod = this.#pods.get(key);
    if (pod === undefined) {
      const added = await this.#options.network.addPod(`${namespace}-${podName}`);
      if (!added.ok) throw new Error(added.error);
      const applied = await applyCaptureRules(added.value.netns, captureRules({ proxyGid: PROXY_GID }));
      if (!applied.ok) throw new Error(applied.error);
      pod = { namespace, netns: added.value.netns, address: added.value.address };
      this.#pods.set(key, pod);
      await this.#writeEtc(pod);
    }
    const { netns, address } = pod;
    return {
      address,
      proxy: ownAddress(address),
      hostPorts: new Map(),
      proxyArgs: [],
      appPorts: new Map(declaredPorts.map((p) => [p, p])),
      // From the host, a connection to the pod's port is captured like any inbound one: the probe
      // passes through the sidecar, so a replica is ready when app and sidecar both are.
      probeHost: address,
      appEnv: {},
      proxyMetadata: {},
      command: (program, args, role) => PodNetwork.commandInPod(netns, program, args, role === 'proxy' ? { gid: PROXY_GID } : {}),
      release: async () => {
        this.#pods.delete(key);
        const removed = await this.#options.network.removePod(`${namespace}-${podName}`);
        if (!removed.ok) throw new Error(removed.error);
      },
    };
  }

  async gateway(): Promise<ProxyAddresses> {
    return ownAddress(this.#options.gatewayAddress);
  }

  async servicesChanged(): Promise<void> {
    for (const pod of this.#pods.values()) await this.#writeEtc(pod);
  }

  async close(): Promise<void> {
    this.#pods.clear();
    const closed = await this.#options.network.close();
    if (!closed.ok) throw new Error(closed.error);
  }

  /**
   * The pod's hosts file, and a resolv.conf whose server (the pod's own loopback, where nothing
   * answers) fails at once: pods reach nothing beyond the host, so a name outside the hosts file
   * would otherwise wait for the host's DNS server to time out.
   */
  async #writeEtc(pod: { readonly namespace: string; readonly netns: string }): Promise<void> {
    const written = await this.#options.network.hostsFile(pod.netns, this.#options.hosts(pod.namespace));
    if (!written.ok) throw new Error(written.error);
    const dir = join(this.#options.etcNetnsDir ?? '/etc/netns', pod.netns);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n', { mode: 0o644 });
  }
}
