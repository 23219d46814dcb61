/**
 * runc's command line, as containerd's runc shim and dockerd write it:
 * `runc [GLOBAL FLAGS] COMMAND [FLAGS] [ID]`. testin-runtime reads only what it
 * needs (the command, the bundle of a create, the process file of an exec, where
 * runc logs and in which format) and hands runc the same argv.
 */

/** runc's global flags that take a value (the others are booleans: --debug, --systemd-cgroup) */
const GLOBAL_VALUE_FLAGS = new Set(['--log', '--log-format', '--root', '--criu', '--rootless']);
/** flags of create, run and exec that take a value */
const COMMAND_VALUE_FLAGS = new Set([
  '--bundle', '-b', '--console-socket', '--pid-file', '--preserve-fds',
  '--process', '-p', '--cwd', '--env', '-e', '--user', '-u', '--additional-gids', '-g', '--cap', '-c', '--process-label', '--apparmor', '--cgroup',
]);

export interface RuncArgv {
  /** create, start, exec, ...; undefined for `runc --version` and the like */
  command: string | undefined;
  /** --log PATH: where runc (and testin-runtime) write what went wrong */
  log?: string | undefined;
  /** --log-format text|json */
  logFormat: 'text' | 'json';
  /** create/run: the bundle (--bundle, default the working directory) */
  bundle?: string | undefined;
  /** exec: the process file (--process); absent when the command is given inline */
  processFile?: string | undefined;
  /** the container's id: the last word that is not a flag or a flag's value */
  id?: string | undefined;
}

/** a flag's value, from `--flag VALUE` or `--flag=VALUE` */
function valueOf(argv: readonly string[], i: number): { value: string | undefined; next: number } {
  const word = argv[i] as string;
  const eq = word.indexOf('=');
  if (word.startsWith('--') && eq > 0) return { value: word.slice(eq + 1), next: i + 1 };
  return { value: argv[i + 1], next: i + 2 };
}

const flagName = (word: string): string => (word.startsWith('--') && word.includes('=') ? word.slice(0, word.indexOf('=')) : word);

export function parseRuncArgv(argv: readonly string[]): RuncArgv {
  const out: RuncArgv = { command: undefined, logFormat: 'text' };
  let i = 0;
  // the global flags, up to the command
  while (i < argv.length) {
    const word = argv[i] as string;
    if (!word.startsWith('-')) break;
    const name = flagName(word);
    if (GLOBAL_VALUE_FLAGS.has(name)) {
      const { value, next } = valueOf(argv, i);
      if (name === '--log') out.log = value;
      if (name === '--log-format') out.logFormat = value === 'json' ? 'json' : 'text';
      i = next;
    } else i += 1;
  }
  out.command = argv[i];
  if (out.command === undefined) return out;
  i += 1;
  // the command's flags, then its id (exec: then the inline command, which we do not read)
  while (i < argv.length) {
    const word = argv[i] as string;
    if (word === '--') break;
    if (!word.startsWith('-') || word === '-') {
      out.id = word;
      break;
    }
    const name = flagName(word);
    if (COMMAND_VALUE_FLAGS.has(name)) {
      const { value, next } = valueOf(argv, i);
      if (name === '--bundle' || name === '-b') out.bundle = value;
      if (name === '--process' || name === '-p') out.processFile = value;
      i = next;
    } else i += 1;
  }
  return out;
}

/** One line in runc's log, in its format: containerd reads the last error of a failed create and docker shows it. */
export function runcLogLine(format: 'text' | 'json', message: string, now = new Date()): string {
  if (format === 'json') return `${JSON.stringify({ level: 'error', msg: message, time: now.toISOString() })}\n`;
  return `time="${now.toISOString()}" level=error msg=${JSON.stringify(message)}\n`;
}
