import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Node } from 'yaml';
import type { Diagnostic, SourcePosition } from '../diagnostic.ts';
import type { SourceFile } from './source-file.ts';

/**
 * One object read from a file (a YAML document, a JSON document, or an item of a `kind: List`),
 * with the means to find where any of its fields was written.
 */
export interface ConfigDocument {
  readonly file: string;
  readonly value: unknown;
  readonly origin: SourcePosition;
  /**
   * Where the field at `path` was written. When the field is absent, the nearest written
   * ancestor; a key position for collections and missing fields, the value's position for scalars.
   */
  locate(path: readonly PropertyKey[], target?: 'key' | 'value'): SourcePosition;
}

export const YAML_SYNTAX_CODE = 'WFT0106';

/** Splits a file into documents; YAML and JSON syntax errors are findings, and the rest of the file still counts. */
export function readDocuments(source: SourceFile): { documents: ConfigDocument[]; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(source.text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const documents: ConfigDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  const position = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { file: source.name, line, column: col };
  };
  if (source.name.endsWith('.json')) {
    const problem = strictJsonProblem(source.text);
    if (problem !== undefined) {
      return { documents, diagnostics: [{ code: YAML_SYNTAX_CODE, level: 'Error', message: `invalid JSON: ${problem.message}`, origin: position(problem.offset) }] };
    }
  }
  const all = Array.isArray(parsed) ? parsed : [];
  for (const doc of all) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        diagnostics.push({
          code: YAML_SYNTAX_CODE,
          level: 'Error',
          message: `invalid YAML: ${yamlErrorText(e.code, e.message)}`,
          origin: position(e.pos[0]),
        });
      }
      continue;
    }
    const root = doc.contents;
    if (root === null || (isScalar(root) && (root.value === null || root.value === undefined))) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // An unquoted value that starts with '*' (`host: *.example.com`) is a YAML alias to an anchor that does not exist.
      const alias = /Unresolved alias.*?: \*?(\S+)/i.exec((e as Error).message);
      const text = alias !== null
        ? `a value starting with "*" must be quoted ("*${alias[1]}"): unquoted, YAML reads it as an alias to an anchor that does not exist`
        : (e as Error).message;
      const offset = alias !== null ? source.text.indexOf(`*${alias[1]}`, root.range?.[0] ?? 0) : (root.range?.[0] ?? 0);
      diagnostics.push({ code: YAML_SYNTAX_CODE, level: 'Error', message: `invalid YAML: ${text}`, origin: position(Math.max(offset, 0)) });
      continue;
    }
    const isList =
      typeof value === 'object' && value !== null && !Array.isArray(value) &&
      (value as Record<string, unknown>)['kind'] === 'List' && Array.isArray((value as Record<string, unknown>)['items']);
    if (isList) {
      const items = (value as { items: unknown[] }).items;
      items.forEach((item, index) => documents.push(makeDocument(source.name, item, root, ['items', index], position)));
    } else {
      documents.push(makeDocument(source.name, value, root, [], position));
    }
  }
  return { documents, diagnostics };
}

/** JSON files are held to JSON's grammar, which YAML's flow style would loosen (trailing commas, comments). */
function strictJsonProblem(text: string): { message: string; offset: number } | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (e) {
    const message = (e as Error).message;
    const at = /at position (\d+)/.exec(message);
    return { message: message.replace(/ in JSON at position \d+.*$/, '').replace(/ \(line \d+ column \d+\)$/, ''), offset: at !== null ? Number(at[1]) : 0 };
  }
}

function yamlErrorText(code: string, message: string): string {
  const firstLine = message.split('\n')[0] ?? message;
  return code === 'DUPLICATE_KEY' ? `${firstLine.replace(/ at line.*$/, '')} (a key appears twice in the same mapping)` : firstLine.replace(/ at line \d+, column \d+:?$/, '');
}

function makeDocument(
  file: string,
  value: unknown,
  root: Node,
  base: readonly PropertyKey[],
  position: (offset: number) => SourcePosition,
): ConfigDocument {
  const locate = (path: readonly PropertyKey[], target: 'key' | 'value' = 'value'): SourcePosition => {
    const full = [...base, ...path];
    let node: unknown = root;
    let lastKeyOffset = nodeOffset(root) ?? 0;
    for (let i = 0; i < full.length; i++) {
      const segment = full[i];
      let next: unknown;
      let keyOffset: number | undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(segment));
        if (pair !== undefined) {
          keyOffset = nodeOffset(pair.key);
          next = pair.value;
        }
      } else if (isSeq(node) && typeof segment === 'number') {
        next = node.items[segment];
        keyOffset = nodeOffset(next);
      }
      if (next === undefined && keyOffset === undefined) return position(lastKeyOffset);
      if (keyOffset !== undefined) lastKeyOffset = keyOffset;
      const isLast = i === full.length - 1;
      if (isLast) {
        if (target === 'key' || next === null || next === undefined || isMap(next) || isSeq(next)) return position(lastKeyOffset);
        return position(nodeOffset(next) ?? lastKeyOffset);
      }
      node = next;
    }
    return position(lastKeyOffset);
  };
  return { file, value, origin: locate([], 'key'), locate };
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function nodeOffset(node: unknown): number | undefined {
  if (node !== null && typeof node === 'object' && 'range' in node) {
    const range = (node as { range?: [number, number, number] }).range;
    if (range !== undefined) return range[0];
  }
  return undefined;
}
