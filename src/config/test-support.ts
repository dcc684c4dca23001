/** Helpers shared by the config tests; only tests import this module. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { builtinKinds, formatDiagnostic, ofKind, parseSources, type KindName, type ParsedConfig } from './index.ts';

/** Parses YAML `text` with the built-in kinds, as the file `name`. */
export function parseYaml(text: string, name = 'test.yaml'): ParsedConfig {
  return parseSources([{ name, text }], { kinds: builtinKinds() });
}

/** The diagnostics of `result`, each as `path: message`. */
export function problems(result: ParsedConfig): string[] {
  return result.diagnostics.map((d) => `${d.path ?? ''}: ${d.message}`);
}

/** Asserts that `result` is one resource with no diagnostics. */
export function assertValid(result: ParsedConfig): void {
  assert.deepEqual(problems(result), []);
  assert.equal(result.resources.length, 1);
}

const SEED_DIRECTORY = fileURLToPath(new URL('../../../shared/seed-examples/', import.meta.url));

/** The names of the seed example files that match `pattern`, sorted. */
export function seedFiles(pattern = /\.yaml$/): string[] {
  return readdirSync(SEED_DIRECTORY).filter((file) => pattern.test(file)).sort();
}

/** The text of the seed example file `file`. */
export function seedText(file: string): string {
  return readFileSync(SEED_DIRECTORY + file, 'utf8');
}

/** Parses the seed example file `file`, under its own name. */
export function parseSeed(file: string): ParsedConfig {
  return parseYaml(seedText(file), file);
}

/** Parses each of the seed example files `files`, asserts that none of its diagnostics is about a `kind`, and counts the resources of that kind. */
export function countAcceptedSeedResources(kind: KindName, files: readonly string[]): number {
  let count = 0;
  for (const file of files) {
    const result = parseSeed(file);
    assert.deepEqual(result.diagnostics.filter((d) => d.resource?.kind === kind).map(formatDiagnostic), [], file);
    count += ofKind(result.resources, kind).length;
  }
  return count;
}

/** Indents each line of `yaml`, written from column 0, by `by`, once the white space around it is trimmed. */
export function indent(yaml: string, by = '  '): string {
  return yaml.trim().split('\n').map((line) => `${by}${line}`).join('\n');
}

/** The YAML text of one resource; `spec` is YAML written from column 0. */
export function resourceYaml(apiVersion: string, kind: string, spec: string, metadata: { name: string; namespace: string }): string {
  return `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: ${metadata.name}\n  namespace: ${metadata.namespace}\nspec:\n${indent(spec)}\n`;
}
