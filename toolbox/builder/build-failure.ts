import type { BuildStage } from '../../contract/build-events.js';

/** A step of the build failed: reported to the launcher as a `failed` event, with the tool's last lines. */
export class BuildFailure extends Error {
  constructor(
    readonly stage: BuildStage,
    message: string,
    readonly tail: string[],
  ) {
    super(message);
  }
}
