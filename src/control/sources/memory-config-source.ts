import {
  builtinKinds, parseSources, resourceRef,
  type AnyResource, type Diagnostic, type KindRegistry, type ResourceRef, type SourceFile,
} from '../../config/index.ts';
import { err, ok, type Result } from '../../core/index.ts';
import { analyze, builtinAnalyzers, type Analyzer } from '../../config/analysis/index.ts';
import type { ConfigSource, ConfigState } from './config-source.ts';
import { ListenerSet } from './listener-set.ts';
import { duplicateResource, resourceKey } from './resource-key.ts';
import { sameResource } from './same-config.ts';

export interface MemoryConfigSourceOptions {
  /** The kinds YAML is read with (built-in kinds when left out). */
  readonly kinds?: KindRegistry;
  /** The namespace of resources that name none (`default` when left out). */
  readonly defaultNamespace?: string;
  /** Cross-resource checks whose findings fill `diagnostics`; `[]` runs none. Every built-in analyzer when left out. */
  readonly analyzers?: readonly Analyzer[];
}

/** What an apply did to one resource, in kubectl's words. */
export interface ResourceChange {
  readonly resource: ResourceRef;
  readonly action: 'created' | 'configured' | 'unchanged';
}

export interface ApplyOutcome {
  readonly state: ConfigState;
  readonly changes: readonly ResourceChange[];
}

export interface DeleteOutcome {
  readonly state: ConfigState;
  readonly deleted: readonly ResourceRef[];
  readonly notFound: readonly ResourceRef[];
}

/**
 * Configuration held in memory, changed by `apply` and `delete` (tests, the local API). A change
 * is validated as a whole before anything is touched: a batch with any error is refused with its
 * diagnostics and the configuration stays as it was.
 */
export class MemoryConfigSource implements ConfigSource {
  readonly #kinds: KindRegistry;
  readonly #defaultNamespace: string | undefined;
  readonly #analyzers: readonly Analyzer[];
  readonly #listeners = new ListenerSet<ConfigState>();
  /** In the order resources were first applied; a reapplied resource keeps its place. */
  readonly #resources = new Map<string, AnyResource>();
  #state: ConfigState = { revision: 0, resources: [], diagnostics: [] };

  constructor(options: MemoryConfigSourceOptions = {}) {
    this.#kinds = options.kinds ?? builtinKinds();
    this.#defaultNamespace = options.defaultNamespace;
    this.#analyzers = options.analyzers ?? builtinAnalyzers();
  }

  current(): ConfigState {
    return this.#state;
  }

  subscribe(listener: (state: ConfigState) => void): () => void {
    return this.#listeners.add(listener);
  }

  /**
   * Creates or replaces resources, given as YAML/JSON files or as resources already validated.
   * Refused as a whole, with every diagnostic, when anything in it has an error (including the
   * same resource twice). Listeners hear of it only when some resource actually changed.
   */
  apply(input: readonly SourceFile[] | readonly AnyResource[]): Result<ApplyOutcome, Diagnostic[]> {
    const read = this.#read(input);
    if (!read.ok) return read;
    const changes: ResourceChange[] = [];
    for (const resource of read.value) {
      const key = resourceKey(resource);
      const existing = this.#resources.get(key);
      const action = existing === undefined ? 'created' : sameResource(existing, resource) ? 'unchanged' : 'configured';
      if (action !== 'unchanged') this.#resources.set(key, resource);
      changes.push({ resource: resourceRef(resource), action });
    }
    if (changes.some((c) => c.action !== 'unchanged')) this.#commit();
    return ok({ state: this.#state, changes });
  }

  /**
   * Removes resources, named directly or by the files that define them (as `kubectl delete -f`;
   * such files are validated like an apply). Names that are not present are reported, not an error.
   */
  delete(input: readonly ResourceRef[] | readonly SourceFile[]): Result<DeleteOutcome, Diagnostic[]> {
    let refs: readonly ResourceRef[];
    if (isSourceFiles(input)) {
      const read = this.#read(input);
      if (!read.ok) return read;
      refs = read.value.map(resourceRef);
    } else {
      refs = input;
    }
    const deleted: ResourceRef[] = [];
    const notFound: ResourceRef[] = [];
    for (const ref of refs) {
      if (this.#resources.delete(resourceKey(ref))) deleted.push(ref);
      else notFound.push(ref);
    }
    if (deleted.length > 0) this.#commit();
    return ok({ state: this.#state, deleted, notFound });
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }

  #read(input: readonly SourceFile[] | readonly AnyResource[]): Result<readonly AnyResource[], Diagnostic[]> {
    if (isSourceFiles(input)) {
      const parsed = parseSources(input, { kinds: this.#kinds, ...(this.#defaultNamespace !== undefined ? { defaultNamespace: this.#defaultNamespace } : {}) });
      return parsed.diagnostics.some((d) => d.level === 'Error') ? err(parsed.diagnostics) : ok(parsed.resources);
    }
    const seen = new Map<string, AnyResource>();
    const duplicates: Diagnostic[] = [];
    for (const resource of input) {
      const first = seen.get(resourceKey(resource));
      if (first !== undefined) duplicates.push(duplicateResource(resource, first));
      else seen.set(resourceKey(resource), resource);
    }
    return duplicates.length > 0 ? err(duplicates) : ok(input);
  }

  #commit(): void {
    const resources = [...this.#resources.values()];
    const diagnostics = this.#analyzers.length > 0 ? analyze(resources, { analyzers: this.#analyzers }) : [];
    this.#state = { revision: this.#state.revision + 1, resources, diagnostics };
    this.#listeners.notify(this.#state);
  }
}

function isSourceFiles(input: readonly SourceFile[] | readonly ResourceRef[] | readonly AnyResource[]): input is readonly SourceFile[] {
  const first = input[0];
  return first !== undefined && 'text' in first;
}
