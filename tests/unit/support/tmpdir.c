/* tmpdir.c - per-test temporary directories. */
#include "support/tmpdir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tw_test_tmpdir(void)
{
    char *dir = strdup("/tmp/trackway-test-XXXXXX");

    if (dir == NULL || mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return dir;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tw_test_rmdir(char *dir)
{
    if (dir != NULL) {
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
    }
}
