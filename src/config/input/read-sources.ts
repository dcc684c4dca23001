import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import type { SourceFile } from './source-file.ts';

const CONFIG_EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface ReadSourcesOptions {
  /** Read when an argument is `-`. */
  readonly stdin?: () => string;
  /** Reported names are made relative to it when they lie below it. */
  readonly cwd?: string;
}

/**
 * Reads files, directories (recursively, `.yaml`, `.yml` and `.json` files in name order) and
 * `-` for standard input. A path that cannot be read is an error for the caller to report.
 */
export function readSources(paths: readonly string[], options: ReadSourcesOptions = {}): { sources: SourceFile[]; errors: string[] } {
  const sources: SourceFile[] = [];
  const errors: string[] = [];
  const display = (path: string): string => {
    if (options.cwd === undefined || !isAbsolute(path)) return path;
    const rel = relative(options.cwd, path);
    return rel.startsWith('..') ? path : rel;
  };
  const visit = (path: string, explicit: boolean): void => {
    let stat;
    try {
      stat = statSync(path);
    } catch {
      errors.push(`${display(path)}: no such file or directory`);
      return;
    }
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) {
        if (entry.startsWith('.')) continue;
        visit(join(path, entry), false);
      }
      return;
    }
    if (!explicit && !CONFIG_EXTENSIONS.some((ext) => path.endsWith(ext))) return;
    try {
      sources.push({ name: display(path), text: readFileSync(path, 'utf8') });
    } catch (e) {
      errors.push(`${display(path)}: ${(e as Error).message}`);
    }
  };
  for (const path of paths) {
    if (path === '-') {
      if (options.stdin === undefined) errors.push('-: standard input is not available');
      else sources.push({ name: '<stdin>', text: options.stdin() });
    } else {
      visit(path, true);
    }
  }
  return { sources, errors };
}
