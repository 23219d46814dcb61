import { describe, expect, it } from 'vitest';
import { splitCommand, toRunOptions } from './cli.js';
import { refuseTerminalWithoutOne } from './commands/run-options-from-flags.js';
import { UsageError } from '../contract/errors.js';

describe('splitCommand', () => {
  it('keeps everything after the first -- as the command, untouched', () => {
    expect(splitCommand(['run', '--image', 'x', '--', 'sh', '-c', 'echo --', '--'])).toEqual({
      flags: ['run', '--image', 'x'],
      command: ['sh', '-c', 'echo --', '--'],
    });
    expect(splitCommand(['run', '--image', 'x'])).toEqual({ flags: ['run', '--image', 'x'], command: undefined });
    expect(splitCommand(['run', '--image', 'x', '--'])).toEqual({ flags: ['run', '--image', 'x'], command: [] });
  });
});

describe("docker's order: testin run [FLAGS] IMAGE [CMD ARGS...]", () => {
  it('takes the first word that is no flag and no value of one as the image, and every word after it as the command', () => {
    expect(splitCommand(['run', 'alpine', 'echo', 'x'])).toEqual({ flags: ['run', '--image', 'alpine'], command: ['echo', 'x'] });
    expect(splitCommand(['run', '-it', '--rm', '-e', 'A=1', '-v', '/a:/b', '--name', 'web', 'myapp:dev', 'sh', '-c', 'ls -l'])).toEqual({
      flags: ['run', '-it', '--rm', '-e', 'A=1', '-v', '/a:/b', '--name', 'web', '--image', 'myapp:dev'],
      command: ['sh', '-c', 'ls -l'],
    });
  });

  it('takes it for up as well (docker run -d --name N IMG): the image, and any command for up to refuse', () => {
    expect(splitCommand(['up', '--name', 's1', '-v', '/a:/b', 'myapp:dev'])).toEqual({ flags: ['up', '--name', 's1', '-v', '/a:/b', '--image', 'myapp:dev'], command: undefined });
    expect(splitCommand(['up', '--name', 's1', 'myapp:dev', 'sleep', '1'])).toEqual({ flags: ['up', '--name', 's1', '--image', 'myapp:dev'], command: ['sleep', '1'] });
    expect(splitCommand(['up', '--name', 's1', '--image', 'myapp:dev'])).toEqual({ flags: ['up', '--name', 's1', '--image', 'myapp:dev'], command: undefined });
  });

  it("takes --boot's value there only when it is a path (an image's name never starts with /): else the word after it is the image", () => {
    expect(splitCommand(['run', '--boot', '/bin/init', 'img', 'sh'])).toEqual({ flags: ['run', '--boot', '/bin/init', '--image', 'img'], command: ['sh'] });
    expect(splitCommand(['run', '--boot', 'img', 'systemctl', 'is-system-running'])).toEqual({ flags: ['run', '--boot', '--image', 'img'], command: ['systemctl', 'is-system-running'] });
    expect(splitCommand(['up', '--boot', '--name', 'web', 'img'])).toEqual({ flags: ['up', '--boot', '--name', 'web', '--image', 'img'], command: undefined });
    expect(splitCommand(['run', '--boot=/lib/systemd/systemd', 'img'])).toEqual({ flags: ['run', '--boot=/lib/systemd/systemd', '--image', 'img'], command: undefined });
  });

  it("leaves the command's own flags to it, as docker does", () => {
    expect(splitCommand(['run', '--cap-drop', 'NET_ADMIN', 'img', 'ip', '-d', 'link', '--memory', '1g'])).toEqual({
      flags: ['run', '--cap-drop', 'NET_ADMIN', '--image', 'img'],
      command: ['ip', '-d', 'link', '--memory', '1g'],
    });
  });

  it("runs the image's own command when none follows, and takes IMAGE -- CMD too", () => {
    expect(splitCommand(['run', '-m', '512m', 'img'])).toEqual({ flags: ['run', '-m', '512m', '--image', 'img'], command: undefined });
    expect(splitCommand(['run', '--env=A=1', 'img', '--', 'ls'])).toEqual({ flags: ['run', '--env=A=1', '--image', 'img'], command: ['ls'] });
  });

  it('keeps --image IMG [-- CMD] as it was', () => {
    expect(splitCommand(['run', '--image', 'img', '--', 'ls'])).toEqual({ flags: ['run', '--image', 'img'], command: ['ls'] });
  });
});

describe("docker's order: testin exec [FLAGS] NAME CMD ARGS...", () => {
  it('takes the first word that is no flag and no value of one as the name, before the flags (a list flag cannot take it), and the rest as the command', () => {
    expect(splitCommand(['exec', '-e', 'A=1', '-e', 'B', 'web', 'sh', '-c', 'echo $A'])).toEqual({ flags: ['exec', 'web', '-e', 'A=1', '-e', 'B'], command: ['sh', '-c', 'echo $A'] });
    expect(splitCommand(['exec', '-it', '-w', '/tmp', 'web', 'ls', '-l'])).toEqual({ flags: ['exec', 'web', '-it', '-w', '/tmp'], command: ['ls', '-l'] });
  });

  it('keeps testin exec NAME [FLAGS] -- CMD, with the flags on either side of the name', () => {
    expect(splitCommand(['exec', 'web', '-e', 'A=1', '--', 'ls', '--', 'x'])).toEqual({ flags: ['exec', 'web', '-e', 'A=1'], command: ['ls', '--', 'x'] });
    expect(splitCommand(['exec', '--env-file', 'f', 'web', '-i', '--', 'cat'])).toEqual({ flags: ['exec', 'web', '--env-file', 'f', '-i'], command: ['cat'] });
  });
});

describe('-h', () => {
  it("is docker's --hostname for run (its value checked), not help", async () => {
    expect(await mainSaid(['run', '-h', 'bad_name', 'img', 'true'])).toEqual([125, expect.stringMatching(/^testin: invalid --hostname "bad_name"\n/)]);
  });
});

describe('toRunOptions', () => {
  it('maps flags to run options', () => {
    const options = toRunOptions({ _: ['run'], image: 'img', env: ['A=1'], 'env-file': ['f'], memory: '2g', cpus: 3, 'read-only': true, debug: true }, ['ls']);
    expect(options).toMatchObject({ image: 'img', command: ['ls'], env: ['A=1'], envFiles: ['f'], memory: '2g', cpus: 3, readOnly: true, logLevel: 'debug' });
  });

  it('maps --no-snapshot to a cold boot, and leaves the default to the plan', () => {
    expect(toRunOptions({ _: ['run'], image: 'img', snapshot: false }, ['ls']).snapshot).toBe(false);
    expect(toRunOptions({ _: ['run'], image: 'img' }, ['ls']).snapshot).toBeUndefined();
  });

  it('refuses a stray argument before --', () => {
    expect(() => toRunOptions({ _: ['run', 'ls'], image: 'img' }, undefined)).toThrow(UsageError);
  });
});

describe('values that look like flags', () => {
  it('reach their own check: --timeout -5s is a negative duration, not the flags -5 and -s', () => {
    expect(splitCommand(['run', '--timeout', '-5s', '--image', 'x', '--', 'ls', '--timeout', '-5s']).flags).toEqual(['run', '--timeout=-5s', '--image', 'x']);
    expect(splitCommand(['run', '-m', '-1g']).flags).toEqual(['run', '-m=-1g']);
    expect(() => toRunOptions({ _: ['run'], image: 'img', timeout: '-5s' }, undefined)).toThrow(/--timeout -5s: a duration cannot be negative/);
  });
});

/** main() on `args`: its exit code and what it wrote to stderr */
async function mainSaid(args: string[]): Promise<[number, string]> {
  const { main } = await import('./cli.js');
  const said: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => said.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    return [await main(args), said.join('')];
  } finally {
    process.stderr.write = write;
  }
}

describe('a number flag given a word', () => {
  it('is refused naming the word typed, not NaN, with 125, before any engine is asked', async () => {
    expect(await mainSaid(['run', '--cpus', 'many', 'img', 'true'])).toEqual([125, 'testin: invalid --cpus many\n  fix: give a number of CPUs from 0.01 to 64 (1.5: two vCPUs held to 1.5 CPUs of time, as docker holds a container)\n']);
  });
});

describe("docker's defaults spelled out", () => {
  it('are taken (--restart no, --ipc private, --sig-proxy=true...); another value is refused with why, 125, before any engine is asked', async () => {
    const parsed = (flags: string[]) => toRunOptions({ _: ['run'], image: 'img', ...Object.fromEntries(flags.map((f) => f.split('='))) }, ['true']);
    expect(() => parsed(['restart=no', 'ipc=private', 'cgroupns=private'])).not.toThrow();
    expect(() => toRunOptions({ _: ['run'], image: 'img', 'sig-proxy': true, 'oom-kill-disable': false }, ['true'])).not.toThrow();
    expect(await mainSaid(['run', '--restart', 'always', 'img', 'true'])).toEqual([125, "testin: --restart always: not supported by testin: a run ends with its command (use testin up for a VM that stays)\n  fix: leave --restart out, or give docker's default, --restart no\n"]);
    expect((await mainSaid(['run', '--sig-proxy=false', 'img', 'true']))[1]).toMatch(/^testin: --sig-proxy false: not supported by testin/);
    expect((await mainSaid(['up', '--name', 's1', '--ipc', 'host', 'img']))[1]).toMatch(/^testin: --ipc host: not supported by testin/);
  });
});

describe('--pids-limit', () => {
  it('is refused when not a whole number, or with --boot (the image init owns the cgroups), 125, before any engine is asked', async () => {
    expect(await mainSaid(['run', '--pids-limit', '1.5', 'img', 'true'])).toEqual([125, 'testin: invalid --pids-limit 1.5\n  fix: give a whole number of processes, or -1 for no limit\n']);
    expect(await mainSaid(['run', '--boot', '--pids-limit', '5', 'img'])).toEqual([125, "testin: --pids-limit with --boot: the image's init manages the VM's cgroups\n  fix: set TasksMax= in its units (systemd), or drop --boot\n"]);
  });
});

describe('testin up with a command', () => {
  it('is refused with 125 and the exec that runs it, before any engine is asked (the command was dropped)', async () => {
    expect(await mainSaid(['up', '--name', 's1', 'img', 'sleep', '1'])).toEqual([125, 'testin: testin up takes no command (sleep 1): a session runs its commands by testin exec\n  fix: write testin up --name N IMAGE, then testin exec N sleep 1\n']);
    expect((await mainSaid(['up', '--name', 's1', '--image', 'img', '--', 'sleep', '1']))[0]).toBe(125);
  });
});

describe('an unknown --log-level', () => {
  it('is refused with 125 and the levels there are, before any engine is asked (it was an internal error)', async () => {
    expect(await mainSaid(['run', '--log-level', 'bogus', 'img', 'true'])).toEqual([125, 'testin: unknown log level "bogus"\n  fix: give --log-level one of trace, debug, info, warn, error, fatal, silent\n']);
  });
});

describe('-it without a terminal on stdin', () => {
  it('is refused as docker refuses it; -t alone, -i alone and -it on a terminal are not', () => {
    expect(() => refuseTerminalWithoutOne({ tty: true, interactive: true }, false)).toThrow(UsageError);
    expect(() => refuseTerminalWithoutOne({ tty: true, interactive: true }, false)).toThrow(/the input device is not a TTY/);
    for (const [args, tty] of [[{ tty: true, interactive: true }, true], [{ tty: true }, false], [{ interactive: true }, false]] as const) {
      expect(() => refuseTerminalWithoutOne(args, tty)).not.toThrow();
    }
  });
});
