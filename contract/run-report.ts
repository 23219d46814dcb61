/**
 * The report of a run: one JSON document written at the end of every run,
 * success or failure (`--report FILE`, TESTIN_REPORT), for a CI system to
 * parse. Its JSON Schema is below; the tests validate real reports against it.
 */
import type { Accel } from './run-plan.js';

export const REPORT_VERSION = 1;

/** the VM a run had, as the launcher and container-init saw it */
export interface VmFacts {
  cpus: number;
  memoryMiB: number;
  accel: Accel;
  /** why KVM was not used; null when it was */
  accelReason: string | null;
  kernelRelease: string;
  /** the toolbox's content hash */
  toolbox: string;
  /** how the guest started: its kernel booted, restored from the VM's snapshot, or no VM (--no-vm) */
  startedFrom: 'cold' | 'snapshot' | 'no-vm' | 'unknown';
}

/** a VM that ended without its command ending: a panic, a helper that died, a boot that took too long */
export interface AbnormalEnd {
  reason: string;
  consoleTail: string[];
}

export interface RunReport {
  reportVersion: typeof REPORT_VERSION;
  testin: string;
  /** the verb: a fresh VM per run, or a command in a session */
  command: 'run' | 'exec';
  image?: { name: string; id: string | null } | undefined;
  session?: string | undefined;
  exitCode: number;
  signal: string | null;
  timedOut: boolean;
  canceled: boolean;
  durationMs: number;
  phases: Record<string, number>;
  vm: VmFacts | null;
  abnormal: AbnormalEnd | null;
  /** --boot: the last lines of the booted system's console (systemd's unit lines), colours taken out */
  console?: string[] | undefined;
  /** testin itself refused or failed before the command ran (exit 125): its error */
  error: { code: string; message: string; fix: string | null } | null;
  startedAt: string;
  endedAt: string;
}

const nullable = (schema: Record<string, unknown>): Record<string, unknown> => ({ anyOf: [schema, { type: 'null' }] });
const str = { type: 'string' };

/** JSON Schema (draft 2020-12) of a RunReport */
export const RUN_REPORT_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://github.com/testin/testin/report.schema.json',
  title: 'testin run report',
  type: 'object',
  additionalProperties: false,
  required: ['reportVersion', 'testin', 'command', 'exitCode', 'signal', 'timedOut', 'canceled', 'durationMs', 'phases', 'vm', 'abnormal', 'error', 'startedAt', 'endedAt'],
  properties: {
    reportVersion: { const: REPORT_VERSION },
    testin: str,
    command: { enum: ['run', 'exec'] },
    image: { type: 'object', additionalProperties: false, required: ['name', 'id'], properties: { name: str, id: nullable(str) } },
    session: str,
    exitCode: { type: 'integer', minimum: 0, maximum: 255 },
    signal: nullable({ type: 'string', pattern: '^SIG[A-Z0-9]+$' }),
    timedOut: { type: 'boolean' },
    canceled: { type: 'boolean' },
    durationMs: { type: 'integer', minimum: 0 },
    phases: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
    vm: nullable({
      type: 'object',
      additionalProperties: false,
      required: ['cpus', 'memoryMiB', 'accel', 'accelReason', 'kernelRelease', 'toolbox', 'startedFrom'],
      properties: {
        cpus: { type: 'integer', minimum: 1 },
        memoryMiB: { type: 'integer', minimum: 1 },
        accel: { enum: ['kvm', 'tcg'] },
        accelReason: nullable(str),
        kernelRelease: str,
        toolbox: str,
        startedFrom: { enum: ['cold', 'snapshot', 'no-vm', 'unknown'] },
      },
    }),
    abnormal: nullable({ type: 'object', additionalProperties: false, required: ['reason', 'consoleTail'], properties: { reason: str, consoleTail: { type: 'array', items: str } } }),
    console: { type: 'array', items: str },
    error: nullable({ type: 'object', additionalProperties: false, required: ['code', 'message', 'fix'], properties: { code: str, message: str, fix: nullable(str) } }),
    startedAt: { type: 'string', format: 'date-time' },
    endedAt: { type: 'string', format: 'date-time' },
  },
} as const;

/** what a report is made of: a run's result (or the error that ended it first) and where it ran */
export interface ReportInput {
  testin: string;
  command: 'run' | 'exec';
  image?: { name: string; id?: string | undefined } | undefined;
  session?: string | undefined;
  result?: { exitCode: number; signal?: string | undefined; timedOut: boolean; canceled: boolean; durationMs: number; phases: Record<string, number>; vm?: VmFacts | undefined; abnormal?: AbnormalEnd | undefined; console?: string[] | undefined } | undefined;
  error?: { code: string; message: string; fix?: string | undefined; exitCode: number } | undefined;
  startedAt: Date;
  endedAt: Date;
}

/** The report of a run that ended (result) or failed before it could (error). */
export function buildReport(input: ReportInput): RunReport {
  const r = input.result;
  return {
    reportVersion: REPORT_VERSION,
    testin: input.testin,
    command: input.command,
    ...(input.image ? { image: { name: input.image.name, id: input.image.id ?? null } } : {}),
    ...(input.session ? { session: input.session } : {}),
    exitCode: r?.exitCode ?? input.error?.exitCode ?? 125,
    signal: r?.signal ?? null,
    timedOut: r?.timedOut ?? false,
    canceled: r?.canceled ?? false,
    durationMs: Math.max(0, Math.round(r?.durationMs ?? input.endedAt.getTime() - input.startedAt.getTime())),
    phases: Object.fromEntries(Object.entries(r?.phases ?? {}).map(([k, v]) => [k, Math.max(0, Math.round(v))])),
    vm: r?.vm ?? null,
    abnormal: r?.abnormal ?? null,
    ...(r?.console ? { console: r.console } : {}),
    error: input.error ? { code: input.error.code, message: input.error.message, fix: input.error.fix ?? null } : null,
    startedAt: input.startedAt.toISOString(),
    endedAt: input.endedAt.toISOString(),
  };
}
