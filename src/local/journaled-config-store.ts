import { parseSources, resourceRef, type AnyResource, type Diagnostic, type KindRegistry, type ResourceRef, type SourceFile } from '../config/index.ts';
import { analyze, type Analyzer } from '../config/analysis/index.ts';
import { err, ok, type Result } from '../core/index.ts';
import type { ConfigJournal } from './config-journal.ts';
import type { LocalConfigStore } from './local-api.ts';

/** The parts of the control plane's in-memory configuration source the store drives. */
export interface MutableConfig {
  current(): { readonly resources: readonly AnyResource[] };
  apply(resources: readonly AnyResource[]): Result<{ readonly changes: readonly { readonly resource: ResourceRef; readonly action: string }[] }, Diagnostic[]>;
  delete(input: readonly ResourceRef[]): Result<{ readonly deleted: readonly ResourceRef[]; readonly notFound: readonly ResourceRef[] }, Diagnostic[]>;
}

/**
 * The local mesh's configuration as `weft apply` and `weft delete` change it: a change is
 * validated first, as a whole (every resource parsed and checked; then the configuration it would
 * make analyzed, and refused if the analysis finds an error in a resource it touches), so that a
 * refused change loses nothing; an accepted one is written to the journal, which `weft up`
 * replays after a stop.
 */
export class JournaledConfigStore implements LocalConfigStore {
  readonly #config: MutableConfig;
  readonly #journal: ConfigJournal;
  readonly #kinds: KindRegistry;
  readonly #analyzers: readonly Analyzer[];

  constructor(options: { config: MutableConfig; journal: ConfigJournal; kinds: KindRegistry; analyzers: readonly Analyzer[] }) {
    this.#config = options.config;
    this.#journal = options.journal;
    this.#kinds = options.kinds;
    this.#analyzers = options.analyzers;
  }

  /** Replays the journal; returns what could not be replayed (a file that is no longer valid is skipped, with why). */
  replay(): string[] {
    const { entries, problems } = this.#journal.read();
    for (const entry of entries) {
      const result = entry.op === 'apply' ? this.#apply(entry.files) : this.#config.delete(entry.refs);
      if (!result.ok) problems.push(...result.error.map((d) => `replaying the saved configuration: ${d.message}`));
    }
    return problems;
  }

  apply(files: readonly SourceFile[]): ReturnType<LocalConfigStore['apply']> {
    const result = this.#apply(files);
    if (result.ok) this.#journal.append({ op: 'apply', files });
    return result;
  }

  delete(input: readonly SourceFile[] | readonly ResourceRef[]): ReturnType<LocalConfigStore['delete']> {
    let refs: readonly ResourceRef[];
    if (input.length > 0 && 'text' in input[0]!) {
      const parsed = this.#parse(input as readonly SourceFile[]);
      if (!parsed.ok) return parsed;
      refs = parsed.value.map(resourceRef);
    } else {
      refs = input as readonly ResourceRef[];
    }
    const result = this.#config.delete(refs);
    if (result.ok && result.value.deleted.length > 0) this.#journal.append({ op: 'delete', refs: result.value.deleted });
    return result;
  }

  resources(): readonly AnyResource[] {
    return this.#config.current().resources;
  }

  #apply(files: readonly SourceFile[]): ReturnType<LocalConfigStore['apply']> {
    const parsed = this.#parse(files);
    if (!parsed.ok) return parsed;
    const touched = new Set(parsed.value.map((r) => refKey(resourceRef(r))));
    const next = [...this.#config.current().resources.filter((r) => !touched.has(refKey(resourceRef(r)))), ...parsed.value];
    const findings = analyze(next, { analyzers: this.#analyzers }).filter((d) => d.resource !== undefined && touched.has(refKey(d.resource)));
    const errors = findings.filter((d) => d.level === 'Error');
    if (errors.length > 0) return err(errors);
    const applied = this.#config.apply(parsed.value);
    if (!applied.ok) return applied;
    return ok({ changes: applied.value.changes, warnings: findings.filter((d) => d.level === 'Warning') });
  }

  #parse(files: readonly SourceFile[]): Result<AnyResource[], Diagnostic[]> {
    const parsed = parseSources(files, { kinds: this.#kinds });
    const errors = parsed.diagnostics.filter((d) => d.level === 'Error');
    return errors.length > 0 ? err(errors) : ok(parsed.resources);
  }
}

function refKey(ref: ResourceRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}
