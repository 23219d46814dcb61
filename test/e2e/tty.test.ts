import { execa } from 'execa';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, TESTIN_BIN } from '../helpers/paths.js';
import { leftovers } from '../helpers/testin.js';
import { onPty as onPtyCommand, type PtyStep } from '../helpers/pty.js';
// the library as users import it: the built package
import { run } from '../../dist/launcher/index.js';

const skip = inject('e2eSkip');

/** testin on a real pty */
const onPty = (rows: number, cols: number, steps: PtyStep[], args: string[]) => onPtyCommand(rows, cols, steps, ['node', TESTIN_BIN, ...args]);

describe.skipIf(skip !== '')('-it: an interactive shell in the VM on a real pty', () => {
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it('has a pty whose size follows the terminal, passes Ctrl-C to the foreground process, and ends on exit', async () => {
    const r = await onPty(
      30,
      100,
      [
        { expect: '# ' },
        { send: 'tty; stty size\n' },
        { expect: '30 100' },
        { resize: [40, 120] },
        // the new size travels through the engine and container-init to the guest's pty: the shell waits for it (a stty typed at once may run before it lands)
        { send: 'until [ "$(stty size)" = "40 120" ]; do sleep 0.1; done; echo resized-$((20+22))\n' },
        { expect: 'resized-42' },
        { send: 'sleep 100\n' },
        { expect: 'sleep 100' },
        { wait: 1 },
        { send: '\u0003' },
        { send: 'echo back-$((40+2))\n' },
        { expect: 'back-42' },
        { send: 'exit 3\n' },
      ],
      ['run', '-it', '--image', BUSYBOX_IMAGE, '--', 'sh'],
    );
    expect(r.failed).toBeNull();
    expect(r.output).toMatch(/\/dev\/pts\/0\r\n30 100\r\n/);
    expect(r.output).toMatch(/\^C/);
    // exactly one CR per line: every layer but the guest's pty is raw
    expect(r.output).not.toMatch(/\r\r\n/);
    expect(r.exit).toBe(3);
  });

  it('testin exec -it gives a pty in a session, and testin down ends it', async () => {
    const name = `testin-e2e-tty-${process.pid}`;
    await execa('node', [TESTIN_BIN, 'up', '--name', name, '--image', BUSYBOX_IMAGE]);
    try {
      const r = await onPty(25, 90, [{ expect: '# ' }, { send: 'tty; stty size\n' }, { expect: '25 90' }, { send: 'exit 6\n' }], ['exec', '-it', name, '--', 'sh']);
      expect(r.failed).toBeNull();
      expect(r.output).toMatch(/\/dev\/pts\/\d+\r\n25 90\r\n/);
      expect(r.exit).toBe(6);
      const ls = await execa('node', [TESTIN_BIN, 'ls']);
      expect(ls.stdout).toMatch(new RegExp(`^${name}\\s+session\\s+${BUSYBOX_IMAGE}\\s+\\w+\\s+2\\s+1024MiB\\s+\\S+\\s+running$`, 'm'));
    } finally {
      await execa('node', [TESTIN_BIN, 'down', name]);
    }
    expect((await execa('docker', ['ps', '-aq', '--filter', `label=testin.session=${name}`])).stdout).toBe('');
  });

  it.each([
    ['-t', 'the terminal stays cooked: Ctrl-C is a SIGINT of testin, forwarded'],
    ['-it', "the terminal is raw: Ctrl-C is a byte, the VM's pty makes it a SIGINT"],
  ])('Ctrl-C on a terminal ends `run %s` with 130 promptly and leaves nothing (%s)', async (flags, _how) => {
    const started = Date.now();
    const r = await onPty(24, 80, [{ expect: 'ready' }, { send: '\u0003' }], ['run', flags, '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'echo ready; sleep 600']);
    expect(r.failed).toBeNull();
    expect(r.exit).toBe(130);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('-it with a stdin that is not a terminal is refused as docker refuses it (125, one line, nothing made); the library on a pty with a stdin that ended at once keeps its output', async () => {
    for (const args of [['run', '-it', BUSYBOX_IMAGE, 'echo', 'hi'], ['exec', '-it', 'no-such-session', 'echo', 'hi']]) {
      const refused = await execa('node', [TESTIN_BIN, ...args], { reject: false, stdin: 'ignore' });
      expect([refused.exitCode, refused.stdout, refused.stderr]).toEqual([125, '', 'testin: the input device is not a TTY: -t with -i needs a terminal on stdin\n  fix: drop -t to pipe stdin into the command (-i alone), or run it from a terminal']);
    }
    // a terminal's end of input is a key (Ctrl-D): the stdin's end no longer closed the attach, and its output with it
    const r = await run({ image: BUSYBOX_IMAGE, command: ['sh', '-c', 'echo hi; echo there'], tty: true, interactive: true }, { stdin: Readable.from([]) });
    expect([r.exitCode, r.stdout?.toString()]).toEqual([0, 'hi\r\nthere\r\n']);
  });

  it('-t without -i runs a command on a pty and merges its stderr into the output', async () => {
    const r = await execa('node', [TESTIN_BIN, 'run', '-t', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'test -t 1 && echo on-a-tty; echo to-stderr >&2'], { reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^on-a-tty\r\nto-stderr/m);
  });
});
