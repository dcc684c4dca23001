import { isDeepStrictEqual } from 'node:util';
import type { ProxyView, Workload } from '../model/index.ts';
import { ListenerSet } from './listener-set.ts';
import type { WorkloadSource } from './workload-source.ts';

/** The label that places a workload on a network (Istio's `topology.istio.io/network`). */
const NETWORK_LABEL = 'topology.istio.io/network';
/** The label Istio's injector puts on a pod whose sidecar accepts mutual TLS. */
const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

/**
 * Says whether a workload takes traffic yet (Kubernetes' readiness; in local mode, the replica's
 * readiness probe). A workload the gate does not call ready is an unhealthy endpoint.
 */
export interface ReadinessGate {
  isReady(uid: string): boolean;
  /** Calls `listener` whenever readiness changed; returns the function that unsubscribes. */
  subscribe(listener: () => void): () => void;
}

interface Connection {
  readonly uid: string;
  readonly workload: Workload;
}

/**
 * The workloads whose sidecars are connected over ADS. A sidecar with an IP is a workload while
 * at least one of its connections is open; gateways (routers), proxyless gRPC clients and proxies
 * with no IP are not workloads (nothing routes to them as a service endpoint). A workload that
 * reconnects before its old stream closed stays one workload, described by its newest connection.
 * Its uid is `proxy/<namespace>/<pod name>`.
 */
export class ProxyWorkloadRegistry implements WorkloadSource {
  readonly #listeners = new ListenerSet<void>();
  readonly #connections = new Map<string, Connection>();
  /** The open connections of each workload, oldest first. */
  readonly #byUid = new Map<string, string[]>();
  #workloads: readonly Workload[] = [];
  readonly #readiness: ReadinessGate | undefined;

  /** Without a readiness gate, a connected sidecar's workload is ready at once. */
  constructor(options: { readonly readiness?: ReadinessGate } = {}) {
    this.#readiness = options.readiness;
    this.#readiness?.subscribe(() => this.#refresh());
  }

  /**
   * Records that `proxy` connected as `connectionId`. Returns the workload it counts as, or
   * undefined when it is not one. Registering a known connection again replaces what it said.
   */
  register(proxy: ProxyView, connectionId: string): Workload | undefined {
    const workload = proxyWorkload(proxy);
    const previous = this.#connections.get(connectionId);
    if (previous !== undefined) this.#detach(connectionId, previous.uid);
    if (workload !== undefined) {
      this.#connections.set(connectionId, { uid: workload.uid, workload });
      const ids = this.#byUid.get(workload.uid);
      if (ids === undefined) this.#byUid.set(workload.uid, [connectionId]);
      else ids.push(connectionId);
    } else {
      this.#connections.delete(connectionId);
    }
    this.#refresh();
    return workload;
  }

  /** Records that the connection closed; unknown ids are ignored (a proxy that was never a workload). */
  unregister(connectionId: string): void {
    const connection = this.#connections.get(connectionId);
    if (connection === undefined) return;
    this.#connections.delete(connectionId);
    this.#detach(connectionId, connection.uid);
    this.#refresh();
  }

  /** Sorted by uid; the same array until something changes. */
  workloads(): readonly Workload[] {
    return this.#workloads;
  }

  subscribe(listener: () => void): () => void {
    return this.#listeners.add(listener);
  }

  #detach(connectionId: string, uid: string): void {
    const ids = this.#byUid.get(uid)?.filter((id) => id !== connectionId) ?? [];
    if (ids.length > 0) this.#byUid.set(uid, ids);
    else this.#byUid.delete(uid);
  }

  #refresh(): void {
    const next = [...this.#byUid.entries()]
      .map(([, ids]) => this.#connections.get(ids[ids.length - 1]!)!.workload)
      .map((w) => (this.#readiness === undefined || this.#readiness.isReady(w.uid) ? w : { ...w, healthy: false }))
      .sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
    if (isDeepStrictEqual(next, this.#workloads)) return;
    this.#workloads = next;
    this.#listeners.notify();
  }
}

/** The workload a connected proxy stands for, or undefined when it is none. */
function proxyWorkload(proxy: ProxyView): Workload | undefined {
  const address = proxy.ipAddresses[0];
  if (proxy.kind !== 'sidecar' || proxy.generator === 'grpc' || address === undefined) return undefined;
  // The view's id is `<pod>.<namespace>`: the pod name tells replicas of one workload apart.
  const instance = proxy.id.endsWith(`.${proxy.namespace}`) ? proxy.id.slice(0, -proxy.namespace.length - 1) : proxy.id;
  return {
    uid: `proxy/${proxy.namespace}/${instance}`,
    name: proxy.workloadName,
    namespace: proxy.namespace,
    labels: proxy.labels,
    serviceAccount: proxy.serviceAccount,
    address,
    ports: proxy.ports,
    locality: proxy.locality,
    network: proxy.labels[NETWORK_LABEL] ?? '',
    weight: 1,
    healthy: true,
    // A sidecar accepts Istio mTLS unless its labels say it does not (as a pod's label would).
    tlsMode: proxy.labels[TLS_MODE_LABEL] === undefined || proxy.labels[TLS_MODE_LABEL] === 'istio' ? 'istio' : 'disabled',
    origin: 'proxy',
  };
}
