import type { CliCommand } from './command.js';

export const composeCommand: CliCommand = {
  command: 'compose',
  describe: 'write a compose override that runs chosen services in a VM',
  builder: (y) =>
    y
      .option('file', { alias: 'f', type: 'string', array: true, describe: 'compose file(s) (default docker-compose.yml)' })
      .option('service', { alias: 's', type: 'string', array: true, describe: 'service to run in a VM (repeat for more)' })
      .option('output', { alias: 'o', type: 'string', describe: 'override file to write (default compose.testin.yml beside the first file)' })
      .option('toolbox-base', { type: 'string', describe: 'Debian image the toolbox is built from (default debian:trixie-slim)' }),
  async run(args) {
    // loaded on demand: compose brings execa and yaml, which a run does not need
    const [{ writeComposeOverride }, { createDockerClient }] = await Promise.all([import('../compose-command.js'), import('../dockerode-client.js')]);
    const output = await writeComposeOverride(createDockerClient(), {
      files: (args.file as string[] | undefined) ?? [],
      services: (args.service as string[] | undefined) ?? [],
      output: args.output as string | undefined,
      toolboxBase: args['toolbox-base'] as string | undefined,
    });
    process.stdout.write(`${output}\n`);
    return 0;
  },
};
