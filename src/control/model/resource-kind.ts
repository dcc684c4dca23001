import type { KindName } from '../../config/index.ts';

/** What can change generated config: a config kind, or the registry's workloads and endpoints. */
export type ResourceKind = KindName | 'Workload';
