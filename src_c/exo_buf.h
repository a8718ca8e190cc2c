/* exo_buf: a growable byte queue (append at the end, consume at the
 * front) and newline scanning.  Plain C, no Python API. */
#ifndef EXO_BUF_H
#define EXO_BUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t start;   /* first unconsumed byte */
    size_t end;     /* one past the last byte */
    size_t cap;
} exo_buf;

void exo_buf_init(exo_buf *b);
void exo_buf_free(exo_buf *b);
/* Append n bytes; returns 0 or -1 on allocation failure. */
int exo_buf_append(exo_buf *b, const char *p, size_t n);
/* Drop n bytes from the front. */
void exo_buf_consume(exo_buf *b, size_t n);
static inline size_t exo_buf_len(const exo_buf *b) { return b->end - b->start; }
static inline const char *exo_buf_head(const exo_buf *b) { return b->data + b->start; }

/* Offset of the first '\n' in p[0:n], or (size_t)-1 when there is none. */
size_t exo_find_newline(const char *p, size_t n);

/* 1 when every byte of p[0:n] is ASCII (< 0x80), else 0. */
int exo_is_ascii(const char *p, size_t n);

#endif
