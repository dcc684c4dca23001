import { Command, CommanderError } from 'commander';
import type { KindRegistry } from '../config/index.ts';
import type { Analyzer } from '../config/analysis/index.ts';
import { registerAnalyze } from './commands/analyze.ts';
import { registerLocalCommands } from './commands/local.ts';
import { registerProxyConfig } from './commands/proxy-config.ts';
import { registerProxyStatus } from './commands/proxy-status.ts';
import type { ControlPlaneClient } from './control-plane-client.ts';
import { CliExit, ExitStatus, type CliIo } from './io.ts';

export interface CliDeps {
  readonly io: CliIo;
  readonly kinds: KindRegistry;
  readonly analyzers: readonly Analyzer[];
  readonly version: string;
  /** A client of the control plane's debug API at a URL. */
  readonly controlPlane: (url: string) => ControlPlaneClient;
  readonly defaultControlPlaneUrl: string;
  /** Where local mode (`weft up`) keeps its state unless --state-dir says otherwise. */
  readonly defaultStateDir: string;
  /** Commands that only the composition root can build (they start servers). */
  readonly extraCommands?: readonly ((program: Command) => void)[];
}

/** Builds the `weft` command tree. */
export function buildProgram(deps: CliDeps): Command {
  const program = new Command('weft')
    .description('Weft: a service mesh that speaks Istio\'s API')
    .version(deps.version, '--version')
    .exitOverride()
    .configureOutput({ writeOut: deps.io.stdout, writeErr: deps.io.stderr });
  registerAnalyze(program, deps);
  registerProxyStatus(program, deps);
  registerProxyConfig(program, deps);
  registerLocalCommands(program, deps);
  for (const add of deps.extraCommands ?? []) add(program);
  for (const command of program.commands) command.exitOverride().configureOutput({ writeOut: deps.io.stdout, writeErr: deps.io.stderr });
  return program;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit status. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const program = buildProgram(deps);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitStatus.ok;
  } catch (e) {
    if (e instanceof CliExit) {
      if (e.message !== '') deps.io.stderr(`${e.message}\n`);
      return e.status;
    }
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return ExitStatus.ok;
      return ExitStatus.usage;
    }
    throw e;
  }
}
