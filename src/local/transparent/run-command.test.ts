import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCommand } from './run-command.ts';

const node = process.execPath;

describe('runCommand', () => {
  it('gives the stdout of a program that succeeds', async () => {
    assert.deepEqual(await runCommand(node, ['-e', 'process.stdout.write("hello")']), { ok: true, value: 'hello' });
  });

  it('writes the input to the program’s stdin', async () => {
    const echoed = await runCommand(node, ['-e', 'process.stdin.pipe(process.stdout)'], 'line one\nline two\n');
    assert.deepEqual(echoed, { ok: true, value: 'line one\nline two\n' });
  });

  it('reports a failure with the command line, the exit code and the stderr', async () => {
    const failed = await runCommand(node, ['-e', 'console.error("RTNETLINK answers: File exists"); process.exit(2)']);
    assert.ok(!failed.ok);
    assert.match(failed.error, /^`.+ -e console\.error/);
    assert.match(failed.error, /\(exit 2\): RTNETLINK answers: File exists$/);
  });

  it('reports a program that does not exist', async () => {
    const failed = await runCommand('/nonexistent/weft-no-such-program', ['x']);
    assert.ok(!failed.ok);
    assert.match(failed.error, /^`\/nonexistent\/weft-no-such-program x` failed \(ENOENT\)/);
  });

  it('is not upset by a program that exits without reading its input', async () => {
    const done = await runCommand(node, ['-e', 'process.exit(0)'], 'x'.repeat(1024 * 1024));
    assert.deepEqual(done, { ok: true, value: '' });
  });
});
