import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { defineCoreCases } from '../helpers/core-cases.js';
import { BUSYBOX_IMAGE } from '../helpers/paths.js';
import { leftovers, snapshotVolume, testin } from '../helpers/testin.js';

const skip = inject('e2eSkip');

/** the toolbox's volume of the stable name, as `testin toolbox install` fills it */
async function installedToolbox(): Promise<string> {
  return (await execa('node', ['dist/launcher/bin.js', 'toolbox', 'install'])).stdout.split('\n')[0] as string;
}

describe.skipIf(skip !== '')('testin run: the core path, real Docker + real QEMU', () => {
  let kernelRelease = '';

  beforeAll(async () => {
    const built = await execa('node', ['dist/launcher/bin.js', 'toolbox', 'build']);
    kernelRelease = /^\s+modules \S+ \(kernel (\S+)\)$/m.exec(built.stdout)?.[1] as string;
    expect(kernelRelease).toMatch(/^\d+\.\d+\.\d+/);
    // the VM's kernel is the toolbox's, never the host's
    expect(kernelRelease).not.toBe((await execa('uname', ['-r'])).stdout);
  });

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  // the same cases run with a Debian 12 toolbox in test/e2e-toolbox/bookworm.test.ts
  defineCoreCases({ kernelRelease: () => kernelRelease });

  it('reuses the toolbox volume on the next run without copying it again', async () => {
    const volume = (await execa('docker', ['volume', 'ls', '-q', '--filter', 'label=testin.toolbox'])).stdout.split('\n')[0] as string;
    const before = (await execa('docker', ['volume', 'inspect', '-f', '{{.CreatedAt}}', volume])).stdout;
    const since = (await execa('docker', ['system', 'info', '--format', '{{.SystemTime}}'])).stdout.trim();
    const r = await testin(['run', '--log-level', 'info', '--image', BUSYBOX_IMAGE, '--', 'true']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/toolbox volume reused volume=testin-toolbox-/);
    expect((await execa('docker', ['volume', 'inspect', '-f', '{{.CreatedAt}}', volume])).stdout).toBe(before);
    // and no builder (nor any other helper) container was made: by the engine's own record of creations
    const until = (await execa('docker', ['system', 'info', '--format', '{{.SystemTime}}'])).stdout.trim();
    const created = await execa('docker', ['events', '--since', since, '--until', until, '--filter', 'type=container', '--filter', 'event=create', '--format', '{{index .Actor.Attributes "testin.helper"}}|{{index .Actor.Attributes "testin.run"}}']);
    const lines = created.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\|[0-9a-f]{16}$/);
  });

  it('toolbox install fills the stable-named volumes that compose files use', async () => {
    const r = await execa('node', ['dist/launcher/bin.js', 'toolbox', 'install']);
    expect(r.stdout).toMatch(/^testin-toolbox-\d+\.\d+\.\d+\ntestin-modules-\S+$/);
    for (const name of r.stdout.split('\n')) expect((await execa('docker', ['volume', 'inspect', name])).exitCode).toBe(0);
  });

  it("container-init started by hand, not by the toolbox's PID 1: 125, one line, and not one mount made", async () => {
    const toolbox = await installedToolbox();
    // as a user might try it in a container of their own (or on a host): it would bind that root and mount over it
    const script = 'grep -c . /proc/self/mountinfo; /run/testin/toolbox/bin/container-init true; echo "code $?"; grep -c . /proc/self/mountinfo; ls /run/testin';
    const r = await execa('docker', ['run', '--rm', '--cap-add', 'SYS_ADMIN', '--security-opt', 'apparmor=unconfined', '-v', `${toolbox}:/run/testin/toolbox:ro`, BUSYBOX_IMAGE, 'sh', '-c', script], { reject: false });
    const [before, code, after, ...listed] = r.stdout.split('\n');
    expect(code).toBe('code 125');
    expect(after).toBe(before);
    expect(listed).toEqual(['toolbox']);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^testin: container-init runs only as the child of \/run\/testin\/toolbox\/bin\/testin-agent --init/), expect.stringMatching(/^ {2}fix: /)]);
  });

  it("the agent's --ram-load puts a snapshot's packed runs at their offsets in a RAM file on a tmpfs, and says why it cannot", async () => {
    const toolbox = await installedToolbox();
    const agent = '/run/testin/toolbox/bin/testin-agent';
    // two packed runs (A's page, then two pages of B), for offsets 0 and 32768 of a 64 KiB memory on docker's /dev/shm
    const script = [
      'cd /dev/shm',
      "{ head -c 4096 /dev/zero | tr '\\0' A; head -c 8192 /dev/zero | tr '\\0' B; } > image",
      'head -c 65536 /dev/zero > ram',
      `${agent} --ram-load image ram 0 4096 32768 8192; echo "code $?"`,
      'head -c 4096 ram | tr -d A | wc -c; dd if=ram bs=4096 skip=8 count=2 2>/dev/null | tr -d B | wc -c; tr -d "\\0" < ram | wc -c; wc -c < ram',
      `${agent} --ram-load image missing 0 4096; echo "code $?"`,
      `${agent} --ram-load image ram 0 4096 32768 16384; echo "code $?"`,
    ].join('; ');
    const r = await execa('docker', ['run', '--rm', '-v', `${toolbox}:/run/testin/toolbox:ro`, BUSYBOX_IMAGE, 'sh', '-c', script], { reject: false });
    expect(r.stdout.split('\n').map((l) => l.trim())).toEqual(['code 0', '0', '0', '12288', '65536', 'code 1', 'code 1']);
    expect(r.stderr.split('\n')).toEqual(['missing: No such file or directory', expect.stringMatching(/^writing the RAM at 32768: /)]);
  });

  it('toolbox prune removes the volumes of other builds and keeps every volume of the current one', async () => {
    const stale = `testin-toolbox-e2e-stale-${process.pid}`;
    // the recipe of another testin whose build made the same tree (a change that left the built files as they were)
    const staleRecipe = `testin-recipe-e2e-stale-${process.pid}`;
    onTestFinished(async () => {
      await execa('docker', ['volume', 'rm', '-f', stale, staleRecipe], { reject: false });
    });
    await execa('docker', ['volume', 'create', '--label', 'testin.toolbox=0000', stale]);
    // the current toolbox: its tree, its modules, its recipe (facts), its snapshots, and the stable names `toolbox install` fills
    const built = (await execa('node', ['dist/launcher/bin.js', 'toolbox', 'build'])).stdout;
    const tree = /^\s+volume\s+(\S+)$/m.exec(built)?.[1] as string;
    const modules = /^\s+modules\s+(\S+) /m.exec(built)?.[1] as string;
    const recipe = /^\s+recipe\s+(\S+)$/m.exec(built)?.[1] as string;
    const labels = JSON.parse((await execa('docker', ['volume', 'inspect', '-f', '{{json .Labels}}', recipe])).stdout) as Record<string, string>;
    expect(labels['testin.toolbox.volume']).toBe(tree);
    await execa('docker', ['volume', 'create', ...Object.entries({ ...labels, 'testin.toolbox.recipe': '0'.repeat(64) }).flatMap(([k, v]) => ['--label', `${k}=${v}`]), staleRecipe]);
    const installed = (await execa('node', ['dist/launcher/bin.js', 'toolbox', 'install'])).stdout.split('\n');
    const current = [tree, modules, recipe, await snapshotVolume(), ...installed];
    expect(current.every(Boolean)).toBe(true);
    for (const name of current) expect((await execa('docker', ['volume', 'inspect', name], { reject: false })).exitCode, name).toBe(0);

    const r = await execa('node', ['dist/launcher/bin.js', 'toolbox', 'prune']);
    expect(r.stdout).toMatch(new RegExp(`^removed ${stale}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^removed ${staleRecipe}$`, 'm'));
    const after = (await execa('docker', ['volume', 'ls', '-q'])).stdout.split('\n');
    expect(after).not.toContain(stale);
    expect(after).not.toContain(staleRecipe);
    for (const name of current) expect(after, `${name} was pruned`).toContain(name);
    const run = await testin(['run', '--log-level', 'info', '--image', BUSYBOX_IMAGE, '--', 'true']);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(/toolbox volume reused/);
  });

  describe('bad input: one clear line and a fix, exit 125, nothing left behind', () => {
    const TAKEN = `testin-e2e-taken-${process.pid}`;
    beforeAll(async () => {
      await execa('docker', ['create', '--name', TAKEN, BUSYBOX_IMAGE, 'true']);
    });
    afterAll(async () => {
      await execa('docker', ['rm', '-f', TAKEN], { reject: false });
    });

    it.each([
      ['a container name in use', ['run', '--name', TAKEN, '--image', BUSYBOX_IMAGE, '--', 'true'], /the container name "testin-e2e-taken-\d+" is already in use/],
      ['a network that does not exist', ['run', '--network', 'testin-e2e-no-such-net', '--image', BUSYBOX_IMAGE, '--', 'true'], /docker has no network "testin-e2e-no-such-net"/],
      ['an image the engine lacks, with --pull never', ['run', '--pull', 'never', '--image', 'testin-test/no-such-image:1', '--', 'true'], /image "testin-test\/no-such-image:1" is not on the engine \(--pull never\)/],
      // pulled first, as docker does: no registry has it (or none answers here)
      ['an image that does not exist', ['run', '--image', 'testin-test/no-such-image:1', '--', 'true'], /^testin: cannot pull testin-test\/no-such-image:1: /m],
      ['an unknown flag', ['run', '--image', BUSYBOX_IMAGE, '--bogus-flag', '--', 'true'], /Unknown argument: bogus-flag$/],
      ['an empty command after --', ['run', '--image', BUSYBOX_IMAGE, '--'], /the command after -- is empty/],
      ['an empty string as command', ['run', '--image', BUSYBOX_IMAGE, '--', ''], /the command after -- is an empty string/],
      ['a bad memory size', ['run', '--image', BUSYBOX_IMAGE, '--memory', 'lots', '--', 'true'], /invalid memory size "lots"/],
      // the engine's own refusal at create, in its words
      [
        'a bind mount of a folder the engine host does not have',
        ['run', '--mount', 'type=bind,src=/testin-e2e-no-such-dir,dst=/d', '--image', BUSYBOX_IMAGE, '--', 'true'],
        /^testin: the engine refused to create the container: invalid mount config for type "bind": bind source path does not exist: \/testin-e2e-no-such-dir$/,
      ],
      ['a --mount key testin does not take', ['run', '--mount', 'type=volume,src=v,dst=/d,volume-driver=x', '--image', BUSYBOX_IMAGE, '--', 'true'], /testin does not take volume-driver= \(yet\)/],
      ['an invalid container name', ['run', '--name', 'bad name!', '--image', BUSYBOX_IMAGE, '--', 'true'], /invalid --name "bad name!"/],
    ])('%s', async (_what, args, message) => {
      const containersBefore = (await execa('docker', ['ps', '-aq'])).stdout;
      const r = await testin(args);
      expect(r.exitCode).toBe(125);
      expect(r.stdout.toString()).toBe('');
      // the TCG notice comes first on this machine when the error is found after the accelerator is chosen
      // and a pull says when it begins, as docker's 'Unable to find image locally'
      const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('testin: running the VM under TCG') && !l.startsWith('testin: pulling '));
      expect(lines[0]).toMatch(message);
      expect(lines[0]).toMatch(/^testin: /);
      expect(lines[1]).toMatch(/^\s+fix: \S/);
      expect(lines).toHaveLength(2);
      expect((await execa('docker', ['ps', '-aq'])).stdout).toBe(containersBefore);
    });
  });
});
