/**
 * Random bytes from the kernel's generator (/dev/urandom), and a comparison of secrets in
 * constant time: what container-init needs of node:crypto, whose first load costs the
 * toolbox's node 10-30 ms of every run here (OpenSSL's start), for 32 bytes of seed and a token.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export function kernelRandomBytes(n: number): Buffer {
  const out = Buffer.alloc(n);
  const fd = openSync('/dev/urandom', 'r');
  try {
    for (let got = 0; got < n; ) {
      const read = readSync(fd, out, got, n - got, null);
      if (read <= 0) throw new Error('/dev/urandom gave no bytes');
      got += read;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** a === b, in a time that does not depend on where they differ (both of one length: false otherwise) */
export function sameSecret(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}
