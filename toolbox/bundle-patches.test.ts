import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { guardModemDebug } from './bundle-patches.js';

describe('guardModemDebug', () => {
  // the docker-modem testin installs (dockerode's): the build patches this very file
  const modemSource = readFileSync(createRequire(createRequire(import.meta.url).resolve('dockerode')).resolve('docker-modem/lib/modem.js'), 'utf8');

  it("puts docker-modem's request log behind its debug switch, so that nothing is formatted while the log is off", () => {
    const patched = guardModemDebug(modemSource);
    expect(patched).toContain("debug.enabled && debug('Sending: %s', util.inspect(options, {");
    // one change, nothing else touched
    expect(patched.replace('debug.enabled && ', '')).toBe(modemSource);
  });

  it('fails the build when the call is gone or there are two', () => {
    expect(() => guardModemDebug(modemSource.replace("debug('Sending: %s'", "log('Sending: %s'"))).toThrow(/no longer has one/);
    const call = "debug('Sending: %s', util.inspect(options, {";
    expect(() => guardModemDebug(`${modemSource}\n${call}}));`)).toThrow(/no longer has one/);
  });

  it('leaves a log that is switched on as it was: the patched call still formats and logs when debug is enabled', () => {
    const logged: string[] = [];
    const debug = Object.assign((...a: unknown[]) => logged.push(String(a[1])), { enabled: true });
    const util = { inspect: (o: unknown) => JSON.stringify(o) };
    const options = { path: '/_ping' };
    // the patched statement, run as docker-modem runs it
    const statement = guardModemDebug("debug('Sending: %s', util.inspect(options, {\n    showHidden: true,\n    depth: null\n  }));");
    new Function('debug', 'util', 'options', statement)(debug, util, options);
    expect(logged).toEqual(['{"path":"/_ping"}']);
    debug.enabled = false;
    new Function('debug', 'util', 'options', statement)(debug, util, options);
    expect(logged).toHaveLength(1);
  });
});
