import { stringify } from 'yaml';
import type { Command } from 'commander';
import {
  formatDiagnostic, LEVEL_RANK, Messages, parseSources, readSources, type Diagnostic, type KindRegistry, type Level,
} from '../../config/index.ts';
import { analyze, type Analyzer } from '../../config/analysis/index.ts';
import { CliExit, ExitStatus, type CliIo } from '../io.ts';

export interface AnalyzeDeps {
  readonly io: CliIo;
  readonly kinds: KindRegistry;
  readonly analyzers: readonly Analyzer[];
}

interface AnalyzeOptions {
  readonly filename: string[];
  readonly output: string;
  readonly namespace: string;
  readonly failureThreshold: string;
  readonly outputThreshold: string;
}

const LEVELS: readonly Level[] = ['Info', 'Warning', 'Error'];
const NAME_BY_CODE = new Map(Object.values(Messages).map((m) => [m.code, m.name]));

export function registerAnalyze(program: Command, deps: AnalyzeDeps): void {
  program
    .command('analyze')
    .description('Analyze Istio configuration files offline and report problems, like istioctl analyze')
    .argument('[files...]', 'files or directories to analyze (as with -f)')
    .option('-f, --filename <path>', 'a file, a directory (read recursively) or - for standard input; repeatable', collect, [])
    .option('-o, --output <format>', 'output format: text, json or yaml', 'text')
    .option('-n, --namespace <name>', 'the namespace of resources that name none', 'default')
    .option('--failure-threshold <level>', 'the lowest level that makes the exit status non-zero: Info, Warning or Error', 'Error')
    .option('--output-threshold <level>', 'the lowest level printed: Info, Warning or Error', 'Info')
    .action((files: string[], options: AnalyzeOptions) => runAnalyze([...options.filename, ...files], options, deps));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseLevel(flag: string, value: string): Level {
  const level = LEVELS.find((l) => l.toLowerCase() === value.toLowerCase());
  if (level === undefined) throw new CliExit(ExitStatus.usage, `${flag} must be one of ${LEVELS.join(', ')}, got "${value}"`);
  return level;
}

function runAnalyze(paths: string[], options: AnalyzeOptions, deps: AnalyzeDeps): void {
  const { io } = deps;
  if (!['text', 'json', 'yaml'].includes(options.output)) throw new CliExit(ExitStatus.usage, `--output must be text, json or yaml, got "${options.output}"`);
  const failureThreshold = parseLevel('--failure-threshold', options.failureThreshold);
  const outputThreshold = parseLevel('--output-threshold', options.outputThreshold);
  if (paths.length === 0) throw new CliExit(ExitStatus.usage, 'nothing to analyze: give files or directories (weft analyze -f DIR), or -f - for standard input');

  const read = readSources(paths, { stdin: io.readStdin, cwd: io.cwd });
  if (read.errors.length > 0) throw new CliExit(ExitStatus.usage, read.errors.join('\n'));
  const parsed = parseSources(read.sources, { kinds: deps.kinds, defaultNamespace: options.namespace });
  const findings = sortDiagnostics([...parsed.diagnostics, ...analyze(parsed.resources, { analyzers: deps.analyzers })]);
  const shown = findings.filter((d) => LEVEL_RANK[d.level] >= LEVEL_RANK[outputThreshold]);
  const namespaces = [...new Set(parsed.resources.map((r) => r.namespace).filter((n) => n !== ''))].sort();
  const scope = namespaces.length > 1 ? `namespaces: ${namespaces.join(', ')}` : `namespace: ${namespaces[0] ?? options.namespace}`;

  if (options.output === 'text') {
    if (shown.length === 0) io.stdout(`✔ No validation issues found when analyzing ${scope}.\n`);
    else io.stdout(shown.map((d) => `${formatDiagnostic(d)}\n`).join(''));
  } else {
    const records = shown.map(toRecord);
    io.stdout(options.output === 'json' ? `${JSON.stringify(records, null, 2)}\n` : stringify(records));
  }
  const failed = findings.some((d) => LEVEL_RANK[d.level] >= LEVEL_RANK[failureThreshold]);
  if (failed) {
    throw new CliExit(
      ExitStatus.analysisFailed,
      `Error: Analyzers found issues when analyzing ${scope}.\nSee docs/analysis.md for the meaning of each code and how to fix it.`,
    );
  }
}

function sortDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) =>
    (a.origin?.file ?? '').localeCompare(b.origin?.file ?? '') ||
    (a.origin?.line ?? 0) - (b.origin?.line ?? 0) ||
    (a.origin?.column ?? 0) - (b.origin?.column ?? 0) ||
    a.code.localeCompare(b.code));
}

function toRecord(d: Diagnostic): Record<string, unknown> {
  return {
    code: d.code,
    level: d.level,
    name: NAME_BY_CODE.get(d.code) ?? d.code,
    message: d.message,
    ...(d.resource !== undefined ? { resource: d.resource } : {}),
    ...(d.origin !== undefined ? { origin: d.origin } : {}),
    ...(d.path !== undefined ? { path: d.path } : {}),
  };
}
