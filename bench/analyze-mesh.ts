/**
 * Parse, validate and analyze a generated mesh of 1,000 services (4,000 resources), next to the
 * floor of doing nothing but parsing the same YAML text (with js-yaml, which Weft reads values
 * with, and with the \`yaml\` library, which keeps positions). Each measurement runs in a fresh child
 * process so that peak memory (max RSS) belongs to that step alone.
 *
 *   node bench/analyze-mesh.ts [--services N] [--runs R]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import { parseAllDocuments } from 'yaml';
import { builtinKinds, parseSources } from '../src/config/index.ts';
import { analyze, builtinAnalyzers } from '../src/config/analysis/index.ts';
import { generateMesh } from './mesh-generator.ts';

type Step = 'yaml-only' | 'js-yaml-only' | 'weft-analyze';

interface Sample {
  readonly ms: number;
  readonly parseMs: number;
  readonly analyzeMs: number;
  readonly maxRssMiB: number;
  readonly resources: number;
  readonly findings: number;
}

function measure(step: Step, services: number): Sample {
  const text = generateMesh(services);
  const baseline = process.resourceUsage().maxRSS / 1024;
  const start = performance.now();
  let parseMs = 0;
  let analyzeMs = 0;
  let resources = 0;
  let findings = 0;
  if (step === 'yaml-only') {
    resources = parseAllDocuments(text).length;
    parseMs = performance.now() - start;
  } else if (step === 'js-yaml-only') {
    resources = loadAll(text).length;
    parseMs = performance.now() - start;
  } else {
    const parsed = parseSources([{ name: 'mesh.yaml', text }], { kinds: builtinKinds() });
    parseMs = performance.now() - start;
    const t = performance.now();
    findings = parsed.diagnostics.length + analyze(parsed.resources, { analyzers: builtinAnalyzers() }).length;
    analyzeMs = performance.now() - t;
    resources = parsed.resources.length;
  }
  const ms = performance.now() - start;
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  return { ms, parseMs, analyzeMs, maxRssMiB: Math.max(maxRssMiB, baseline), resources, findings };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};

if (args[0] === '--child') {
  process.stdout.write(JSON.stringify(measure(args[1] as Step, Number(args[2]))));
} else {
  const services = flag('--services', 1000);
  const runs = flag('--runs', 5);
  const self = fileURLToPath(import.meta.url);
  const results: Record<Step, Sample[]> = { 'yaml-only': [], 'js-yaml-only': [], 'weft-analyze': [] };
  for (let r = 0; r < runs; r++) {
    for (const step of ['yaml-only', 'js-yaml-only', 'weft-analyze'] as const) {
      const out = execFileSync(process.execPath, [self, '--child', step, String(services)], { encoding: 'utf8', timeout: 120_000 });
      results[step].push(JSON.parse(out) as Sample);
    }
  }
  const floor = median(results['js-yaml-only'].map((s) => s.ms));
  const positional = median(results['yaml-only'].map((s) => s.ms));
  const weft = results['weft-analyze'];
  const total = median(weft.map((s) => s.ms));
  console.log(`mesh: ${services} services, ${weft[0]!.resources} resources, ${weft[0]!.findings} findings; median of ${runs} runs, each in a fresh process`);
  console.log('| step | median ms | max RSS MiB | ratio to the bare js-yaml parse |');
  console.log('|---|---|---|---|');
  console.log(`| bare parse, no positions (js-yaml \`loadAll\`) | ${floor.toFixed(0)} | ${median(results['js-yaml-only'].map((s) => s.maxRssMiB)).toFixed(0)} | 1.00 |`);
  console.log(`| bare parse with positions (\`yaml\` \`parseAllDocuments\`) | ${positional.toFixed(0)} | ${median(results['yaml-only'].map((s) => s.maxRssMiB)).toFixed(0)} | ${(positional / floor).toFixed(2)} |`);
  console.log(`| weft: parse + validate | ${median(weft.map((s) => s.parseMs)).toFixed(0)} | | ${(median(weft.map((s) => s.parseMs)) / floor).toFixed(2)} |`);
  console.log(`| weft: analyze (all analyzers) | ${median(weft.map((s) => s.analyzeMs)).toFixed(0)} | | |`);
  console.log(`| weft: parse + validate + analyze | ${total.toFixed(0)} | ${median(weft.map((s) => s.maxRssMiB)).toFixed(0)} | ${(total / floor).toFixed(2)} |`);
}
