import type { Options } from 'yargs';

/**
 * docker's order for `run`: `testin run [FLAGS] IMAGE [CMD ARGS...]`. The first word that is
 * neither a flag nor a flag's value is the image; every word after it belongs to the command
 * (its own flags too, as with docker). `--image IMG [-- CMD]` works as before. Returns the
 * flags for yargs (the image as --image) and the command, or the words unchanged when there
 * is no such image word.
 */
export function splitDockerRun(words: readonly string[], flags: Record<string, Options>): { flags: string[]; command: string[] | undefined } | undefined {
  const split = splitAtFirstWord(words, flags, PATH_VALUE_ONLY);
  return split && { flags: [...split.before, '--image', split.word], command: split.command };
}

/**
 * docker's order for `exec`: `testin exec [FLAGS] NAME [--] CMD ARGS...`: the session's name goes
 * first, as yargs' positional, so that a list flag before it (`-e A=1 NAME`) cannot take it as a value.
 */
export function splitDockerExec(words: readonly string[], flags: Record<string, Options>): { flags: string[]; command: string[] | undefined } | undefined {
  const end = words.indexOf('--');
  // with --, testin's own form too: flags on either side of NAME, the command after --
  const split = splitAtFirstWord(end < 0 ? words : words.slice(0, end), flags);
  if (!split) return undefined;
  if (end < 0) return { flags: [split.word, ...split.before], command: split.command };
  return { flags: [split.word, ...split.before, ...(split.command ?? [])], command: words.slice(end + 1) };
}

/**
 * flags whose value is optional and a path: in docker's order the next word is their value only
 * when it is one (`--boot /bin/init IMG CMD`); else it is the image (`--boot IMG CMD` boots IMG's
 * /sbin/init). An image's name never starts with /.
 */
const PATH_VALUE_ONLY: ReadonlySet<string> = new Set(['boot']);

/** the first word that is neither a flag nor a flag's value, the flags before it, and the words after it (a leading -- dropped) */
function splitAtFirstWord(words: readonly string[], flags: Record<string, Options>, pathValueOnly: ReadonlySet<string> = new Set()): { before: string[]; word: string; command: string[] | undefined } | undefined {
  const takesValue = new Set<string>();
  const takesPath = new Set([...pathValueOnly].map((name) => `--${name}`));
  for (const [name, opt] of Object.entries(flags)) {
    if (opt.type === 'boolean' || pathValueOnly.has(name)) continue;
    takesValue.add(`--${name}`);
    for (const alias of [opt.alias ?? []].flat()) takesValue.add(alias.length === 1 ? `-${alias}` : `--${alias}`);
  }
  const end = words.indexOf('--');
  const scanned = end < 0 ? words : words.slice(0, end);
  for (let i = 0; i < scanned.length; i++) {
    const word = scanned[i] as string;
    if (word.startsWith('-') && word !== '-') {
      // --flag=value carries its value; -m 512m, --env X=1 take the next word; -it, -e=X are short flags
      if (!word.includes('=') && (takesValue.has(lastShort(word)) || (takesPath.has(word) && scanned[i + 1]?.startsWith('/')))) i++;
      continue;
    }
    const rest = words.slice(i + 1);
    // `WORD -- CMD` as well as `WORD CMD`
    const command = rest[0] === '--' ? rest.slice(1) : rest;
    return { before: scanned.slice(0, i), word, command: command.length ? command : undefined };
  }
  return undefined;
}

/** -it -> -t (a value, if any, goes to the last of combined short flags), --name stays */
function lastShort(word: string): string {
  return word.startsWith('--') || word.length <= 2 ? word : `-${word.slice(-1)}`;
}
