import type { Timers } from '../../core/index.ts';
import { watch } from 'node:fs';
import { sep } from 'node:path';
import {
  builtinKinds, formatDiagnostic, parseSources, readSources,
  type AnyResource, type Diagnostic, type KindRegistry, type Level,
} from '../../config/index.ts';
import { err, ok, type Result } from '../../core/index.ts';
import { analyze, builtinAnalyzers, type Analyzer } from '../../config/analysis/index.ts';
import type { ConfigSource, ConfigState } from './config-source.ts';
import { ListenerSet } from './listener-set.ts';
import { duplicateResource, resourceKey } from './resource-key.ts';
import { sameConfig } from './same-config.ts';

/** Where the source reports what it refused and why; diagnostics arrive formatted like `weft analyze`. */
export type ConfigLog = (level: Level, message: string) => void;

/** The timer functions the debounce uses, injected so that tests control time. */
export type { Timers };

/** Calls `onChange` when anything below `directory` may have changed, until closed. */
export type WatchDirectory = (directory: string, onChange: () => void, onError: (error: Error) => void) => { close(): void };

export interface FileConfigSourceOptions {
  /** The directory read recursively (`.yaml`, `.yml`, `.json`; dot files and dot directories are skipped). */
  readonly directory: string;
  readonly kinds?: KindRegistry;
  /** The namespace of resources that name none (`default` when left out). */
  readonly defaultNamespace?: string;
  /** Cross-resource checks whose findings fill `diagnostics`; `[]` runs none. Every built-in analyzer when left out. */
  readonly analyzers?: readonly Analyzer[];
  readonly log?: ConfigLog;
  /** How long the directory must stay quiet after a change before it is read again. 50 ms when left out. */
  readonly debounceMs?: number;
  readonly timers?: Timers;
  /** Watches the directory; `false` watches nothing (changes are read by `reload()` only). `fs.watch` when left out. */
  readonly watch?: WatchDirectory | false;
}

/** What one file contributes. */
interface FileEntry {
  /** The text last read. */
  readonly text: string;
  /** The resources of the last version that was valid (none when no version was). */
  readonly resources: readonly AnyResource[];
  /** The findings about the text last read: its errors when it was refused. */
  readonly diagnostics: readonly Diagnostic[];
  readonly refused: boolean;
}

const DEFAULT_DEBOUNCE_MS = 50;

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const watchRecursively: WatchDirectory = (directory, onChange, onError) => {
  const watcher = watch(directory, { recursive: true }, () => onChange());
  watcher.on('error', onError);
  return watcher;
};

/**
 * The configuration of a directory of YAML and JSON files (local mode), read again when files
 * change. A file is applied as a whole or not at all: a file with any error is reported and its
 * last good version keeps serving, so a bad edit never empties a proxy's configuration. A deleted
 * file withdraws its resources. When files define the same resource, the first file by name wins
 * (WFT0115). Analyzer findings are reported but never keep a file out.
 */
export class FileConfigSource implements ConfigSource {
  readonly #directory: string;
  readonly #kinds: KindRegistry;
  readonly #defaultNamespace: string | undefined;
  readonly #analyzers: readonly Analyzer[];
  readonly #log: ConfigLog;
  readonly #debounceMs: number;
  readonly #timers: Timers;
  readonly #watch: WatchDirectory | false;
  readonly #listeners = new ListenerSet<ConfigState>();
  /** By file name, in the order files are read (path components in code-unit order). */
  #files = new Map<string, FileEntry>();
  #state: ConfigState = { revision: 0, resources: [], diagnostics: [] };
  #watcher: { close(): void } | undefined;
  #pending: unknown;
  #closed = false;

  constructor(options: FileConfigSourceOptions) {
    this.#directory = options.directory;
    this.#kinds = options.kinds ?? builtinKinds();
    this.#defaultNamespace = options.defaultNamespace;
    this.#analyzers = options.analyzers ?? builtinAnalyzers();
    this.#log = options.log ?? (() => {});
    this.#debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.#timers = options.timers ?? defaultTimers;
    this.#watch = options.watch ?? watchRecursively;
  }

  /**
   * Starts watching, then reads the directory. Fails when the directory cannot be read or watched.
   * Watching starts first so that a change made during the first read is not missed.
   */
  start(): Result<ConfigState, string> {
    if (this.#closed) return err('the source is closed');
    if (this.#watch !== false && this.#watcher === undefined) {
      try {
        this.#watcher = this.#watch(this.#directory, () => this.#schedule(), (error) => this.#log('Error', `${this.#directory}: watching failed: ${error.message}`));
      } catch (error) {
        return err(`${this.#directory}: cannot watch: ${(error as Error).message}`);
      }
    }
    const read = readSources([this.#directory]);
    const rootError = read.errors.find((e) => e.startsWith(`${this.#directory}: `));
    if (rootError !== undefined) {
      this.#stopWatching();
      return err(rootError);
    }
    return ok(this.#apply(read));
  }

  current(): ConfigState {
    return this.#state;
  }

  subscribe(listener: (state: ConfigState) => void): () => void {
    return this.#listeners.add(listener);
  }

  /** Reads the directory again now (a change waiting for its debounce is read by this call). */
  reload(): ConfigState {
    this.#cancelPending();
    if (this.#closed) return this.#state;
    const read = readSources([this.#directory]);
    const rootError = read.errors.find((e) => e.startsWith(`${this.#directory}: `));
    if (rootError !== undefined) {
      // The directory itself is gone or unreadable: keep serving what was read last.
      this.#log('Error', `${rootError}; keeping the configuration read last`);
      return this.#state;
    }
    return this.#apply(read);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#cancelPending();
    this.#stopWatching();
    this.#listeners.clear();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#cancelPending();
    this.#pending = this.#timers.setTimeout(() => {
      this.#pending = undefined;
      this.reload();
    }, this.#debounceMs);
  }

  #cancelPending(): void {
    if (this.#pending === undefined) return;
    this.#timers.clearTimeout(this.#pending);
    this.#pending = undefined;
  }

  #stopWatching(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #apply(read: { sources: readonly { name: string; text: string }[]; errors: readonly string[] }): ConfigState {
    const files = new Map<string, FileEntry>();
    let filesChanged = false;
    for (const source of read.sources) {
      const previous = this.#files.get(source.name);
      if (previous !== undefined && previous.text === source.text) {
        files.set(source.name, previous);
        continue;
      }
      filesChanged = true;
      files.set(source.name, this.#parse(source, previous));
    }
    for (const error of read.errors) {
      // A file that could not be read this time (being replaced, permissions) keeps what it had.
      const name = [...this.#files.keys()].find((n) => error.startsWith(`${n}: `));
      const previous = name !== undefined ? this.#files.get(name) : undefined;
      if (name !== undefined && previous !== undefined) files.set(name, previous);
      this.#log('Error', `${error}; ${previous !== undefined && previous.resources.length > 0 ? 'keeping its last good version' : 'skipped'}`);
    }
    for (const [name, entry] of this.#files) {
      if (files.has(name)) continue;
      filesChanged = true;
      if (entry.resources.length > 0) this.#log('Info', `${name}: removed; withdrawing its ${count(entry.resources.length, 'resource')}`);
    }
    if (!filesChanged) return this.#state;
    this.#files = new Map([...files].sort(([a], [b]) => comparePaths(a, b)));
    return this.#publish();
  }

  #parse(source: { name: string; text: string }, previous: FileEntry | undefined): FileEntry {
    const parsed = parseSources([source], { kinds: this.#kinds, ...(this.#defaultNamespace !== undefined ? { defaultNamespace: this.#defaultNamespace } : {}) });
    const errors = parsed.diagnostics.filter((d) => d.level === 'Error');
    if (errors.length === 0) return { text: source.text, resources: parsed.resources, diagnostics: parsed.diagnostics, refused: false };
    const kept = previous?.resources ?? [];
    this.#log('Error', `${source.name}: not applied, ${count(errors.length, 'error')}; ${kept.length > 0 ? `keeping its last good version (${count(kept.length, 'resource')})` : 'it has no good version to keep'}`);
    return { text: source.text, resources: kept, diagnostics: parsed.diagnostics, refused: true };
  }

  #publish(): ConfigState {
    const resources: AnyResource[] = [];
    const fileDiagnostics: Diagnostic[] = [];
    const duplicates: Diagnostic[] = [];
    const seen = new Map<string, AnyResource>();
    for (const entry of this.#files.values()) {
      fileDiagnostics.push(...entry.diagnostics);
      for (const resource of entry.resources) {
        const key = resourceKey(resource);
        const first = seen.get(key);
        if (first !== undefined) {
          duplicates.push(duplicateResource(resource, first));
          continue;
        }
        seen.set(key, resource);
        resources.push(resource);
      }
    }
    const findings = this.#analyzers.length > 0 ? analyze(resources, { analyzers: this.#analyzers }) : [];
    const next = { resources, diagnostics: [...fileDiagnostics, ...duplicates, ...findings] };
    if (sameConfig(this.#state, next)) return this.#state;

    const reported = new Set(this.#state.diagnostics.map(formatDiagnostic));
    for (const d of next.diagnostics) {
      const line = formatDiagnostic(d);
      if (!reported.has(line)) this.#log(d.level, line);
    }
    this.#state = { revision: this.#state.revision + 1, ...next };
    try {
      this.#listeners.notify(this.#state);
    } catch (error) {
      // Reloads run from a timer: a failing subscriber is reported, never allowed to stop the watch.
      this.#log('Error', `a configuration subscriber failed: ${(error as Error).message}`);
    }
    return this.#state;
  }
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** The order `readSources` reads files in: path component by component, in code-unit order. */
function comparePaths(a: string, b: string): number {
  const pa = a.split(sep);
  const pb = b.split(sep);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}
