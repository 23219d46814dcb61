import { CustomKernelError } from '../contract/errors.js';

/**
 * Load order for kernel modules from the kernel's modules.dep, so the in-VM init
 * (which has no modprobe) can insert them one by one: dependencies first.
 */
export type ModulesDep = Map<string, string[]>;

export function parseModulesDep(text: string): ModulesDep {
  const deps: ModulesDep = new Map();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const rest = line.slice(colon + 1).trim();
    deps.set(line.slice(0, colon), rest ? rest.split(/\s+/) : []);
  }
  return deps;
}

/** module name as modprobe sees it: file name without .ko[.xz|.zst|.gz], with - as _ */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/** Paths (relative to /lib/modules/<release>) of the wanted modules and their dependencies, dependencies first. */
export function moduleLoadOrder(deps: ModulesDep, wanted: readonly string[], builtin: ReadonlySet<string> = new Set()): string[] {
  const byName = new Map<string, string>();
  for (const path of deps.keys()) byName.set(moduleName(path), path);
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    // modprobe loads the dependencies listed last first
    for (const dep of [...(deps.get(path) ?? [])].reverse()) visit(dep);
    order.push(path);
  };
  for (const name of wanted) {
    const path = byName.get(name.replace(/-/g, '_'));
    if (path === undefined) {
      if (builtin.has(name.replace(/-/g, '_'))) continue;
      throw new CustomKernelError(
        'TESTIN_KERNEL_MODULES',
        `kernel module ${name} is neither in modules.dep nor built in (modules.builtin)`,
        'give --modules the /lib/modules/<release> folder of --kernel (with its virtio drivers), or boot a kernel with virtio built in',
      );
    }
    visit(path);
  }
  return order;
}

/** Names of the modules a kernel has built in, from its modules.builtin. */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(text.split('\n').filter(Boolean).map(moduleName));
}
