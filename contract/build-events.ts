/**
 * What the toolbox builder (a container on the engine) tells the launcher: one
 * JSON object per line on its stdout, prefixed so that nothing else it prints
 * can be taken for one. apt's own output goes to stderr, kept for errors.
 */
import type { ToolboxManifest } from './toolbox-manifest.js';

const BUILD_EVENT_PREFIX = '@testin ';

export type BuildStage = 'base' | 'index' | 'download' | 'install' | 'kernel' | 'assemble' | 'fill';

export type BuildEvent =
  /** a stage began (detail: what it works on) */
  | { kind: 'stage'; stage: BuildStage; detail?: string }
  /** progress inside a stage: done of total items, and bytes when known */
  | { kind: 'progress'; stage: BuildStage; done: number; total: number; bytes?: number; totalBytes?: number; item?: string }
  /** the build failed: what, and the last lines of the tool that failed */
  | { kind: 'failed'; stage: BuildStage; message: string; tail: string[] }
  /** the tree is complete in the output folder */
  | { kind: 'done'; manifest: ToolboxManifest };

export function encodeBuildEvent(event: BuildEvent): string {
  return `${BUILD_EVENT_PREFIX}${JSON.stringify(event)}\n`;
}

/** The event on a line of the builder's stdout, if it is one. */
export function decodeBuildEvent(line: string): BuildEvent | undefined {
  if (!line.startsWith(BUILD_EVENT_PREFIX)) return undefined;
  try {
    return JSON.parse(line.slice(BUILD_EVENT_PREFIX.length)) as BuildEvent;
  } catch {
    return undefined;
  }
}
