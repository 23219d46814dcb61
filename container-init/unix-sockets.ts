/** __SO_ACCEPTCON in /proc/net/unix's Flags: the socket listens */
const ACCEPTCON = 0x10000;

/** The paths of the listening unix sockets in a /proc/net/unix text (this network namespace's). */
export function listeningUnixSockets(procNetUnix: string): Set<string> {
  const paths = new Set<string>();
  for (const line of procNetUnix.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode [Path]
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    if ((parseInt(f[3] as string, 16) & ACCEPTCON) !== 0) paths.add(f.slice(7).join(' '));
  }
  return paths;
}
