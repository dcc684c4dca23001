import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ResourceRef, SourceFile } from '../config/index.ts';

/** One change the local API accepted, as it was given: files applied, or resources deleted. */
export type JournalEntry =
  | { readonly op: 'apply'; readonly files: readonly SourceFile[] }
  | { readonly op: 'delete'; readonly refs: readonly ResourceRef[] };

/**
 * The configuration of a local mesh, kept as the list of changes that made it (one JSON line
 * each) so that `weft up` after a stop replays them and resumes where it left off. Files are kept
 * with their text and their original path, so that messages name that path and a LocalWorkload's
 * relative workingDir still means the directory it was written in.
 */
export class ConfigJournal {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  /** The entries in the order they were accepted, and a message per line that could not be read. */
  read(): { entries: JournalEntry[]; problems: string[] } {
    if (!existsSync(this.#path)) return { entries: [], problems: [] };
    const entries: JournalEntry[] = [];
    const problems: string[] = [];
    readFileSync(this.#path, 'utf8').split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        const entry = JSON.parse(line) as JournalEntry;
        if (entry.op === 'apply' || entry.op === 'delete') entries.push(entry);
        else problems.push(`${this.#path}:${i + 1}: unknown entry`);
      } catch (error) {
        problems.push(`${this.#path}:${i + 1}: ${(error as Error).message}`);
      }
    });
    return { entries, problems };
  }

  append(entry: JournalEntry): void {
    mkdirSync(dirname(this.#path), { recursive: true });
    appendFileSync(this.#path, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  }
}
