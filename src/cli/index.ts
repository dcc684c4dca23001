export { buildProgram, runCli, type CliDeps } from './program.ts';
export { CliExit, ExitStatus, type CliIo } from './io.ts';
