/* See exo_buf.h. */
#include "exo_buf.h"

#include <stdlib.h>
#include <stdint.h>
#include <string.h>

void exo_buf_init(exo_buf *b)
{
    b->data = NULL;
    b->start = b->end = b->cap = 0;
}

void exo_buf_free(exo_buf *b)
{
    free(b->data);
    exo_buf_init(b);
}

int exo_buf_append(exo_buf *b, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (b->start == b->end)
        b->start = b->end = 0;
    if (b->end + n > b->cap) {
        size_t live = b->end - b->start;
        if (b->start > 0 && live + n <= b->cap) {
            /* enough room once the consumed front is reclaimed */
            memmove(b->data, b->data + b->start, live);
        } else {
            size_t ncap = b->cap ? b->cap : 4096;
            char *nd;
            while (ncap < live + n)
                ncap *= 2;
            nd = malloc(ncap);
            if (!nd)
                return -1;
            if (live)
                memcpy(nd, b->data + b->start, live);
            free(b->data);
            b->data = nd;
            b->cap = ncap;
        }
        b->start = 0;
        b->end = live;
    }
    memcpy(b->data + b->end, p, n);
    b->end += n;
    return 0;
}

void exo_buf_consume(exo_buf *b, size_t n)
{
    if (n >= b->end - b->start) {
        b->start = b->end = 0;
        /* give back memory of large bursts */
        if (b->cap > (1u << 20)) {
            free(b->data);
            exo_buf_init(b);
        }
    } else {
        b->start += n;
    }
}

size_t exo_find_newline(const char *p, size_t n)
{
    const char *q = memchr(p, '\n', n);
    return q ? (size_t)(q - p) : (size_t)-1;
}

int exo_is_ascii(const char *p, size_t n)
{
    /* a word at a time: OR the words of a block, test the high bits once
     * per block (memory-bound on large buffers) */
    const unsigned char *s = (const unsigned char *)p;
    while (n && ((uintptr_t)s & (sizeof(uint64_t) - 1))) {
        if (*s & 0x80)
            return 0;
        s++;
        n--;
    }
    while (n >= 64) {
        const uint64_t *w = (const uint64_t *)s;
        uint64_t acc = w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7];
        if (acc & UINT64_C(0x8080808080808080))
            return 0;
        s += 64;
        n -= 64;
    }
    while (n) {
        if (*s & 0x80)
            return 0;
        s++;
        n--;
    }
    return 1;
}
