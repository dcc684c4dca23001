import { readFileSync } from 'node:fs';
import { runCli } from '../cli/index.ts';
import { builtinKinds } from '../config/index.ts';
import { builtinAnalyzers } from '../config/analysis/index.ts';

/** Composition root of the `weft` command. */
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const status = await runCli(process.argv.slice(2), {
  io: {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: () => readFileSync(0, 'utf8'),
    cwd: process.cwd(),
  },
  kinds: builtinKinds(),
  analyzers: builtinAnalyzers(),
  version: packageJson.version,
});
process.exitCode = status;
