import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FRAME_MAX, MessageType, Modprobe, TUNNEL_HELLO_LEN, TUNNEL_TOKEN_LEN, Tag } from './control-protocol.js';
import { EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND } from './exit-codes.js';
import { TOOLBOX_LAYOUT, TOOLBOX_MOUNT } from './layout.js';
import { DEFAULT_PATH } from './run-plan.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STAGES = ['contract', 'launcher', 'toolbox', 'volumes', 'container-init', 'runtime'] as const;
type Stage = (typeof STAGES)[number];

/** Which stage may import which: data flows one way, everyone stands on contract/. */
const ALLOWED: Record<Stage, readonly Stage[]> = {
  contract: [],
  volumes: ['contract'],
  toolbox: ['contract'],
  'container-init': ['contract'],
  launcher: ['contract', 'toolbox', 'volumes'],
  // testin-runtime makes the plan with the launcher's own buildPlan and the VM container's rights
  runtime: ['contract', 'launcher'],
};

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

/** every relative import (static or dynamic) of a file, as the stage it lands in */
function importedStages(file: string): { spec: string; stage: string }[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1] as string);
  return specs.map((spec) => ({ spec, stage: relative(ROOT, resolve(ROOT, dirname(file), spec)).split('/')[0] as string }));
}

describe('the stages import one way', () => {
  for (const stage of STAGES) {
    it(`${stage}/ imports only ${[stage, ...ALLOWED[stage]].join(', ')}`, () => {
      const wrong = sources(stage).flatMap((file) =>
        importedStages(file)
          .filter((i) => i.stage !== stage && !ALLOWED[stage].includes(i.stage as Stage))
          .map((i) => `${file} imports ${i.spec}`),
      );
      expect(wrong).toEqual([]);
    });
  }

  it('finds the imports it judges (the check itself can fail)', () => {
    expect(importedStages('launcher/run.ts').map((i) => i.stage)).toEqual(expect.arrayContaining(['contract', 'launcher', 'toolbox']));
    expect(importedStages('launcher/run-container.ts').some((i) => i.spec.startsWith('../toolbox/custom-kernel'))).toBe(true);
  });
});

describe("initfs/init.h has the contract's values", () => {
  const header = readFileSync(join(ROOT, 'initfs', 'init.h'), 'utf8');
  const define = (name: string): string | undefined => new RegExp(`#define ${name} (.+?)(?:\\s*/\\*.*)?$`, 'm').exec(header)?.[1]?.trim();

  it('the default PATH, the exit codes, the modprobe path', () => {
    expect(define('DEFAULT_PATH')).toBe(JSON.stringify(DEFAULT_PATH));
    expect(Number(define('EXIT_CANNOT_EXECUTE'))).toBe(EXIT_CANNOT_EXECUTE);
    expect(Number(define('EXIT_NOT_FOUND'))).toBe(EXIT_NOT_FOUND);
    expect(define('TOOLBOX_DIR')).toBe(JSON.stringify(TOOLBOX_MOUNT));
    expect(define('TOOLBOX_MODPROBE')).toBe(`TOOLBOX_DIR ${JSON.stringify(`/${TOOLBOX_LAYOUT.modprobe}`)}`);
  });
});

describe('initfs/protocol.h says what contract/control-protocol.ts says', () => {
  const header = readFileSync(join(ROOT, 'initfs', 'protocol.h'), 'utf8');
  const defined = (prefix: string): Map<string, number> =>
    new Map([...header.matchAll(new RegExp(`\\b${prefix}_([A-Z_]+)\\s*=\\s*(0x[0-9a-fA-F]+|\\d+)`, 'g'))].map((m) => [(m[1] as string).toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), Number(m[2])]));

  it('has the same message types, by name and number', () => {
    expect(Object.fromEntries(defined('MSG'))).toEqual({ ...MessageType });
  });

  it('has the same field tags, by name and number', () => {
    expect(Object.fromEntries(defined('TAG'))).toEqual({ ...Tag });
  });

  it("has the same modprobe choices", () => {
    expect(Object.fromEntries(defined('MODPROBE'))).toEqual({ ...Modprobe });
  });

  it('has the same largest frame', () => {
    expect(/#define FRAME_MAX \(1u << (\d+)\)/.exec(header)?.[1]).toBe(String(Math.log2(FRAME_MAX)));
  });

  it("has the same tunnel hello: the token's length, then the connection number and the server's answer", () => {
    expect(Number(/#define TUNNEL_TOKEN_LEN (\d+)/.exec(header)?.[1])).toBe(TUNNEL_TOKEN_LEN);
    expect(/#define TUNNEL_HELLO_LEN \(TUNNEL_TOKEN_LEN \+ (\d+)\)/.exec(header)?.[1]).toBe(String(TUNNEL_HELLO_LEN - TUNNEL_TOKEN_LEN));
  });
});
