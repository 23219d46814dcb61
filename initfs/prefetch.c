/*
 * The command's files read ahead: a restored guest's page cache holds nothing of the run's
 * image, so the command's first exec faults its program, its ELF interpreter and its
 * libraries in from the root's share, a virtiofs round trip each few pages (a static
 * busybox's first exec 53-72 ms under TCG here, 18-23 ms when its file was read first; a
 * dynamic coreutils `true` 85-87 ms, 52-59 ms with libc read first). The warm-up (warm.c)
 * reads them on its vCPU while the init sets the root up: the exec finds them in the page
 * cache. Read-only, in the share mounted at boot, its links resolved inside it; what is not
 * found (a volume's program, a library elsewhere) is left to the exec, as before.
 */
#include "init.h"

#include <elf.h>
#include <linux/openat2.h>
#include <sys/mman.h>

/* at most this much of each file, and of all: a big test binary's start touches its first pages */
#define PREFETCH_FILE_MAX (8u << 20)
#define PREFETCH_ALL_MAX (16u << 20)
#define MAX_NEEDED 16

#if defined(__x86_64__)
#define LIB_TRIPLET "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define LIB_TRIPLET "aarch64-linux-gnu"
#else
#define LIB_TRIPLET "unknown"
#endif

static const char *const lib_dirs[] = {
    "/lib/" LIB_TRIPLET, "/usr/lib/" LIB_TRIPLET, "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib",
};

struct budget {
  int root;      /* O_PATH of the share's root */
  size_t left;   /* bytes still to read */
};

/* PATH (absolute, or relative to CWD) opened in the root, its links resolved inside it */
static int open_in_root(int root, const char *cwd, const char *path) {
  char full[PATH_MAX];
  int n = path[0] == '/' ? snprintf(full, sizeof full, "%s", path) : snprintf(full, sizeof full, "%s/%s", cwd && cwd[0] ? cwd : "/", path);
  if (n < 0 || (size_t)n >= sizeof full) return -1;
  struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  return (int)syscall(SYS_openat2, root, full, &how, sizeof how);
}

/* the file's pages into the page cache, up to the budget: mapped and populated (no copy to this process) */
static void populate(int fd, struct budget *b) {
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0 || b->left == 0) return;
  size_t len = (size_t)st.st_size;
  if (len > PREFETCH_FILE_MAX) len = PREFETCH_FILE_MAX;
  if (len > b->left) len = b->left;
  void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (m != MAP_FAILED) munmap(m, len);
  b->left -= len;
}

/* file offset of a virtual address, by the PT_LOAD that holds it; 0 when none does */
static uint64_t file_offset(const Elf64_Phdr *ph, int n, uint64_t vaddr) {
  for (int i = 0; i < n; i++)
    if (ph[i].p_type == PT_LOAD && vaddr >= ph[i].p_vaddr && vaddr < ph[i].p_vaddr + ph[i].p_filesz) return vaddr - ph[i].p_vaddr + ph[i].p_offset;
  return 0;
}

/*
 * An ELF file's interpreter (PT_INTERP) into INTERP, and the libraries it names (DT_NEEDED)
 * into NEEDED (NUL-separated, at most MAX_NEEDED); "" when it is not a 64-bit ELF of ours.
 */
static int elf_deps(int fd, char *interp, size_t interp_len, char *needed, size_t needed_len) {
  interp[0] = needed[0] = 0;
  Elf64_Ehdr eh;
  if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return 0;
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 64) return 0;
  Elf64_Phdr ph[64];
  size_t phlen = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
  if (pread(fd, ph, phlen, (off_t)eh.e_phoff) != (ssize_t)phlen) return 0;
  const Elf64_Phdr *dyn = NULL;
  for (int i = 0; i < eh.e_phnum; i++) {
    if (ph[i].p_type == PT_INTERP && ph[i].p_filesz > 1 && ph[i].p_filesz < interp_len) {
      if (pread(fd, interp, ph[i].p_filesz, (off_t)ph[i].p_offset) == (ssize_t)ph[i].p_filesz) interp[ph[i].p_filesz - 1] = 0;
      else interp[0] = 0;
    }
    if (ph[i].p_type == PT_DYNAMIC) dyn = &ph[i];
  }
  if (!dyn || dyn->p_filesz == 0) return 1;
  /* the DT_NEEDED entries come first: the first 256 entries are plenty */
  Elf64_Dyn d[256];
  ssize_t got = pread(fd, d, dyn->p_filesz < sizeof d ? dyn->p_filesz : sizeof d, (off_t)dyn->p_offset);
  if (got <= 0) return 1;
  uint64_t strtab = 0, strsz = 0, names[MAX_NEEDED];
  int nnames = 0;
  for (size_t i = 0; i < (size_t)got / sizeof d[0] && d[i].d_tag != DT_NULL; i++) {
    if (d[i].d_tag == DT_STRTAB) strtab = d[i].d_un.d_ptr;
    else if (d[i].d_tag == DT_STRSZ) strsz = d[i].d_un.d_val;
    else if (d[i].d_tag == DT_NEEDED && nnames < MAX_NEEDED) names[nnames++] = d[i].d_un.d_val;
  }
  uint64_t at = strtab ? file_offset(ph, eh.e_phnum, strtab) : 0;
  if (!at || strsz == 0 || strsz > 1 << 20) return 1;
  size_t used = 0;
  for (int i = 0; i < nnames; i++) {
    char name[256];
    if (names[i] >= strsz) continue;
    ssize_t r = pread(fd, name, sizeof name - 1, (off_t)(at + names[i]));
    if (r <= 0) continue;
    name[r] = 0;
    size_t len = strnlen(name, sizeof name - 1);
    /* a name with a path is the exec's business ($ORIGIN, a full path) */
    if (len == 0 || strchr(name, '/') || used + len + 1 >= needed_len) continue;
    memcpy(needed + used, name, len + 1);
    used += len + 1;
  }
  needed[used] = 0;
  return 1;
}

/* a library by its name, in the usual folders: populated from the first that has it */
static void prefetch_library(struct budget *b, const char *name) {
  for (size_t i = 0; i < sizeof lib_dirs / sizeof lib_dirs[0]; i++) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", lib_dirs[i], name);
    int fd = open_in_root(b->root, "/", path);
    if (fd < 0) continue;
    populate(fd, b);
    close(fd);
    return;
  }
}

/* a program: its file, its interpreter and the libraries it names; a script's #! interpreter once (DEPTH) */
static void prefetch_program(struct budget *b, int fd, int depth) {
  char head[256];
  ssize_t n = pread(fd, head, sizeof head - 1, 0);
  populate(fd, b);
  if (n > 2 && head[0] == '#' && head[1] == '!' && depth == 0) {
    head[n] = 0;
    char *p = head + 2;
    p += strspn(p, " \t");
    p[strcspn(p, " \t\n")] = 0;
    int script = p[0] == '/' ? open_in_root(b->root, "/", p) : -1;
    if (script >= 0) {
      prefetch_program(b, script, 1);
      close(script);
    }
    return;
  }
  char interp[PATH_MAX], needed[MAX_NEEDED * 64];
  if (!elf_deps(fd, interp, sizeof interp, needed, sizeof needed)) return;
  if (interp[0]) {
    int ifd = open_in_root(b->root, "/", interp);
    if (ifd >= 0) {
      populate(ifd, b);
      close(ifd);
    }
  }
  for (const char *lib = needed; *lib; lib += strlen(lib) + 1) prefetch_library(b, lib);
}

/* The command (ARGV0, as exec_command looks it up: in PATH unless it has a slash, from CWD)
 * in the root's share (ROOT, a descriptor of its top): its program and what the exec loads with it. */
void prefetch_command(int root, const char *argv0, const char *path, const char *cwd) {
  struct budget b = {.root = root, .left = PREFETCH_ALL_MAX};
  if (root < 0 || !argv0[0]) return;
  int fd = -1;
  if (strchr(argv0, '/')) {
    fd = open_in_root(b.root, cwd, argv0);
  } else {
    if (!path || !path[0]) path = DEFAULT_PATH;
    for (const char *p = path;; p++) {
      const char *end = strchrnul(p, ':');
      char full[PATH_MAX];
      int len = snprintf(full, sizeof full, "%.*s/%s", (int)(end - p), end == p ? "." : p, argv0);
      if (len > 0 && (size_t)len < sizeof full) fd = open_in_root(b.root, cwd, full);
      if (fd >= 0) {
        struct stat st;
        /* exec_command goes on past what it cannot execute: a folder, a file without x */
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) break;
        close(fd);
        fd = -1;
      }
      if (!*end) break;
      p = end;
    }
  }
  if (fd >= 0) {
    prefetch_program(&b, fd, 0);
    close(fd);
  }
}
