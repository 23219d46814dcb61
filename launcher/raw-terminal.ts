import { spawnSync } from 'node:child_process';

/**
 * Puts the terminal on our stdin fully raw, as docker's CLI does for `-t`
 * (node's setRawMode keeps ONLCR, which would add a CR to every line the
 * guest's pty already ends with CRLF). Returns how to put it back.
 */
export function makeTerminalRaw(): () => void {
  const saved = spawnSync('stty', ['-g'], { stdio: ['inherit', 'pipe', 'ignore'], encoding: 'utf8' });
  if (saved.status !== 0) return () => undefined;
  spawnSync('stty', ['raw', '-echo'], { stdio: ['inherit', 'ignore', 'ignore'] });
  return () => {
    spawnSync('stty', [saved.stdout.trim()], { stdio: ['inherit', 'ignore', 'ignore'] });
  };
}
