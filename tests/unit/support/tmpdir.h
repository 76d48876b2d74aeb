/* tmpdir.h - a private temporary directory per test. */
#ifndef TW_TEST_TMPDIR_H
#define TW_TEST_TMPDIR_H

/* Creates a new empty directory under /tmp; the caller frees the path. */
char *tw_test_tmpdir(void);

/* Removes dir and everything below it, then frees the path. */
void tw_test_rmdir(char *dir);

#endif
