import type { CliCommand } from './command.js';

export const doctorCommand: CliCommand = {
  command: 'doctor',
  describe: 'check what a run on this engine would meet (engine, containers, KVM, toolbox, space), each with a fix; exit 0 when a run would work, 1 when not',
  builder: (y) =>
    y
      .option('json', { type: 'boolean', describe: 'print the checks as one JSON document' })
      .option('image', { type: 'string', describe: "also check this image: its architecture, and the VM a run of it gets" })
      .option('platform', { type: 'string', describe: 'as testin run --platform: linux/amd64 or linux/arm64' })
      .option('toolbox-base', { type: 'string', describe: 'Debian image the toolbox is built from (default TESTIN_TOOLBOX_BASE, else debian:trixie-slim)' }),
  async run(args) {
    const [{ runDoctor, doctorExitCode, formatChecks }, { createDockerClient }, { toolboxBase }] = await Promise.all([
      import('../doctor.js'),
      import('../dockerode-client.js'),
      import('../../toolbox/ensure-toolbox.js'),
    ]);
    const checks = await runDoctor(createDockerClient(), { base: toolboxBase(args['toolbox-base'] as string | undefined), image: args.image as string | undefined, platform: args.platform as string | undefined });
    const code = doctorExitCode(checks);
    process.stdout.write(args.json ? `${JSON.stringify({ ok: code === 0, checks }, null, 2)}\n` : `${formatChecks(checks)}\n${code === 0 ? 'a run would work here' : 'a run would not work here: see the fail lines'}\n`);
    return code;
  },
};
