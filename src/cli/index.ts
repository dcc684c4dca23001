export { buildProgram, runCli, type CliDeps } from './program.ts';
export { CliExit, ExitStatus, type CliIo } from './io.ts';
export { httpControlPlaneClient, type ControlPlaneClient } from './control-plane-client.ts';
