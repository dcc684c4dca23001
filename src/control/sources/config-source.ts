import type { AnyResource, Diagnostic } from '../../config/index.ts';

/**
 * The configuration in effect: validated resources, and what was refused. A resource that fails
 * validation never replaces a good one: the last good version keeps serving.
 */
export interface ConfigState {
  /** Increases with every change. */
  readonly revision: number;
  readonly resources: readonly AnyResource[];
  /** Why files or resources were refused (analyze messages), for the debug API and logs. */
  readonly diagnostics: readonly Diagnostic[];
}

/** Where configuration comes from: memory (tests, the local API), a directory of YAML, Kubernetes. */
export interface ConfigSource {
  current(): ConfigState;
  /** Calls `listener` after every change; returns the function that unsubscribes. */
  subscribe(listener: (state: ConfigState) => void): () => void;
  close(): Promise<void>;
}
