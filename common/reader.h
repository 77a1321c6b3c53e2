/* reader.h: streaming input for files: detects gzip and zstd by magic bytes (not by
 * name), decompresses in fixed-size buffers (memory stays flat as files grow), strips a
 * UTF-8 BOM, and splits lines (LF or CRLF) up to a maximum length. */
#ifndef OC_READER_H
#define OC_READER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct oc_reader oc_reader_t;

typedef enum { OC_COMPRESS_NONE = 0, OC_COMPRESS_GZIP, OC_COMPRESS_ZSTD } oc_compress_t;

/* Takes ownership of fd (closed by oc_reader_destroy). max_line bounds one line. */
oc_reader_t *oc_reader_new_fd(int fd, size_t max_line, char *errstr, size_t errstr_size);
/* Opens path read-only (O_NOFOLLOW on the last component). */
oc_reader_t *oc_reader_open(const char *path, size_t max_line, char *errstr, size_t errstr_size);
void oc_reader_destroy(oc_reader_t *r);
oc_compress_t oc_reader_compression(const oc_reader_t *r);

/* Next line without its terminator. *line stays valid until the next call.
 * Returns OC_OK with a line; OC_ERR_EOF at the end; OC_ERR_LIMIT when a line was longer
 * than max_line (it has been skipped; line and len give its first max_line bytes and
 * oc_reader_line_no() its number; the next call continues after it); OC_ERR_DECODE when
 * the compressed stream is corrupt or truncated (terminal: later calls return it again;
 * oc_reader_error() says why; a final partial line before the damage is returned first
 * as a normal line only if it was newline-terminated). OC_ERR_IO on read errors. */
oc_err_t oc_reader_next_line(oc_reader_t *r, const char **line, size_t *len);
/* 1-based number of the line last returned. */
uint64_t oc_reader_line_no(const oc_reader_t *r);
/* Byte-level access for stream parsers (CloudTrail {"Records":[...]}): makes at least
 * one byte available unless at EOF/error; p and avail describe the decompressed bytes not
 * yet consumed. Returns OC_OK, OC_ERR_EOF, OC_ERR_DECODE or OC_ERR_IO. */
oc_err_t oc_reader_fill(oc_reader_t *r, const char **p, size_t *avail);
void oc_reader_consume(oc_reader_t *r, size_t n);
/* Peek at up to n decompressed bytes from the current position without consuming
 * (n <= 4096). Returns how many are available (fewer at EOF). */
size_t oc_reader_peek(oc_reader_t *r, const char **p, size_t n);
const char *oc_reader_error(const oc_reader_t *r);
/* Decompressed / compressed bytes read so far. */
uint64_t oc_reader_bytes_out(const oc_reader_t *r);
uint64_t oc_reader_bytes_in(const oc_reader_t *r);

#endif
