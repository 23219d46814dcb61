/**
 * The release (`uname -r`) a kernel image will report: from a bzImage's setup
 * header (kernel_version at 0x20E points to "<release> (builder) #1 ..."), or
 * from the "Linux version <release>" banner inside an ELF vmlinux.
 */
export function readKernelRelease(image: Buffer): string | undefined {
  if (image.length > 0x210 && image.toString('latin1', 0x202, 0x206) === 'HdrS') {
    const offset = image.readUInt16LE(0x20e) + 0x200;
    const end = image.indexOf(0, offset);
    if (offset > 0x200 && end > offset) return image.toString('latin1', offset, end).split(' ')[0] || undefined;
  }
  const banner = image.indexOf('Linux version ');
  if (banner >= 0) return image.toString('latin1', banner + 14, banner + 14 + 128).split(/\s/)[0] || undefined;
  return undefined;
}
