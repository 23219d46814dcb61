import { execa } from 'execa';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUSYBOX_IMAGE, DEBIAN_IMAGE, TESTIN_BIN } from '../helpers/paths.js';
import { leftovers, testin, testinWhenReady } from '../helpers/testin.js';

const skip = inject('e2eSkip');

describe.skipIf(skip !== '')('docker-run parity in the VM: mounts, environment, identity, stdin', () => {
  let dir: string;
  const volume = `testin-e2e-vol-${process.pid}`;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'testin-e2e-mounts-'));
    mkdirSync(join(dir, 'rw'));
    chmodSync(join(dir, 'rw'), 0o777);
    mkdirSync(join(dir, 'ro'));
    writeFileSync(join(dir, 'ro', 'host-file'), 'from the host\n');
    writeFileSync(join(dir, 'env-file'), '# a comment\nFROM_FILE=file value\nOVERRIDDEN=file\n');
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await execa('docker', ['volume', 'rm', '-f', volume], { reject: false });
  });

  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it("has the image's /run and /tmp as docker shows them (folders, links, files, modes, owners) on the VM's fresh tmpfs, and the user's mounts under them (through the image's links too); a /tmp with too much in it stays the image's own", async () => {
    const image = `testin-e2e-fresh:${process.pid}`;
    const big = `testin-e2e-fresh-big:${process.pid}`;
    const context = mkdtempSync(join(tmpdir(), 'testin-e2e-fresh-'));
    try {
      writeFileSync(join(context, 'Dockerfile'), `FROM ${BUSYBOX_IMAGE}\nRUN mkdir -p /tmp/data /run/sshd && echo from-the-image > /tmp/data/file && chown 1000:1000 /tmp/data/file && chmod 640 /tmp/data/file && ln -s /tmp/data /run/lnk && chmod 1777 /tmp\n`);
      await execa('docker', ['build', '-q', '-t', image, context]);
      writeFileSync(join(context, 'Dockerfile'), `FROM ${BUSYBOX_IMAGE}\nRUN mkdir -p /tmp && head -c 2000000 /dev/zero > /tmp/big\n`);
      await execa('docker', ['build', '-q', '-t', big, context]);
      // before, the VM's /run and /tmp were empty tmpfs: the image's entries and these mounts were hidden
      const args = ['-v', `${dir}/ro:/run/x:ro`, '-v', `${dir}/ro:/tmp/y`, '-v', `${dir}/rw:/tmp/w`, image, 'sh', '-c',
        'stat -c "%n %a %u:%g" /run/sshd /tmp /tmp/data/file; readlink /run/lnk; cat /run/lnk/file /run/x/host-file /tmp/y/host-file; echo x > /run/x/no 2>/dev/null || echo ro; echo in-tmp > /tmp/w/fresh && cat /tmp/w/fresh'];
      const docker = await execa('docker', ['run', '--rm', ...args]);
      const vm = await testin(['run', ...args]);
      expect([vm.exitCode, vm.stdout.toString()]).toEqual([0, `${docker.stdout}\n`]);
      expect(readFileSync(join(dir, 'rw', 'fresh'), 'utf8')).toBe('in-tmp\n');
      // the same through the root's own share (no second virtiofsd for the volumes)
      expect((await testin(['run', '--fs-cache', 'always', ...args])).stdout.toString()).toBe(`${docker.stdout}\n`);
      // a mount through the image's link (Debian's /var/run -> /run), as docker resolves it in the image's root (before, the init failed)
      const linked = ['-v', `${dir}/ro:/var/run/x`, DEBIAN_IMAGE, 'sh', '-c', 'cat /var/run/x/host-file /run/x/host-file'];
      const dockerLinked = await execa('docker', ['run', '--rm', ...linked]);
      const vmLinked = await testin(['run', ...linked]);
      expect([vmLinked.exitCode, vmLinked.stdout.toString()]).toEqual([0, `${dockerLinked.stdout}\n`]);
      // still the VM's own tmpfs
      expect((await testin(['run', image, 'sh', '-c', 'grep -E " /(run|tmp) " /proc/mounts | cut -d" " -f2,3 | sort'])).stdout.toString()).toBe('/run tmpfs\n/tmp tmpfs\n');
      // 2 MB in /tmp is more than the request carries: the image's own /tmp, through virtiofs, as docker's
      expect((await testin(['run', big, 'sh', '-c', 'wc -c < /tmp/big; grep -c " /tmp " /proc/mounts; echo new > /tmp/new && cat /tmp/new'])).stdout.toString()).toBe('2000000\n0\nnew\n');
    } finally {
      rmSync(context, { recursive: true, force: true });
      await execa('docker', ['rmi', '-f', image, big], { reject: false });
    }
  });

  it('binds host folders rw and ro at the same path, nested, even where the image has no such folder', async () => {
    const r = await testin([
      'run', '--image', BUSYBOX_IMAGE,
      '-v', `${dir}/rw:/data`, '-v', `${dir}/ro:/data/ro:ro`, '--mount', `type=bind,source=${dir}/ro,target=/also/ro,readonly`,
      '--', 'sh', '-c',
      'cat /data/ro/host-file; echo written-in-vm > /data/out.txt; echo x > /data/ro/nope 2>/dev/null || echo ro-refused; ' +
      'touch /also/ro/nope 2>&1 | grep -o "Read-only file system"',
    ]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.stdout.toString()).toBe('from the host\nro-refused\nRead-only file system\n');
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(dir, 'rw', 'out.txt'), 'utf8')).toBe('written-in-vm\n');
  });

  it.each([
    ['never', 'shows a host edit at once', 'after!'],
    ['always', 'keeps what the VM read before: a host edit read at once is stale', 'before'],
  ])('--fs-cache %s %s', async (cache, _what, seen) => {
    // the same size before and after; the VM reads the file again the moment the host has edited it (told on stdin)
    writeFileSync(join(dir, 'rw', `live-${cache}`), 'before\n');
    const child = execa('node', [TESTIN_BIN, 'run', '-i', '--fs-cache', cache, '--image', BUSYBOX_IMAGE, '-v', `${dir}/rw:/data`, '--', 'sh', '-c',
      `cat /data/live-${cache}; echo ready; read go; cat /data/live-${cache}`], { reject: false, stdin: 'pipe' });
    child.stdout?.on('data', (d: Buffer) => {
      if (!d.toString().includes('ready')) return;
      writeFileSync(join(dir, 'rw', `live-${cache}`), 'after!\n');
      child.stdin?.end('go\n');
    });
    const r = await child;
    expect([r.exitCode, r.stdout]).toEqual([0, `before\nready\n${seen}`]);
  });

  it('by default a bind mount shows a host edit made while the command runs (the image root alone is cached hard)', async () => {
    // the same size before and after: only a revalidation shows the change
    writeFileSync(join(dir, 'rw', 'live2'), 'before\n');
    const r = await testinWhenReady(
      ['run', '--image', BUSYBOX_IMAGE, '-v', `${dir}/rw:/data`, '--', 'sh', '-c',
        'cat /data/live2; echo ready; i=0; while [ "$(cat /data/live2)" = before ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; cat /data/live2'],
      () => writeFileSync(join(dir, 'rw', 'live2'), 'after!\n'),
    );
    expect(r.stdout.toString()).toBe('before\nready\nafter!\n');
  });

  it('creates files on a bind mount as the uid/gid the command ran as', async () => {
    const r = await testin(['run', '--image', BUSYBOX_IMAGE, '-u', '1000:2000', '-v', `${dir}/rw:/data`, '--', 'sh', '-c', 'id -u; id -g; touch /data/owned']);
    expect(r.stdout.toString()).toBe('1000\n2000\n');
    expect(r.exitCode).toBe(0);
    const st = statSync(join(dir, 'rw', 'owned'));
    expect([st.uid, st.gid]).toEqual([1000, 2000]);
  });

  it('keeps a named volume between runs, and gives a tmpfs in the VM with its options', async () => {
    const first = await testin(['run', '--image', BUSYBOX_IMAGE, '-v', `${volume}:/state`, '--tmpfs', '/scratch:size=2m', '--', 'sh', '-c',
      'echo kept > /state/file; grep " /scratch " /proc/mounts']);
    expect(first.exitCode).toBe(0);
    expect(first.stdout.toString()).toMatch(/^tmpfs \/scratch tmpfs rw,nosuid,nodev,noexec,relatime,size=2048k/);
    const second = await testin(['run', '--image', BUSYBOX_IMAGE, '--mount', `type=volume,source=${volume},target=/again`, '--', 'cat', '/again/file']);
    expect(second.stdout.toString()).toBe('kept\n');
  });

  it("gives the root its own proc, sysfs, cgroup2, devtmpfs, devpts, mqueue (docker's /dev/mqueue) and tmpfs mounts, the same made at boot (moved in) as made per run (testin.root_per_run)", async () => {
    const list = 'grep -E " /(proc|sys|sys/fs/cgroup|dev|dev/pts|dev/shm|dev/mqueue|tmp|run) " /proc/mounts | cut -d" " -f1-4 | sort; ls -d /dev/pts/ptmx /sys/fs/cgroup/cgroup.procs';
    const atBoot = await testin(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', list]);
    const perRun = await testin(['run', '--image', BUSYBOX_IMAGE, '--kernel-cmdline', 'testin.root_per_run', '--', 'sh', '-c', list]);
    const lines = atBoot.stdout.toString().split('\n');
    for (const want of [/^proc \/proc proc rw,nosuid,nodev,noexec,/, /^sysfs \/sys sysfs rw,nosuid,nodev,noexec,/,
      /^cgroup2 \/sys\/fs\/cgroup cgroup2 rw,nosuid,nodev,noexec,/, /^devtmpfs \/dev devtmpfs rw,nosuid,/,
      /^devpts \/dev\/pts devpts rw,nosuid,noexec,.*ptmxmode=666/, /^shm \/dev\/shm tmpfs rw,nosuid,nodev,/, /^mqueue \/dev\/mqueue mqueue rw,nosuid,nodev,noexec,/,
      /^tmpfs \/tmp tmpfs rw,nosuid,nodev,/, /^tmpfs \/run tmpfs rw,nosuid,nodev,.*mode=755/, /^\/dev\/pts\/ptmx$/, /^\/sys\/fs\/cgroup\/cgroup.procs$/]) {
      expect(lines.filter((line) => want.test(line)), String(want)).toHaveLength(1);
    }
    expect(perRun.stdout.toString()).toBe(atBoot.stdout.toString());
  });

  it('--read-only makes the root read-only in the VM, /tmp and /run with it as in docker, while rw mounts and a --tmpfs stay writable', async () => {
    const r = await testin(['run', '--image', BUSYBOX_IMAGE, '--read-only', '-v', `${dir}/rw:/data`, '--tmpfs', '/run', '--', 'sh', '-c',
      'for f in /etc/nope /data/ok /tmp/ok /run/ok; do touch $f 2>&1 | grep -o "Read-only file system" || echo $f writable; done']);
    expect(r.stdout.toString()).toBe('Read-only file system\n/data/ok writable\nRead-only file system\n/run/ok writable\n');
  });

  it("fills an empty volume from the image as docker does (its content, the folder's owner and mode, read-only ones too), once, and not with nocopy", async () => {
    const vol = (name: string): string => `testin-e2e-fill-${name}-${process.pid}`;
    const names = ['docker', 'vm', 'ro-docker', 'ro-vm', 'nocopy'].map(vol);
    const LIST = 'ls -A /etc/apt | sort | tr "\\n" " "';
    const PARTIAL = '/var/cache/apt/archives/partial';
    const RO = `stat -c "%U %a" ${PARTIAL}; touch ${PARTIAL}/x 2>&1 | grep -o "Read-only file system"`;
    try {
      const docker = await execa('docker', ['run', '--rm', '-v', `${vol('docker')}:/etc/apt`, DEBIAN_IMAGE, 'sh', '-c', LIST]);
      expect(docker.stdout).toMatch(/sources\.list\.d/);
      const first = await testin(['run', '-v', `${vol('vm')}:/etc/apt`, DEBIAN_IMAGE, 'sh', '-c', `${LIST}; echo mine > /etc/apt/mine; rm -r /etc/apt/sources.list.d`]);
      expect(first.stdout.toString()).toBe(docker.stdout);
      // no longer empty: the next run finds it as the last one left it, nothing copied again
      const again = await testin(['run', '-v', `${vol('vm')}:/etc/apt`, DEBIAN_IMAGE, 'sh', '-c', LIST]);
      const left = [...docker.stdout.trim().split(' ').filter((entry) => entry !== 'sources.list.d'), 'mine'].sort();
      expect(again.stdout.toString()).toBe(`${left.join(' ')} `);
      const roDocker = await execa('docker', ['run', '--rm', '-v', `${vol('ro-docker')}:${PARTIAL}:ro`, DEBIAN_IMAGE, 'sh', '-c', RO]);
      expect(roDocker.stdout).toBe('_apt 700\nRead-only file system');
      const roVm = await testin(['run', '-v', `${vol('ro-vm')}:${PARTIAL}:ro`, DEBIAN_IMAGE, 'sh', '-c', RO]);
      expect(roVm.stdout.toString()).toBe(`${roDocker.stdout}\n`);
      const nocopy = await testin(['run', '--mount', `type=volume,src=${vol('nocopy')},dst=/etc/apt,volume-nocopy`, DEBIAN_IMAGE, 'sh', '-c', 'ls -A /etc/apt | wc -l']);
      expect(nocopy.stdout.toString()).toBe('0\n');
    } finally {
      await execa('docker', ['volume', 'rm', '-f', ...names], { reject: false });
    }
  });

  it('applies -e, -e NAME from the caller, --env-file, -w, --hostname and --domainname, over the image defaults', async () => {
    const r = await testin(
      ['run', '--image', BUSYBOX_IMAGE, '-e', 'A=1', '-e', 'FROM_CALLER', '--env-file', join(dir, 'env-file'), '-e', 'OVERRIDDEN=flag',
        '-w', '/made/for/you', '--hostname', 'vmhost', '--domainname', 'corp.example', '--', 'sh', '-c',
        'echo "$A|$FROM_CALLER|$FROM_FILE|$OVERRIDDEN|$PATH|$HOME"; pwd; hostname; cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname'],
      { env: { ...process.env, FROM_CALLER: 'caller value' } as Record<string, string> },
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe('1|caller value|file value|flag|/bin|/root\n/made/for/you\nvmhost\nvmhost\ncorp.example\n');
  });

  it('resolves -u names in the image, with supplementary groups and HOME, as docker does', async () => {
    const byName = await testin(['run', '--image', BUSYBOX_IMAGE, '-u', 'app', '--', 'sh', '-c', 'id; echo $HOME']);
    expect(byName.stdout.toString()).toBe('uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)\n/home/app\n');
    const debian = await testin(['run', '--image', DEBIAN_IMAGE, '-u', 'nobody:nogroup', '--', 'sh', '-c', 'id -un; id -gn']);
    expect(debian.stdout.toString()).toBe('nobody\nnogroup\n');
    const unknown = await testin(['run', '--image', BUSYBOX_IMAGE, '-u', 'ghost', '--', 'true']);
    expect(unknown.exitCode).toBe(125);
    expect(unknown.stderr).toMatch(/unable to find user ghost/);
  });

  it('-i streams stdin to the command and EOF arrives as EOF', async () => {
    const lines = await testin(['run', '-i', '--image', BUSYBOX_IMAGE, '--', 'wc', '-l'], { input: 'a\nb\n' });
    expect(lines.stdout.toString().trim()).toBe('2');
    expect(lines.exitCode).toBe(0);
    const big = Buffer.alloc(3 * 1024 * 1024, 'z');
    const echoed = await testin(['run', '-i', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'cat; echo done >&2'], { input: big });
    expect(echoed.stdout.equals(big)).toBe(true);
    expect(echoed.stderr).toMatch(/^done$/m);
    const none = await testin(['run', '--image', BUSYBOX_IMAGE, '--', 'sh', '-c', 'cat; echo eof-at-once']);
    expect(none.stdout.toString()).toBe('eof-at-once\n');
  });
});
