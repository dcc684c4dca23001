import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, TimerHandle, Timers } from '../core/index.ts';
import { ProcessSupervisor, type ProcessSupervisorOptions, type SupervisorEvent, type SupervisorStatus } from './process-supervisor.ts';

const systemClock: Clock = { now: () => Date.now() };

/** Real timers that know which are still pending, to show that nothing is left scheduled. */
class CountingTimers implements Timers {
  readonly #pending = new Set<NodeJS.Timeout>();

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const handle = setTimeout(() => {
      this.#pending.delete(handle);
      callback();
    }, ms);
    this.#pending.add(handle);
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as NodeJS.Timeout);
    this.#pending.delete(handle as NodeJS.Timeout);
  }

  get pending(): number {
    return this.#pending.size;
  }
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether a process exists and is not a zombie that nobody reaped (in a container, pid 1 may not reap). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

const runForever = 'setInterval(() => {}, 1000);';
/** Starts a grandchild that ignores SIGTERM, and says its pid. */
const startGrandchild = `
  const { spawn } = require('node:child_process');
  const grandchild = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
  console.log('grandchild ' + grandchild.pid);
`;

describe('ProcessSupervisor', () => {
  let dir = '';
  let supervisors: ProcessSupervisor[] = [];

  beforeEach(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'weft-supervisor-')));
  });

  afterEach(async () => {
    await Promise.all(supervisors.map((supervisor) => supervisor.stop()));
    supervisors = [];
    await rm(dir, { recursive: true, force: true });
  });

  function supervise(script: string, options: Partial<ProcessSupervisorOptions> = {}) {
    const events: SupervisorEvent[] = [];
    const timers = new CountingTimers();
    const logFile = join(dir, 'logs', 'app.log');
    const supervisor = new ProcessSupervisor({
      name: 'app',
      command: process.execPath,
      args: ['-e', script],
      cwd: dir,
      env: { WEFT_TEST: '1' },
      logFile,
      clock: systemClock,
      timers,
      backoff: { initialMs: 50, maxMs: 200, resetAfterMs: 60_000 },
      stopGraceMs: 1000,
      ...options,
      onEvent: (event) => {
        events.push(event);
        options.onEvent?.(event);
      },
    });
    supervisors.push(supervisor);
    const log = () => readFile(options.logFile ?? logFile, 'utf8').catch(() => '');
    const ofType = <T extends SupervisorEvent['type']>(type: T) => events.filter((event): event is Extract<SupervisorEvent, { type: T }> => event.type === type);
    return { supervisor, events, ofType, timers, log };
  }

  it('appends stdout and stderr to the log file, creating its directory, across runs', async () => {
    const { supervisor, log } = supervise(`process.stdout.write('to stdout\\n'); process.stderr.write('to stderr\\n'); ${runForever}`);
    const started = await supervisor.start();
    assert.ok(started.ok);
    assert.equal(supervisor.status().state, 'running');
    assert.equal(supervisor.status().pid, started.value);
    await until('both streams are in the log', async () => (await log()).includes('to stdout\n') && (await log()).includes('to stderr\n'));
    await supervisor.stop();
    assert.ok((await supervisor.start()).ok);
    await until('the second run is in the log too', async () => (await log()).split('to stdout\n').length === 3);
    assert.match(await log(), /^to (stdout|stderr)\n/);
  });

  it('runs the command in its working directory with exactly the given environment', async () => {
    const { supervisor, log } = supervise(`console.log(JSON.stringify({ cwd: process.cwd(), env: process.env })); ${runForever}`, {
      env: { GREETING: 'hello' },
    });
    assert.ok((await supervisor.start()).ok);
    await until('the process printed', async () => (await log()).includes('\n'));
    assert.deepEqual(JSON.parse(await log()), { cwd: dir, env: { GREETING: 'hello' } });
  });

  it('restarts a process that exits, after a backoff that doubles up to the maximum', async () => {
    const statuses: SupervisorStatus[] = [];
    const { supervisor, ofType, log } = supervise('process.exit(3)', {
      onEvent: (event) => {
        if (event.type === 'exited') statuses.push(supervisor.status());
      },
    });
    assert.ok((await supervisor.start()).ok);
    await until('four exits', () => statuses.length >= 4);
    await supervisor.stop();

    const fourth = statuses[3]!;
    assert.equal(fourth.state, 'restarting');
    assert.equal(fourth.restarts, 3);
    assert.equal(fourth.pid, undefined);
    assert.equal(fourth.lastExit?.code, 3);
    assert.equal(fourth.lastExit?.signal, null);
    assert.deepEqual(
      ofType('exited').slice(0, 4).map((event) => event.restartInMs),
      [50, 100, 200, 200],
    );
    assert.ok(ofType('started').length >= 4);
    const weftLines = (await log()).split('\n').filter((line) => line.startsWith('[weft]'));
    assert.deepEqual(weftLines.slice(0, 4), [
      '[weft] exited with code 3, restarting in 50ms',
      '[weft] exited with code 3, restarting in 100ms',
      '[weft] exited with code 3, restarting in 200ms',
      '[weft] exited with code 3, restarting in 200ms',
    ]);
  });

  it('starts the backoff over after a run that lasted resetAfterMs, by the injected clock', async () => {
    let now = 1_000_000;
    let starts = 0;
    const { supervisor, ofType } = supervise('process.exit(1)', {
      clock: { now: () => now },
      backoff: { initialMs: 50, maxMs: 1000, resetAfterMs: 10_000 },
      onEvent: (event) => {
        // The third run "lasts" ten seconds.
        if (event.type === 'started' && ++starts === 3) now += 10_000;
      },
    });
    assert.ok((await supervisor.start()).ok);
    await until('four exits', () => ofType('exited').length >= 4);
    await supervisor.stop();
    assert.deepEqual(
      ofType('exited').slice(0, 4).map((event) => event.restartInMs),
      [50, 100, 50, 100],
    );
  });

  it('records an exit by a signal', async () => {
    const { supervisor, log } = supervise(`process.kill(process.pid, 'SIGKILL')`, { backoff: { initialMs: 2000 } });
    assert.ok((await supervisor.start()).ok);
    await until('it exited', () => supervisor.status().state === 'restarting');
    const { lastExit } = supervisor.status();
    assert.equal(lastExit?.code, null);
    assert.equal(lastExit?.signal, 'SIGKILL');
    await until('the log says so', async () => (await log()).includes('[weft] exited with signal SIGKILL, restarting in 2s\n'));
  });

  it('stop() ends a running process with SIGTERM and does not restart it', async () => {
    const { supervisor, events, timers, log } = supervise(runForever);
    const started = await supervisor.start();
    assert.ok(started.ok);
    await supervisor.stop();

    const status = supervisor.status();
    assert.equal(status.state, 'stopped');
    assert.equal(status.pid, undefined);
    assert.equal(status.restarts, 0);
    assert.equal(status.lastExit?.signal, 'SIGTERM');
    assert.deepEqual(events, [
      { type: 'started', pid: started.value },
      { type: 'exited', code: null, signal: 'SIGTERM', restartInMs: undefined },
    ]);
    assert.equal(timers.pending, 0);
    assert.equal(isAlive(started.value), false);
    assert.equal(await log(), '[weft] stopped: exited with signal SIGTERM\n');
  });

  it('stop() sends SIGKILL to a process that ignores SIGTERM, once the grace period is over', async () => {
    const { supervisor, log } = supervise(`process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('ready'); ${runForever}`, {
      stopGraceMs: 300,
    });
    assert.ok((await supervisor.start()).ok);
    await until('its SIGTERM handler is installed', async () => (await log()).includes('ready'));
    const stopAt = Date.now();
    await supervisor.stop();
    assert.ok(Date.now() - stopAt >= 250, `stopped after ${Date.now() - stopAt} ms`);
    assert.equal(supervisor.status().state, 'stopped');
    assert.equal(supervisor.status().lastExit?.signal, 'SIGKILL');
    assert.equal(
      await log(),
      'ready\nignoring SIGTERM\n[weft] still running 300ms after SIGTERM, sending SIGKILL\n[weft] stopped: exited with signal SIGKILL\n',
    );
  });

  it('stop() also ends the processes that the process started', async () => {
    const { supervisor, log } = supervise(`${startGrandchild} ${runForever}`);
    assert.ok((await supervisor.start()).ok);
    await until('the grandchild started', async () => /grandchild \d+/.test(await log()));
    const grandchild = Number(/grandchild (\d+)/.exec(await log())![1]);
    assert.ok(isAlive(grandchild));
    await supervisor.stop();
    await until('the grandchild is gone', () => !isAlive(grandchild));
  });

  it('ends what a process started when it exits, before restarting it', async () => {
    const { supervisor, log } = supervise(`${startGrandchild} setTimeout(() => process.exit(1), 100);`, { backoff: { initialMs: 2000 } });
    assert.ok((await supervisor.start()).ok);
    await until('the grandchild started', async () => /grandchild \d+/.test(await log()));
    const grandchild = Number(/grandchild (\d+)/.exec(await log())![1]);
    await until('the process exited', () => supervisor.status().state === 'restarting');
    await until('the grandchild is gone', () => !isAlive(grandchild));
  });

  it('fails clearly when the command is not found, and does not retry', async () => {
    const { supervisor, events, timers, log } = supervise('', { command: 'weft-no-such-command', args: [] });
    const message = `cannot start "weft-no-such-command": command not found (cwd ${dir})`;
    assert.deepEqual(await supervisor.start(), { ok: false, error: message });
    const status = supervisor.status();
    assert.equal(status.state, 'failed');
    assert.equal(status.message, message);
    assert.equal(timers.pending, 0);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.deepEqual(events, [{ type: 'failed', message }]);
    assert.equal(supervisor.status().restarts, 0);
    await supervisor.stop();
    assert.equal(await log(), `[weft] ${message}\n`);
  });

  it('says that a command is not executable', async () => {
    await writeFile(join(dir, 'script.sh'), '#!/bin/sh\necho hello\n', { mode: 0o644 });
    const { supervisor } = supervise('', { command: './script.sh', args: [] });
    const started = await supervisor.start();
    assert.deepEqual(started, { ok: false, error: `cannot start "./script.sh": ./script.sh is not executable (cwd ${dir})` });
    assert.equal(supervisor.status().state, 'failed');
  });

  it('names a working directory that does not exist, or is not a directory', async () => {
    const missing = join(dir, 'missing');
    const inMissing = supervise(runForever, { cwd: missing });
    assert.deepEqual(await inMissing.supervisor.start(), {
      ok: false,
      error: `cannot start "${process.execPath}": the working directory ${missing} does not exist`,
    });
    const file = join(dir, 'file');
    await writeFile(file, '');
    const inFile = supervise(runForever, { cwd: file, logFile: join(dir, 'other.log') });
    assert.deepEqual(await inFile.supervisor.start(), {
      ok: false,
      error: `cannot start "${process.execPath}": the working directory ${file} is not a directory`,
    });
  });

  it('fails, without retrying further, when a restart cannot start the command', async () => {
    const script = join(dir, 'run.sh');
    await writeFile(script, '#!/bin/sh\nexit 1\n');
    await chmod(script, 0o755);
    const { supervisor, ofType } = supervise('', { command: './run.sh', args: [], backoff: { initialMs: 300 } });
    assert.ok((await supervisor.start()).ok);
    await until('it exited', () => ofType('exited').length === 1);
    await rm(script);
    await until('the restart failed', () => supervisor.status().state === 'failed');
    assert.equal(supervisor.status().restarts, 1);
    assert.deepEqual(ofType('failed'), [{ type: 'failed', message: `cannot start "./run.sh": command not found (cwd ${dir})` }]);
  });

  it('stop() while waiting to restart cancels the restart', async () => {
    const { supervisor, ofType, timers, log } = supervise('process.exit(1)', { backoff: { initialMs: 1000 } });
    assert.ok((await supervisor.start()).ok);
    await until('it exited', () => supervisor.status().state === 'restarting');
    const stopAt = Date.now();
    await supervisor.stop();
    assert.ok(Date.now() - stopAt < 500, 'stop() did not wait for the backoff');
    assert.equal(supervisor.status().state, 'stopped');
    assert.equal(timers.pending, 0);
    assert.equal(ofType('started').length, 1);
    assert.equal(await log(), '[weft] exited with code 1, restarting in 1s\n[weft] stopped while waiting to restart\n');
  });

  it('stop() resolves at once when nothing runs', async () => {
    const { supervisor, events } = supervise(runForever);
    await supervisor.stop();
    assert.deepEqual(supervisor.status(), { name: 'app', state: 'stopped', restarts: 0 });
    assert.deepEqual(events, []);
  });

  it('does not spawn a process that was stopped while starting', async () => {
    const { supervisor, events } = supervise(runForever);
    const starting = supervisor.start();
    await supervisor.stop();
    assert.deepEqual(await starting, { ok: false, error: 'app was stopped before it started' });
    assert.equal(supervisor.status().state, 'stopped');
    assert.deepEqual(events, []);
  });

  it('refuses to start what already runs', async () => {
    const { supervisor } = supervise(runForever);
    assert.ok((await supervisor.start()).ok);
    assert.throws(() => supervisor.start(), /app is already running/);
  });

  it('killNow() kills the process group at once, for an exit handler', async () => {
    const { supervisor, log } = supervise(`${startGrandchild} ${runForever}`);
    assert.ok((await supervisor.start()).ok);
    await until('the grandchild started', async () => /grandchild \d+/.test(await log()));
    const grandchild = Number(/grandchild (\d+)/.exec(await log())![1]);
    supervisor.killNow();
    await until('it exited', () => supervisor.status().state === 'stopped');
    assert.equal(supervisor.status().lastExit?.signal, 'SIGKILL');
    await until('the grandchild is gone', () => !isAlive(grandchild));
  });
});
