/*
 * The program's zero-filled data (its BSS) on transparent huge pages: a library preloaded
 * (`ld.so --preload`) into a helper whose start touches much of a large BSS. passt's is ~200 MB,
 * of which its start writes ~11 MB, mostly in one run: ~2,900 faults of 4 KiB each (~13 us
 * each on this machine, itself a paravirtual guest), on a run's busiest 50 ms, beside QEMU's
 * start. Advised MADV_HUGEPAGE, those are ~10 faults of 2 MiB (its resident memory ~20 MB where
 * it was ~11). Where the host has transparent huge pages off, the advice changes nothing.
 *
 * Built apart from the agent (a shared library, not in the static testin-agent): the toolbox
 * builder compiles it alone (toolbox/builder/assemble-tree.ts).
 */
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* smaller than a huge page, there is nothing to gain */
#define HUGE_PAGE (2u << 20)

static int advise_bss(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  (void)data;
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || ph->p_memsz < ph->p_filesz + HUGE_PAGE) continue;
    /* past the file's last page the segment is anonymous memory of its own */
    uintptr_t start = (info->dlpi_addr + ph->p_vaddr + ph->p_filesz + page - 1) & ~(page - 1);
    uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + page - 1) & ~(page - 1);
    madvise((void *)start, end - start, MADV_HUGEPAGE);
  }
  /* the first object is the program itself: its libraries' are not ours to change */
  return 1;
}

__attribute__((constructor)) static void huge_bss(void) {
  dl_iterate_phdr(advise_bss, NULL);
}
