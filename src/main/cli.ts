import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { httpControlPlaneClient, runCli } from '../cli/index.ts';
import { builtinKinds } from '../config/index.ts';
import { builtinAnalyzers } from '../config/analysis/index.ts';
import { registerControlPlaneCommand } from './control-plane-command.ts';
import { registerProxyCommand } from './proxy-command.ts';
import { registerUpCommands } from './up-command.ts';
import { readMeshFile } from './local-mode.ts';

/** Composition root of the `weft` command. */
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const defaultStateDir = process.env['WEFT_STATE_DIR'] ?? join(homedir(), '.weft', 'local');

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
  controlPlane: (url) => httpControlPlaneClient(url),
  // A local mesh's control plane when one runs from the default state directory, as istioctl finds the cluster's.
  defaultControlPlaneUrl: process.env['WEFT_CONTROL_PLANE'] ?? readMeshFile(defaultStateDir)?.debug ?? 'http://127.0.0.1:15014',
  defaultStateDir,
  extraCommands: [
    (program) => registerUpCommands(program, {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      defaultStateDir,
      cwd: process.cwd(),
    }),
    (program) => registerControlPlaneCommand(program, { stderr: (text) => process.stderr.write(text) }),
    (program) => registerProxyCommand(program, {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      version: packageJson.version,
    }),
  ],
});
process.exitCode = status;
