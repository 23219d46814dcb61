import type { Options } from 'yargs';

/**
 * docker's order for `run`: `testin run [FLAGS] IMAGE [CMD ARGS...]`. The first word that is
 * neither a flag nor a flag's value is the image; every word after it belongs to the command
 * (its own flags too, as with docker). `--image IMG [-- CMD]` works as before. Returns the
 * flags for yargs (the image as --image) and the command, or the words unchanged when there
 * is no such image word.
 */
export function splitDockerRun(words: readonly string[], flags: Record<string, Options>): { flags: string[]; command: string[] | undefined } | undefined {
  const split = splitAtFirstWord(words, flags, OWN_WORD_ONLY);
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
 * flags whose value is optional, given only as --flag=VALUE in docker's order: `--boot IMG CMD`
 * boots IMG's /sbin/init (the word after --boot is the image, not the init's path)
 */
const OWN_WORD_ONLY: ReadonlySet<string> = new Set(['boot']);

/** the first word that is neither a flag nor a flag's value, the flags before it, and the words after it (a leading -- dropped) */
function splitAtFirstWord(words: readonly string[], flags: Record<string, Options>, valueOnlyWithEquals: ReadonlySet<string> = new Set()): { before: string[]; word: string; command: string[] | undefined } | undefined {
  const takesValue = new Set<string>();
  for (const [name, opt] of Object.entries(flags)) {
    if (opt.type === 'boolean' || valueOnlyWithEquals.has(name)) continue;
    takesValue.add(`--${name}`);
    for (const alias of [opt.alias ?? []].flat()) takesValue.add(alias.length === 1 ? `-${alias}` : `--${alias}`);
  }
  const end = words.indexOf('--');
  const scanned = end < 0 ? words : words.slice(0, end);
  for (let i = 0; i < scanned.length; i++) {
    const word = scanned[i] as string;
    if (word.startsWith('-') && word !== '-') {
      // --flag=value carries its value; -m 512m, --env X=1 take the next word; -it, -e=X are short flags
      if (!word.includes('=') && takesValue.has(lastShort(word))) i++;
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
