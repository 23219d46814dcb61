/**
 * Which architecture a run's VM is (the guest) and which its tools are (the host: the engine's):
 * docker's --platform, else the image's own, else the engine's. The image's binaries run only
 * in the VM, so an arm64 image on an x86-64 engine gets an arm64 VM, emulated by QEMU.
 */
import { archOf, engineArch, parsePlatform, platformOf, type Arch, type ToolboxArch } from '../contract/arch.js';
import { UsageError } from '../contract/errors.js';

/** --platform checked alone (before the engine is asked): its architecture */
export function platformArch(platform: string | undefined): Arch | undefined {
  if (platform === undefined) return undefined;
  const parsed = parsePlatform(platform);
  if ('error' in parsed) throw new UsageError(parsed.error, 'write linux/amd64 or linux/arm64, as docker does');
  return parsed.arch;
}

/** The VM's architecture when --platform or the image says it (checked: one testin runs, the two agreeing); undefined when it is the engine's. */
export function chosenGuest(image: { name: string; architecture?: string | undefined }, platform: string | undefined): Arch | undefined {
  const wanted = platformArch(platform);
  const own = image.architecture ? archOf(image.architecture) : undefined;
  if (image.architecture && !own) {
    throw new UsageError(`the image ${image.name} is linux/${image.architecture}: testin runs linux/amd64 and linux/arm64 images`, 'use the image\'s amd64 or arm64 variant');
  }
  if (wanted && own && wanted !== own) {
    // docker's refusal of a local image of another platform, in its words
    throw new UsageError(
      `the image ${image.name} does not match the specified platform: wanted ${platformOf(wanted)}, actual: ${platformOf(own)}`,
      `drop --platform, or pull the image's ${platformOf(wanted)} variant (docker pull --platform ${platformOf(wanted)} ${image.name})`,
    );
  }
  return wanted ?? own;
}

export function chooseArch(engine: string, image: { name: string; architecture?: string | undefined }, platform: string | undefined): ToolboxArch {
  const host = engineArch(engine);
  return { host, guest: chosenGuest(image, platform) ?? host };
}
