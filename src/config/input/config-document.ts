import { CORE_SCHEMA, load, mergeTag } from 'js-yaml';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
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

/** YAML 1.2 core schema plus merge keys (`<<: *anchor`), which Kubernetes' YAML reader also accepts. */
const SCHEMA = CORE_SCHEMA.withTags(mergeTag);

/** A document's text within its file. */
interface Chunk {
  readonly text: string;
  /** 1-based line of the chunk's first line in the file. */
  readonly line: number;
}

/**
 * Splits a file into documents; YAML and JSON syntax errors are findings, and the rest of the file
 * still counts. Values come from js-yaml, which is fast; positions come from the `yaml` library,
 * which keeps them, and only for a document whose positions are asked for (an error or a finding).
 */
export function readDocuments(source: SourceFile): { documents: ConfigDocument[]; diagnostics: Diagnostic[] } {
  const documents: ConfigDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  if (source.name.endsWith('.json')) {
    const problem = strictJsonProblem(source.text);
    if (problem !== undefined) {
      const before = source.text.slice(0, problem.offset).split('\n');
      const origin = { file: source.name, line: before.length, column: (before[before.length - 1]?.length ?? 0) + 1 };
      return { documents, diagnostics: [{ code: YAML_SYNTAX_CODE, level: 'Error', message: `invalid JSON: ${problem.message}`, origin }] };
    }
  }
  for (const chunk of splitDocuments(source.text)) {
    const first = firstContentLine(chunk);
    if (first === undefined) continue;
    let value: unknown;
    try {
      value = load(chunk.text, { schema: SCHEMA });
    } catch (e) {
      diagnostics.push(...syntaxDiagnostics(source.name, chunk, e as Error));
      continue;
    }
    if (value === null || value === undefined) continue;
    const locate = lazyLocator(source.name, chunk);
    const isList =
      typeof value === 'object' && !Array.isArray(value) &&
      (value as Record<string, unknown>)['kind'] === 'List' && Array.isArray((value as Record<string, unknown>)['items']);
    if (isList) {
      (value as { items: unknown[] }).items.forEach((item, index) => {
        const base = ['items', index] as const;
        const locateItem = (path: readonly PropertyKey[], target: 'key' | 'value' = 'value') => locate([...base, ...path], target);
        documents.push({ file: source.name, value: item, origin: locateItem([], 'key'), locate: locateItem });
      });
    } else {
      documents.push({ file: source.name, value, origin: { file: source.name, ...first }, locate });
    }
  }
  return { documents, diagnostics };
}

const DOCUMENT_START = /^---(?=[ \t]|$)/;
const DOCUMENT_END = /^\.\.\.(?=[ \t]|$)/;

/** YAML forbids `---` and `...` at the start of a line inside content, so they always separate documents. */
function splitDocuments(text: string): Chunk[] {
  const lines = text.split('\n');
  const chunks: Chunk[] = [];
  let start = 0;
  const flush = (end: number) => {
    if (end > start) chunks.push({ text: lines.slice(start, end).join('\n'), line: start + 1 });
  };
  lines.forEach((line, i) => {
    if (DOCUMENT_START.test(line)) {
      flush(i);
      start = i;
    } else if (DOCUMENT_END.test(line)) {
      flush(i);
      start = i + 1;
    }
  });
  flush(lines.length);
  return chunks;
}

/** Where a document's content begins, or undefined for a document of comments and blank lines only. */
function firstContentLine(chunk: Chunk): { line: number; column: number } | undefined {
  const lines = chunk.text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    let offset = 0;
    if (DOCUMENT_START.test(line)) {
      const rest = line.slice(3).replace(/^[ \t]+/, '');
      offset = line.length - rest.length;
      line = rest;
    }
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed.startsWith('#') || (offset === 0 && trimmed.startsWith('%'))) continue;
    return { line: chunk.line + i, column: offset + line.length - trimmed.length + 1 };
  }
  return undefined;
}

function syntaxDiagnostics(file: string, chunk: Chunk, error: Error): Diagnostic[] {
  const at = (line: number, column: number): SourcePosition => ({ file, line: chunk.line + line - 1, column });
  const alias = /unidentified alias "([^"]*)"/.exec(error.message);
  const mark = (error as { mark?: { line: number; column: number } }).mark;
  if (alias !== null && mark !== undefined) {
    // An unquoted value that starts with '*' (`host: *.example.com`) is a YAML alias to an anchor that does not exist.
    return [{
      code: YAML_SYNTAX_CODE,
      level: 'Error',
      message: `invalid YAML: a value starting with "*" must be quoted ("*${alias[1]}"): unquoted, YAML reads it as an alias to an anchor that does not exist`,
      origin: at(mark.line + 1, Math.max(mark.column, 1)),
    }];
  }
  // The `yaml` library words syntax errors better; js-yaml's own message is the fallback.
  const lineCounter = new LineCounter();
  const doc = parseDocument(chunk.text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return doc.errors.map((e) => {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      return { code: YAML_SYNTAX_CODE, level: 'Error', message: `invalid YAML: ${yamlErrorText(e.code, e.message)}`, origin: at(line, col) };
    });
  }
  const text = error.message.split('\n')[0]!.replace(/ \(\d+:\d+\)$/, '');
  return [{ code: YAML_SYNTAX_CODE, level: 'Error', message: `invalid YAML: ${text}`, origin: at((mark?.line ?? 0) + 1, (mark?.column ?? 0) + 1) }];
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

/** A locator that parses its document with positions on first use and keeps the result. */
function lazyLocator(file: string, chunk: Chunk): ConfigDocument['locate'] {
  let parsed: { root: Node | null; lineCounter: LineCounter } | undefined;
  return (path, target = 'value') => {
    if (parsed === undefined) {
      const lineCounter = new LineCounter();
      const doc = parseDocument(chunk.text, { lineCounter, uniqueKeys: false });
      parsed = { root: doc.contents, lineCounter };
    }
    const { root, lineCounter } = parsed;
    const position = (offset: number): SourcePosition => {
      const { line, col } = lineCounter.linePos(offset);
      return { file, line: chunk.line + line - 1, column: col };
    };
    return locateIn(root, path, target, position);
  };
}

function locateIn(root: Node | null, path: readonly PropertyKey[], target: 'key' | 'value', position: (offset: number) => SourcePosition): SourcePosition {
  let node: unknown = root;
  let lastKeyOffset = nodeOffset(root) ?? 0;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    let next: unknown;
    let keyOffset: number | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
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
    if (i === path.length - 1) {
      if (target === 'key' || next === null || next === undefined || isMap(next) || isSeq(next)) return position(lastKeyOffset);
      return position(nodeOffset(next) ?? lastKeyOffset);
    }
    node = next;
  }
  return position(lastKeyOffset);
}

function nodeOffset(node: unknown): number | undefined {
  if (node !== null && typeof node === 'object' && 'range' in node) {
    const range = (node as { range?: [number, number, number] }).range;
    if (range !== undefined) return range[0];
  }
  return undefined;
}
