/* index.c - building, searching, writing and reading sparse indexes. */
#include "log/index.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "log/io.h"

/* A segment's index never needs more entries than this (sanity bound). */
#define INDEX_MAX_ENTRIES (64u << 20)

void log_index_init(struct log_index *idx)
{
    memset(idx, 0, sizeof(*idx));
}

void log_index_free(struct log_index *idx)
{
    free(idx->entries);
    log_index_init(idx);
}

static int index_reserve(struct log_index *idx, size_t need)
{
    size_t cap = idx->capacity == 0 ? 64 : idx->capacity;
    struct log_index_entry *grown;

    if (need <= idx->capacity) {
        return 0;
    }
    while (cap < need) {
        cap *= 2;
    }
    grown = realloc(idx->entries, cap * sizeof(*grown));
    if (grown == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory for %zu index entries", cap);
    }
    idx->entries = grown;
    idx->capacity = cap;
    return 0;
}

int log_index_add(struct log_index *idx, uint64_t position, uint64_t offset,
                  int64_t batch_max_ts, uint32_t interval)
{
    if (idx->count == 0 || batch_max_ts > idx->max_ts) {
        idx->max_ts = batch_max_ts;
    }
    if (idx->count > 0 && position < idx->last_position + interval) {
        return 0;
    }
    if (index_reserve(idx, idx->count + 1) < 0) {
        return TW_ENOMEM;
    }
    idx->entries[idx->count].offset = offset;
    idx->entries[idx->count].position = position;
    idx->entries[idx->count].max_ts = idx->max_ts;
    idx->count++;
    idx->last_position = position;
    return 0;
}

ptrdiff_t log_index_find_offset(const struct log_index *idx, uint64_t target)
{
    size_t lo = 0;
    size_t hi = idx->count;

    if (idx->count == 0) {
        return -1;
    }
    /* First entry with offset > target, then step back one. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (idx->entries[mid].offset <= target) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? 0 : (ptrdiff_t)(lo - 1);
}

ptrdiff_t log_index_find_time(const struct log_index *idx, int64_t ts)
{
    size_t lo = 0;
    size_t hi = idx->count;

    if (idx->count == 0) {
        return -1;
    }
    /*
     * An entry's max_ts covers the batches before it, not the ones up to
     * the next entry, so the first record at or after ts may sit anywhere
     * after the last entry whose max_ts is still below ts.
     */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (idx->entries[mid].max_ts < ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? 0 : (ptrdiff_t)(lo - 1);
}

static void put64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return le64toh(v);
}

static uint64_t index_checksum(const uint8_t *file, size_t entries_len)
{
    uint64_t seed = XXH3_64bits(file, 56);

    return XXH3_64bits_withSeed(file + LOG_INDEX_HEADER_SIZE, entries_len,
                                seed);
}

int log_index_write(const char *path, const struct log_index *idx,
                    const struct log_index_summary *summary)
{
    size_t entries_len = idx->count * LOG_INDEX_ENTRY_SIZE;
    size_t len = LOG_INDEX_HEADER_SIZE + entries_len;
    uint8_t *file = calloc(1, len);
    uint32_t u32;
    uint16_t u16;
    int rc = 0;

    if (file == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory to write index %s", path);
    }
    u32 = htole32(LOG_INDEX_MAGIC);
    memcpy(file, &u32, 4);
    u16 = htole16(LOG_INDEX_VERSION);
    memcpy(file + 4, &u16, 2);
    u32 = htole32((uint32_t)idx->count);
    memcpy(file + 8, &u32, 4);
    put64(file + 16, summary->segment_size);
    put64(file + 24, summary->base_offset);
    put64(file + 32, summary->end_offset);
    put64(file + 40, (uint64_t)summary->min_ts);
    put64(file + 48, (uint64_t)summary->max_ts);
    for (size_t i = 0; i < idx->count; i++) {
        uint8_t *e = file + LOG_INDEX_HEADER_SIZE + i * LOG_INDEX_ENTRY_SIZE;

        put64(e, idx->entries[i].offset);
        put64(e + 8, idx->entries[i].position);
        put64(e + 16, (uint64_t)idx->entries[i].max_ts);
    }
    put64(file + 56, index_checksum(file, entries_len));

    if (io_write_file_atomic(path, file, len) < 0) {
        rc = tw_err_errno(errno, "cannot write index %s", path);
    }
    free(file);
    return rc;
}

static int index_parse(const char *path, const uint8_t *file, size_t len,
                       struct log_index *idx, struct log_index_summary *sum)
{
    uint32_t u32;
    uint16_t u16;
    size_t entries_len;

    memcpy(&u32, file, 4);
    memcpy(&u16, file + 4, 2);
    if (le32toh(u32) != LOG_INDEX_MAGIC) {
        return tw_err_set(TW_ECORRUPT, "index %s: bad magic", path);
    }
    memcpy(&u32, file + 8, 4);
    sum->entry_count = le32toh(u32);
    entries_len = (size_t)sum->entry_count * LOG_INDEX_ENTRY_SIZE;
    if (sum->entry_count > INDEX_MAX_ENTRIES ||
        len != LOG_INDEX_HEADER_SIZE + entries_len ||
        get64(file + 56) != index_checksum(file, entries_len)) {
        return tw_err_set(TW_ECORRUPT, "index %s: torn or damaged", path);
    }
    /* Only after the checksum: a damaged version field is damage. */
    if (le16toh(u16) > LOG_INDEX_VERSION) {
        return tw_err_set(TW_EVERSION,
                          "index %s: version %u is newer than "
                          "this build reads (%u)",
                          path, le16toh(u16), LOG_INDEX_VERSION);
    }
    sum->segment_size = get64(file + 16);
    sum->base_offset = get64(file + 24);
    sum->end_offset = get64(file + 32);
    sum->min_ts = (int64_t)get64(file + 40);
    sum->max_ts = (int64_t)get64(file + 48);

    if (index_reserve(idx, sum->entry_count) < 0) {
        return TW_ENOMEM;
    }
    for (size_t i = 0; i < sum->entry_count; i++) {
        const uint8_t *e =
            file + LOG_INDEX_HEADER_SIZE + i * LOG_INDEX_ENTRY_SIZE;

        idx->entries[i].offset = get64(e);
        idx->entries[i].position = get64(e + 8);
        idx->entries[i].max_ts = (int64_t)get64(e + 16);
    }
    idx->count = sum->entry_count;
    if (idx->count > 0) {
        idx->last_position = idx->entries[idx->count - 1].position;
        idx->max_ts = idx->entries[idx->count - 1].max_ts;
    }
    return 0;
}

int log_index_read(const char *path, struct log_index *idx,
                   struct log_index_summary *summary)
{
    struct stat st;
    uint8_t *file = NULL;
    int fd;
    int rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return tw_err_errno(errno, "cannot open index %s", path);
    }
    if (fstat(fd, &st) < 0) {
        rc = tw_err_errno(errno, "cannot stat index %s", path);
        goto out_close;
    }
    if ((uint64_t)st.st_size < LOG_INDEX_HEADER_SIZE ||
        (uint64_t)st.st_size >
            LOG_INDEX_HEADER_SIZE +
                (uint64_t)INDEX_MAX_ENTRIES * LOG_INDEX_ENTRY_SIZE) {
        rc = tw_err_set(TW_ECORRUPT, "index %s: impossible size %lld", path,
                        (long long)st.st_size);
        goto out_close;
    }
    file = malloc((size_t)st.st_size);
    if (file == NULL) {
        rc = tw_err_set(TW_ENOMEM, "no memory to read index %s", path);
        goto out_close;
    }
    if (io_pread_all(fd, file, (size_t)st.st_size, 0) < 0) {
        rc = tw_err_errno(errno, "cannot read index %s", path);
        goto out_free;
    }
    rc = index_parse(path, file, (size_t)st.st_size, idx, summary);

out_free:
    free(file);
out_close:
    close(fd);
    return rc;
}
