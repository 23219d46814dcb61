/*
 * The VMM held: a library the container's PID 1 preloads into QEMU (`ld.so --preload`), which it
 * starts with the container, before container-init's node has even loaded (pid1.c). The loader
 * maps and relocates QEMU and its ~55 libraries (50-60 ms of a run here, most of QEMU's start)
 * while node loads on the other core; then QEMU's start stops here, in __libc_start_main, before
 * any of QEMU's own code runs, until container-init has its command line: the argv as
 * NUL-terminated strings on fd TESTIN_HOLD_FD, to the pipe's end. QEMU then starts as if it had
 * been run with them. Nothing on the pipe (container-init did not need it): it exits, 0.
 *
 * Built apart from the agent (a shared library, not in the static testin-agent): the toolbox
 * builder compiles it alone (toolbox/builder/assemble-tree.ts).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOLD_FD_ENV "TESTIN_HOLD_FD"
/* QEMU's whole command line, at most (it is ~1.5 KB) */
#define ARGV_MAX (256 * 1024)

typedef int (*main_fn)(int, char **, char **);
typedef int (*start_fn)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);

/* the held argv: argv[0] stays the binary's own, the rest is what came on the pipe */
static char **held_argv(int fd, char *argv0, int *argc) {
  char *buf = malloc(ARGV_MAX);
  size_t got = 0;
  ssize_t n;
  while (buf && got < ARGV_MAX && ((n = read(fd, buf + got, ARGV_MAX - got)) > 0 || (n < 0 && errno == EINTR)))
    if (n > 0) got += (size_t)n;
  close(fd);
  if (!buf || got == 0 || got == ARGV_MAX || buf[got - 1] != 0) return NULL;
  int count = 0;
  for (size_t i = 0; i < got; i++) count += buf[i] == 0;
  char **argv = calloc((size_t)count + 2, sizeof *argv);
  if (!argv) return NULL;
  argv[0] = argv0;
  char *p = buf;
  for (int i = 1; i <= count; i++, p += strlen(p) + 1) argv[i] = p;
  *argc = count + 1;
  return argv;
}

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void), void (*rtld_fini)(void), void *stack_end) {
  start_fn real = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");
  const char *given = getenv(HOLD_FD_ENV);
  if (real && given) {
    int fd = atoi(given);
    unsetenv(HOLD_FD_ENV);
    int held_argc = 0;
    char **held = held_argv(fd, argv[0], &held_argc);
    /* nothing asked of it (or a broken request): no QEMU runs */
    if (!held) _exit(0);
    return real(main, held_argc, held, init, fini, rtld_fini, stack_end);
  }
  return real(main, argc, argv, init, fini, rtld_fini, stack_end);
}
