import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { proxyLoggers } from './proxy-loggers.ts';
import { parsePortMap } from './proxy.ts';

describe('the proxy\'s loggers', () => {
  const make = () => {
    const lines: string[] = [];
    const loggers = proxyLoggers({ level: 'info', write: (line) => lines.push(line), now: () => new Date(0) });
    return { lines, loggers };
  };

  it('writes lines at or above the level, naming the logger and the fields', () => {
    const { lines, loggers } = make();
    loggers.get('config').debug('hidden');
    loggers.get('config').info('ads: connected', { address: '127.0.0.1:15010', streams: 1 });
    assert.deepEqual(lines, ['1970-01-01T00:00:00.000Z info  config: ads: connected address=127.0.0.1:15010 streams=1\n']);
  });

  it('changes one logger\'s level, or all of them, as /logging asks', () => {
    const { lines, loggers } = make();
    assert.equal(loggers.set('upstream', 'debug').ok, true);
    loggers.get('upstream').debug('shown');
    loggers.get('http').debug('hidden');
    assert.equal(lines.length, 1);
    assert.equal(loggers.set(undefined, 'off').ok, true);
    loggers.get('main').error('hidden too');
    assert.equal(lines.length, 1);
    assert.deepEqual(loggers.set('nope', 'info'), { ok: false, error: 'unknown logger "nope" (the loggers are main, admin, config, upstream, http, connection)' });
  });
});

describe('--port-map', () => {
  it('maps configured ports to bound ones, 0 for any free port', () => {
    const parsed = parsePortMap(['80=0', '443=18443']);
    assert.deepEqual(parsed, { ok: true, value: new Map([[80, 0], [443, 18443]]) });
  });

  it('refuses an entry that is not two port numbers, saying the form', () => {
    assert.deepEqual(parsePortMap(['80:8080']), {
      ok: false,
      error: '--port-map 80:8080: expected CONFIGURED=BOUND, two port numbers (BOUND 0 lets the system pick), e.g. 8080=18080',
    });
    assert.equal(parsePortMap(['0=80']).ok, false);
    assert.equal(parsePortMap(['80=70000']).ok, false);
  });
});
