import { execa } from 'execa';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { failInCI } from '../../launcher/ci-detect.js';
import { BUSYBOX_IMAGE, TESTIN_BIN } from '../helpers/paths.js';
import { REGISTRY_PASSWORD, REGISTRY_USER, startRegistry, type LoopbackRegistry } from '../helpers/registry.js';
import { leftovers, testin, within } from '../helpers/testin.js';

const skip = inject('e2eSkip');
const registryMissing = spawnSync('docker-registry', ['--version']).error ? 'docker-registry is not installed (apt-get install docker-registry, as .ci/setup does)' : '';
if (skip === '' && registryMissing) {
  failInCI(`the --pull tests need ${registryMissing}`);
  console.warn(`skipping the --pull tests: ${registryMissing}`);
}

/** A `docker run` line turned into a `testin run` line: docker's order and flags, with docker's meaning in the VM. */
describe.skipIf(skip !== '')('docker run habits', () => {
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it("takes docker's order: the image first, then the command with its own flags", async () => {
    const r = await testin(['run', '-e', 'A=1', BUSYBOX_IMAGE, 'sh', '-c', 'echo x $A; exit 3', '--memory']);
    expect([r.exitCode, r.stdout.toString()]).toEqual([3, 'x 1\n']);
  });

  it("run as the program npm installs, an --env-file (testin's, or the command's own) never reaches node's own check", async () => {
    // node reads `--env-file F` anywhere in its argv as its own and exits 9 when F is not there: the program puts -- before its args
    const own = await execa(TESTIN_BIN, ['run', BUSYBOX_IMAGE, 'echo', '--env-file', '/only/in/the/image'], { reject: false });
    expect([own.exitCode, own.stdout]).toEqual([0, '--env-file /only/in/the/image']);
    const missing = await execa(TESTIN_BIN, ['run', '--env-file', '/no/such/file', BUSYBOX_IMAGE, 'true'], { reject: false });
    expect([missing.exitCode, missing.stderr]).toEqual([125, 'testin: cannot read --env-file /no/such/file: ENOENT\n  fix: give --env-file a readable file of NAME=VALUE lines']);
  });

  it('--cap-drop takes capabilities from the command; without it the command holds them all', async () => {
    const script = 'ip link add d0 type dummy 2>/dev/null && echo added || echo refused; grep -E "^Cap(Eff|Bnd)" /proc/self/status';
    const all = await testin(['run', BUSYBOX_IMAGE, 'sh', '-c', script]);
    expect(all.stdout.toString()).toBe('added\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n');
    const noNet = await testin(['run', '--cap-drop', 'NET_ADMIN', BUSYBOX_IMAGE, 'sh', '-c', script]);
    // NET_ADMIN is capability 12: bit 0x1000 gone from the effective and the bounding sets
    expect(noNet.stdout.toString()).toBe('refused\nCapEff:\t000001ffffffefff\nCapBnd:\t000001ffffffefff\n');
    const none = await testin(['run', '--cap-drop', 'ALL', BUSYBOX_IMAGE, 'grep', '^Cap', '/proc/self/status']);
    expect(none.stdout.toString()).toBe(['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'].map((c) => `${c}:\t0000000000000000\n`).join(''));
    const one = await testin(['run', '--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN', BUSYBOX_IMAGE, 'grep', '^CapEff', '/proc/self/status']);
    expect(one.stdout.toString()).toBe('CapEff:\t0000000000001000\n');
  });

  it('--sysctl, --ulimit, --shm-size, --dns-search, --dns-option, --group-add and no-new-privileges, read back in the VM', async () => {
    const r = await testin([
      'run', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.msgmax=65536', '--ulimit', 'nofile=1024:2048', '--shm-size', '256m',
      '--dns-search', 'example.test', '--dns-option', 'ndots:3', '--group-add', '4242', '--security-opt', 'no-new-privileges', '--init',
      BUSYBOX_IMAGE, 'sh', '-c',
      'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax; ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1 | tr -s " " | cut -d" " -f2; grep NoNewPrivs /proc/self/status; id -G; grep -E "^(search|options)" /etc/resolv.conf',
    ]);
    expect([r.exitCode, r.stdout.toString()]).toEqual([0, '1\n65536\n1024\n2048\n262144\nNoNewPrivs:\t1\n0 4242\nsearch example.test\noptions ndots:3\n']);
  });

  it("--pids-limit holds the command and what it starts to N tasks, in a cgroup of the VM's it sees as its root, as docker's container: a fork beyond it fails as in docker", async () => {
    const FORKS = 'for i in $(seq 30); do sleep 3 & done; echo all-started';
    const docker = await execa('docker', ['run', '--rm', '--pids-limit', '20', BUSYBOX_IMAGE, 'sh', '-c', FORKS], { reject: false });
    expect([docker.exitCode, docker.stdout, docker.stderr]).toEqual([2, '', expect.stringMatching(/can't fork: Resource temporarily unavailable/)]);
    const held = await testin(['run', '--pids-limit', '20', BUSYBOX_IMAGE, 'sh', '-c', `cat /sys/fs/cgroup/pids.max /proc/self/cgroup; ${FORKS}`]);
    expect([held.exitCode, held.stdout.toString(), held.stderr.toString()]).toEqual([2, '20\n0::/\n', expect.stringMatching(/can't fork: Resource temporarily unavailable/)]);
    const roomy = await testin(['run', '--pids-limit', '100', BUSYBOX_IMAGE, 'sh', '-c', FORKS]);
    expect([roomy.exitCode, roomy.stdout.toString()]).toEqual([0, 'all-started\n']);
  });

  it("without --ulimit the command has the container's limits, as docker run's process has them (open files, processes, pending signals); --ulimit wins for its own", async () => {
    const script = 'for o in -n -Hn -u -Hu -i -l; do ulimit $o; done';
    const docker = (await execa('docker', ['run', '--rm', BUSYBOX_IMAGE, 'sh', '-c', script])).stdout.split('\n');
    // the VM's kernel alone would give 1024 open files (4096 hard) and processes by the VM's memory
    const r = await testin(['run', BUSYBOX_IMAGE, 'sh', '-c', script]);
    expect([r.exitCode, r.stdout.toString().trim().split('\n')]).toEqual([0, docker]);
    const own = await testin(['run', '--ulimit', 'nproc=500', BUSYBOX_IMAGE, 'sh', '-c', script]);
    expect([own.exitCode, own.stdout.toString().trim().split('\n')]).toEqual([0, [docker[0], docker[1], '500', '500', docker[4], docker[5]]]);
  });

  it("--device names the VM's own devices: FUSE and TUN open to every user, a loop device made for the disk group and usable; a host's device is refused", async () => {
    const r = await testin(['run', '--device', '/dev/fuse', '--device', '/dev/net/tun:rwm', '--device', '/dev/loop5:/dev/loop5', BUSYBOX_IMAGE, 'sh', '-c',
      'stat -c "%n %a %u:%g %t:%T" /dev/fuse /dev/net/tun /dev/loop5; head -c 1048576 /dev/zero > /tmp/disk; losetup /dev/loop5 /tmp/disk && losetup /dev/loop5 | grep -o /tmp/disk']);
    // FUSE is 10:229, TUN 10:200, loop 7:N; the group disk is 6
    expect([r.exitCode, r.stdout.toString()]).toEqual([0, '/dev/fuse 666 0:0 a:e5\n/dev/net/tun 666 0:0 a:c8\n/dev/loop5 660 0:6 7:5\n/tmp/disk\n']);
    const host = await testin(['run', '--device', '/dev/sda', BUSYBOX_IMAGE, 'true']);
    expect([host.exitCode, host.stderr.toString()]).toEqual([125, expect.stringMatching(/^testin: --device \/dev\/sda: a device of the host cannot be handed into the VM's kernel\n {2}fix: /m)]);
  });

  it("a session made with them: up, then exec (docker exec's order and flags, -d) and docker cp both ways, then down; each command of it gets them", async () => {
    const name = `testin-e2e-habits-${process.pid}`;
    expect((await testin(['up', '--name', name, '--cap-drop', 'ALL', '--sysctl', 'kernel.msgmax=12345', '--pids-limit', '50', '--image', BUSYBOX_IMAGE])).exitCode).toBe(0);
    try {
      // docker exec's order: NAME CMD ARGS, no --
      const r = await testin(['exec', name, 'sh', '-c', 'grep ^CapEff /proc/self/status; cat /proc/sys/kernel/msgmax; ulimit -n; cat /sys/fs/cgroup/pids.max /proc/self/cgroup']);
      // and the container's open files, as docker exec's process has them
      const nofile = (await execa('docker', ['exec', name, 'sh', '-c', 'ulimit -n'])).stdout;
      expect([r.exitCode, r.stdout.toString()]).toEqual([0, `CapEff:\t0000000000000000\n12345\n${nofile}\n50\n0::/\n`]);
      // docker exec's --env-file and -e: the flag wins over the file, K alone is this shell's K
      const envFile = join(mkdtempSync(join(tmpdir(), 'testin-e2e-exec-env-')), 'env');
      writeFileSync(envFile, '# for the exec\nA=file\nB=file\n');
      const e = await testin(['exec', '--env-file', envFile, '-e', 'A=flag', '-e', 'FROM_SHELL', '-e', 'NOT_SET', name, '--', 'sh', '-c', 'echo "$A $B $FROM_SHELL"; printenv NOT_SET || echo unset'], {
        env: { FROM_SHELL: 'shell' },
      });
      // docker cp both ways: the image's root in the VM is the container's, through virtiofs
      await execa('docker', ['cp', envFile, `${name}:/copied-in`]);
      rmSync(dirname(envFile), { recursive: true, force: true });
      expect([e.exitCode, e.stdout.toString()]).toEqual([0, 'flag file shell\nunset\n']);
      const copied = await testin(['exec', name, 'sh', '-c', 'tail -1 /copied-in; echo written-in-the-vm > /copied-out']);
      expect([copied.exitCode, copied.stdout.toString()]).toEqual([0, 'B=file\n']);
      expect((await execa('sh', ['-c', `docker cp ${name}:/copied-out - | tar -xO`])).stdout).toBe('written-in-the-vm');
      // docker exec -d: 0 once started, nothing printed; the command runs on in the VM after the exec returned
      const detached = await testin(['exec', '-d', name, 'sh', '-c', 'echo dropped; sleep 2; echo finished > /detached']);
      expect([detached.exitCode, detached.stdout.toString(), detached.stderr.toString()]).toEqual([0, '', '']);
      expect((await testin(['exec', name, 'sh', '-c', 'test -e /detached || echo not-yet'])).stdout.toString()).toBe('not-yet\n');
      expect(await within(15_000, async () => (await testin(['exec', name, 'cat', '/detached'])).stdout.toString() === 'finished\n')).toBe(true);
      const missing = await testin(['exec', '-d', name, '/no/such/program']);
      expect([missing.exitCode, missing.stderr.toString()]).toEqual([127, 'testin: exec /no/such/program: no such file or directory\n']);
    } finally {
      expect((await testin(['down', name])).exitCode).toBe(0);
    }
  });

  it('refuses what it cannot do in one line with a fix, 125, nothing left: a sysctl the kernel lacks, a flag testin does not take, an env file written as a shell script, a relative -w, an image name docker refuses', async () => {
    const envDir = mkdtempSync(join(tmpdir(), 'testin-e2e-envfile-'));
    try {
      writeFileSync(join(envDir, 'env'), 'A=1\nexport B=2\n');
      const envFile = await testin(['run', '--env-file', join(envDir, 'env'), BUSYBOX_IMAGE, 'env']);
      expect([envFile.exitCode, envFile.stdout.toString(), envFile.stderr.toString()]).toEqual([125, '', expect.stringMatching(/^testin: --env-file: the name "export B" has whitespace in it\n {2}fix: write NAME=VALUE lines/m)]);
    } finally {
      rmSync(envDir, { recursive: true, force: true });
    }
    const sysctl = await testin(['run', '--sysctl', 'net.no_such_key=1', BUSYBOX_IMAGE, 'echo', 'ran']);
    expect([sysctl.exitCode, sysctl.stdout.toString()]).toEqual([125, '']);
    expect(sysctl.stderr.toString()).toMatch(/^testin: --sysctl net\.no_such_key: no such sysctl in this kernel\n {2}fix: check its name/m);
    const workdir = await testin(['run', '-w', 'relative/dir', BUSYBOX_IMAGE, 'pwd']);
    expect([workdir.exitCode, workdir.stdout.toString(), workdir.stderr.toString()]).toEqual([125, '', expect.stringMatching(/^testin: the working directory 'relative\/dir' is invalid, it needs to be an absolute path\n {2}fix: give one from the image's root, e.g. -w \/relative\/dir/m)]);
    // a name docker refuses never reaches the engine's API as a path (it was node's TypeError, or an internal error)
    for (const image of ['a b', '/bin/init']) {
      const named = await testin(['run', '--image', image, '--', 'true']);
      expect([named.exitCode, named.stderr.toString()]).toEqual([125, expect.stringMatching(/^testin: invalid reference format: .*\n {2}fix: name the image as docker does/)]);
    }
    const gpus = await testin(['run', '--gpus', 'all', BUSYBOX_IMAGE, 'true']);
    expect([gpus.exitCode, gpus.stderr.toString()]).toEqual([125, expect.stringMatching(/^testin: --gpus: not supported by testin: a VM sees no GPU of the host\n {2}fix: /)]);
    const opt = await testin(['run', '--security-opt', 'seccomp=unconfined', BUSYBOX_IMAGE, 'true']);
    expect([opt.exitCode, opt.stderr.toString()]).toEqual([125, expect.stringMatching(/^testin: --security-opt seccomp=unconfined: not supported by testin: /)]);
  });

  it('-d returns with the name at once; --label, --label-file, --cidfile and --cpus 1.5 are on its container; testin ls lists it; docker logs shows its output; docker stop gives the command --stop-signal; docker wait gives its code; nothing is left', async () => {
    const name = `testin-e2e-detached-${process.pid}`;
    const dir = mkdtempSync(join(tmpdir(), 'testin-e2e-labels-'));
    const cidfile = join(dir, 'cid');
    writeFileSync(join(dir, 'labels'), '# the CI job\ncom.example.job=7\ncom.example.team=qa\ncom.example.flag\n');
    const script = 'trap "echo got USR1; exit 7" USR1; echo ready; while :; do sleep 1; done';
    const r = await testin(['run', '-d', '--name', name, '--cpus', '1.5', '--stop-signal', 'SIGUSR1', '-l', 'com.example.job=42', '--label-file', join(dir, 'labels'), '--cidfile', cidfile, BUSYBOX_IMAGE, 'sh', '-c', script]);
    expect([r.exitCode, r.stdout.toString()]).toEqual([0, `${name}\n`]);
    const wait = execa('docker', ['wait', name], { reject: false });
    try {
      const [id, labels, nanoCpus] = (await execa('docker', ['inspect', '--format', '{{.Id}} {{json .Config.Labels}} {{.HostConfig.NanoCpus}}', name])).stdout.split(' ');
      expect(readFileSync(cidfile, 'utf8')).toBe(id);
      // --cpus 1.5: two vCPUs (testin ls below), the container held to 1.5 CPUs of time, as docker's
      expect(nanoCpus).toBe('1500000000');
      // the flag wins over the file, as docker's; testin's own labels stay beside them
      expect(JSON.parse(labels as string)).toMatchObject({ 'com.example.job': '42', 'com.example.team': 'qa', 'com.example.flag': '', 'testin.detached': expect.any(String) });
      // a second run with the same --cidfile is refused before anything is made, as docker refuses it
      const again = await testin(['run', '--cidfile', cidfile, BUSYBOX_IMAGE, 'true']);
      expect([again.exitCode, again.stderr.toString()]).toEqual([125, `testin: --cidfile ${cidfile}: the file exists (another container's ID?)\n  fix: delete it, or name a file that does not exist\n`]);
      expect(await within(30_000, async () => (await execa('docker', ['logs', name], { reject: false })).stdout.includes('ready'))).toBe(true);
      const ls = (await testin(['ls'])).stdout.toString();
      expect(ls).toMatch(new RegExp(`^${name}\\s+run -d\\s+${BUSYBOX_IMAGE}\\s+(tcg|kvm)\\s+2\\s+1024m\\s.*running$`, 'm'));
      await execa('docker', ['stop', name]);
      // the code comes from docker wait; the engine removes the container (--rm)
      expect((await wait).stdout.trim()).toBe('7');
    } finally {
      await execa('docker', ['rm', '-f', name], { reject: false });
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await within(10_000, async () => (await execa('docker', ['ps', '-aq', '--filter', `name=^${name}$`])).stdout === '')).toBe(true);
  });

  it("--volumes-from mounts another container's volume and bind at their paths, with their modes or the one given; --link names a running container in /etc/hosts", async () => {
    const tag = `${process.pid}`;
    const [volume, data, db] = [`testin-e2e-vf-${tag}`, `testin-e2e-vf-data-${tag}`, `testin-e2e-link-db-${tag}`];
    const dir = mkdtempSync(join(tmpdir(), 'testin-e2e-vf-'));
    writeFileSync(join(dir, 'g'), 'from-the-bind\n');
    try {
      await execa('docker', ['run', '--rm', '-v', `${volume}:/data`, BUSYBOX_IMAGE, 'sh', '-c', 'echo from-the-volume > /data/f']);
      // a container that never ran lends its mounts, as in docker (its tmpfs stays behind)
      await execa('docker', ['create', '--name', data, '-v', `${volume}:/data`, '-v', `${dir}:/bind:ro`, '--tmpfs', '/scratch', BUSYBOX_IMAGE, 'true']);
      const script = 'cat /data/f /bind/g; touch /data/new && echo data-rw; touch /bind/x 2>/dev/null || echo bind-ro; test -e /scratch || echo no-scratch';
      const own = await testin(['run', '--volumes-from', data, BUSYBOX_IMAGE, 'sh', '-c', script]);
      expect([own.exitCode, own.stdout.toString()]).toEqual([0, 'from-the-volume\nfrom-the-bind\ndata-rw\nbind-ro\nno-scratch\n']);
      const ro = await testin(['run', '--volumes-from', `${data}:ro`, BUSYBOX_IMAGE, 'sh', '-c', 'ls /data; touch /data/x 2>/dev/null || echo data-ro']);
      expect(ro.stdout.toString()).toBe('f\nnew\ndata-ro\n');
      const none = await testin(['run', '--volumes-from', `testin-e2e-none-${tag}`, BUSYBOX_IMAGE, 'true']);
      expect([none.exitCode, none.stderr.toString()]).toEqual([125, expect.stringMatching(/^testin: --volumes-from testin-e2e-none-\d+: no such container\n {2}fix: /)]);

      await execa('docker', ['run', '-d', '--name', db, BUSYBOX_IMAGE, 'sh', '-c', 'mkdir /www && echo linked > /www/index.html && exec httpd -f -p 80 -h /www']);
      const linked = await testin(['run', '--link', `${db}:database`, BUSYBOX_IMAGE, 'sh', '-c', 'for i in $(seq 20); do wget -qO- http://database/ && exit 0; sleep 0.3; done; exit 1']);
      expect([linked.exitCode, linked.stdout.toString()]).toEqual([0, 'linked\n']);
      await execa('docker', ['stop', '-t', '0', db]);
      const stopped = await testin(['run', '--link', `${db}:database`, BUSYBOX_IMAGE, 'true']);
      expect([stopped.exitCode, stopped.stderr.toString()]).toEqual([125, expect.stringMatching(/non running container.*\n {2}fix: start the container --link names first/)]);
    } finally {
      await execa('docker', ['rm', '-f', data, db], { reject: false });
      await execa('docker', ['volume', 'rm', volume], { reject: false });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--rm=false keeps the container, exited with the code, for docker cp, logs and inspect; no later run reaps it; one that never ran is not kept', async () => {
    const name = `testin-e2e-kept-${process.pid}`;
    try {
      const r = await testin(['run', '--rm=false', '--name', name, BUSYBOX_IMAGE, 'sh', '-c', 'mkdir /out && echo artifact > /out/a; echo said; echo err >&2; exit 3']);
      expect([r.exitCode, r.stdout.toString()]).toEqual([3, 'said\n']);
      expect((await execa('docker', ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name])).stdout).toBe('exited 3');
      // what the command wrote in the image's root is in the container's layer
      expect((await execa('sh', ['-c', `docker cp ${name}:/out/a - | tar -xO`])).stdout).toBe('artifact');
      const logs = await execa('docker', ['logs', name]);
      expect([logs.stdout, logs.stderr]).toEqual(['said', 'err']);
      expect((await testin(['run', BUSYBOX_IMAGE, 'true'])).exitCode).toBe(0);
      expect((await execa('docker', ['ps', '-aq', '--filter', `name=^${name}$`])).stdout).not.toBe('');
    } finally {
      await execa('docker', ['rm', '-f', name], { reject: false });
    }
    const refused = await testin(['run', '--rm=false', '--name', name, '--link', `testin-e2e-none-${process.pid}`, BUSYBOX_IMAGE, 'true']);
    expect(refused.exitCode).toBe(125);
    expect((await execa('docker', ['ps', '-aq', '--filter', `name=^${name}$`])).stdout).toBe('');
  });

  it("the image's STOPSIGNAL reaches the command when no --stop-signal is given, on --timeout too", async () => {
    const image = 'testin-test/stopsignal:1';
    await execa('docker', ['build', '-q', '-t', image, '-'], { input: `FROM ${BUSYBOX_IMAGE}\nSTOPSIGNAL SIGUSR2\n` });
    try {
      const r = await testin(['run', '--timeout', '3s', image, 'sh', '-c', 'trap "echo got USR2; exit 0" USR2; while :; do sleep 1; done']);
      expect(r.stdout.toString()).toBe('got USR2\n');
      expect(r.stderr).toMatch(/timed out after 3 s: stopping the command \(SIGUSR2, /);
    } finally {
      await execa('docker', ['rmi', image], { reject: false });
    }
  });
});

/** --pull: an image only in a registry (Debian's docker-registry on loopback, with htpasswd auth) */
describe.skipIf(skip !== '' || registryMissing !== '')('--pull from a registry on loopback', () => {
  let registry: LoopbackRegistry;
  let config: string;
  let image: string;
  beforeAll(async () => {
    registry = await startRegistry();
    image = `${registry.address}/testin-e2e/pulled:1`;
    // docker login writes the credentials testin reads (DOCKER_CONFIG), as the docker CLI would
    config = mkdtempSync(join(tmpdir(), 'docker-config-'));
    await execa('docker', ['--config', config, 'login', '-u', REGISTRY_USER, '--password-stdin', registry.address], { input: REGISTRY_PASSWORD });
    await execa('docker', ['tag', BUSYBOX_IMAGE, image]);
    await execa('docker', ['--config', config, 'push', image]);
    await execa('docker', ['rmi', image]);
  });
  afterAll(async () => {
    await execa('docker', ['rmi', image], { reject: false });
    await registry?.stop();
    rmSync(config, { recursive: true, force: true });
  });
  afterEach(async () => {
    expect(await leftovers()).toEqual([]);
  });

  it('--pull never on an image the engine lacks is 125 with a fix; without credentials the registry refuses in one line', async () => {
    const never = await testin(['run', '--pull', 'never', image, 'true']);
    expect([never.exitCode, never.stderr]).toEqual([125, `testin: image "${image}" is not on the engine (--pull never)\n  fix: pull it (docker pull ${image}) or drop --pull never\n`]);
    const denied = await testin(['run', image, 'true'], { env: { DOCKER_CONFIG: join(config, 'none') } });
    expect(denied.exitCode).toBe(125);
    expect(denied.stderr).toMatch(new RegExp(`^testin: cannot pull ${image}: .*(no basic auth credentials|unauthorized).*\\n  fix: log in to it \\(docker login ${registry.address}\\)`, 'm'));
  });

  it("pulls with the client's docker credentials and runs it; a registry that is down is one line with a fix", async () => {
    const r = await testin(['run', image, 'echo', 'pulled'], { env: { DOCKER_CONFIG: config } });
    expect([r.exitCode, r.stdout.toString()]).toEqual([0, 'pulled\n']);
    // no terminal: a line when it begins and one when it ends
    expect(r.stderr).toMatch(new RegExp(`^testin: pulling ${image}\\ntestin: pulled ${image} \\(\\d+ layers\\)$`, 'm'));
    // now it is there: missing (the default) does not pull again
    expect((await testin(['run', image, 'true'])).stderr).not.toMatch(/pulling/);
    // -q: the pull says nothing
    const quiet = await testin(['run', '-q', '--pull', 'always', image, 'echo', 'quiet'], { env: { DOCKER_CONFIG: config } });
    expect([quiet.exitCode, quiet.stdout.toString()]).toEqual([0, 'quiet\n']);
    expect(quiet.stderr).not.toMatch(/pull/);
    await registry.stop();
    const down = await testin(['run', '--pull', 'always', image, 'true'], { env: { DOCKER_CONFIG: config } });
    expect(down.exitCode).toBe(125);
    expect(down.stderr).toMatch(new RegExp(`^testin: cannot pull ${image}: .*connection refused.*\\n  fix: the engine cannot reach ${registry.address}: `, 'm'));
  });
});
