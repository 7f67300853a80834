/* Test helper: renameat2(2) from the command line, since coreutils mv here has no --exchange.
   Usage: renameat2 noreplace|exchange|none FROM TO. Prints strerror and exits 1 on failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main (int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: renameat2 noreplace|exchange|none FROM TO\n"); return 2; }
  unsigned flags = strcmp(argv[1], "noreplace") == 0 ? 1 : strcmp(argv[1], "exchange") == 0 ? 2 : 0;
  if (syscall(SYS_renameat2, AT_FDCWD, argv[2], AT_FDCWD, argv[3], flags) != 0) {
    fprintf(stderr, "%s\n", strerrorname_np(errno) ? strerrorname_np(errno) : strerror(errno));
    return 1;
  }
  return 0;
}
