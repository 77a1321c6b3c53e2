/* records.c: the {"Records":[...]} splitter (see records.h).
 *
 * Pull-based: each step asks the reader for bytes (oc_reader_fill) and consumes what it
 * has scanned, so the reader's buffer never holds more than one refill. An element that
 * lies wholly inside the current buffer is handed out in place; one that spans refills is
 * copied into rs->elem (up to max_elem bytes; beyond that it is only scanned). */
#include "services/log-processor/records.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define OC_RECORDS_KEY_MAX 64 /* a top-level key longer than this is not "Records" */

enum {
  OC_RS_TOP = 0,   /* before a top-level object, or EOF */
  OC_RS_KEY,       /* after '{': a key or '}' */
  OC_RS_NEXT_KEY,  /* after ',' in the object: a key */
  OC_RS_AFTER_VAL, /* after a member's value: ',' or '}' */
  OC_RS_ARR_FIRST, /* after '[' of Records: an element or ']' */
  OC_RS_ARR_ELEM,  /* after ',' in Records: an element */
  OC_RS_ARR_AFTER, /* after an element: ',' or ']' */
  OC_RS_FAILED     /* terminal */
};

static inline bool oc_rs_ws(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static oc_err_t oc_rs_fail(oc_records_t *rs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static oc_err_t oc_rs_fail(oc_records_t *rs, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rs->errmsg, sizeof(rs->errmsg), fmt, ap);
  va_end(ap);
  rs->state = OC_RS_FAILED;
  return OC_ERR_INVALID;
}

bool oc_records_detect(oc_reader_t *r) {
  static const char want[] = "{\"Records\":[";
  const char *p;
  size_t n = oc_reader_peek(r, &p, 4096), i = 0;
  for (const char *w = want; *w; w++) {
    /* whitespace may separate the tokens, but not split "Records" */
    if (*w == '{' || *w == ':' || *w == '[' || w == want + 1)
      while (i < n && oc_rs_ws(p[i]))
        i++;
    if (i >= n || p[i] != *w) return false;
    i++;
  }
  return true;
}

void oc_records_init(oc_records_t *rs, oc_reader_t *r, size_t max_elem) {
  memset(rs, 0, sizeof(*rs));
  rs->r = r;
  rs->max_elem = max_elem ? max_elem : 1;
  oc_buf_init(&rs->elem);
  rs->state = OC_RS_TOP;
}

void oc_records_deinit(oc_records_t *rs) {
  oc_buf_deinit(&rs->elem);
}

const char *oc_records_error(const oc_records_t *rs) {
  return rs->errmsg[0] ? rs->errmsg : oc_reader_error(rs->r);
}

/* The next non-whitespace byte, not consumed. OC_ERR_EOF at the end of the input. */
static oc_err_t oc_rs_peek(oc_records_t *rs, char *c) {
  for (;;) {
    const char *p;
    size_t avail, i = 0;
    oc_err_t err = oc_reader_fill(rs->r, &p, &avail);
    if (err) return err;
    while (i < avail && oc_rs_ws(p[i]))
      i++;
    oc_reader_consume(rs->r, i);
    if (i < avail) {
      *c = p[i];
      return OC_OK;
    }
  }
}

/* Scans one JSON value starting at the next byte (whitespace already skipped): an
 * object, array or string up to its closing byte, or a scalar up to the byte after it.
 * With store, *out, *len get the value's text (in place when it lies in one buffer, else
 * copied into rs->elem), at most max bytes; OC_ERR_LIMIT when it was longer. */
static oc_err_t oc_rs_scan(oc_records_t *rs, bool store, size_t max, const char **out,
                           size_t *len) {
  int64_t depth = 0;
  bool in_str = false, esc = false, scalar = false, started = false, done = false;
  size_t total = 0;
  oc_buf_reset(&rs->elem);
  while (!done) {
    const char *p;
    size_t avail, i = 0;
    oc_err_t err = oc_reader_fill(rs->r, &p, &avail);
    if (err == OC_ERR_EOF) {
      if (scalar) break; /* a scalar may end with the input */
      return oc_rs_fail(rs, "unexpected end of input inside record %llu",
                        (unsigned long long)rs->index + 1);
    }
    if (err) return err;
    if (!started) {
      char c = p[0];
      started = true;
      i = 1;
      if (c == '{' || c == '[')
        depth = 1;
      else if (c == '"')
        in_str = true;
      else if (c == ',' || c == ']' || c == '}' || c == ':')
        return oc_rs_fail(rs, "unexpected '%c' where a value was expected", c);
      else
        scalar = true;
    }
    while (i < avail) {
      char c;
      if (in_str) {
        if (esc) {
          esc = false;
          i++;
          continue;
        }
        /* the bulk of the bytes: plain string content */
        while (i < avail && p[i] != '"' && p[i] != '\\')
          i++;
        if (i == avail) break;
        if (p[i] == '\\') {
          esc = true;
          i++;
          continue;
        }
        in_str = false;
        i++;
        if (depth == 0) {
          done = true;
          break;
        }
        continue;
      }
      c = p[i];
      if (scalar) {
        if (oc_rs_ws(c) || c == ',' || c == ']' || c == '}' || c == ':') {
          done = true;
          break;
        }
        i++;
        continue;
      }
      i++;
      if (c == '"') {
        in_str = true;
      } else if (c == '{' || c == '[') {
        depth++;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) {
          done = true;
          break;
        }
      }
    }
    if (store && done && total == 0) { /* wholly in this buffer: no copy */
      oc_reader_consume(rs->r, i);
      *out = p;
      if (i > max) {
        *len = max;
        return OC_ERR_LIMIT;
      }
      *len = i;
      return OC_OK;
    }
    if (store && total < max) {
      size_t take = i < max - total ? i : max - total;
      oc_buf_append(&rs->elem, p, take);
      if (!oc_buf_ok(&rs->elem)) return OC_ERR_NOMEM;
    }
    total += i;
    oc_reader_consume(rs->r, i);
  }
  if (store) {
    *out = rs->elem.data ? rs->elem.data : "";
    *len = rs->elem.len;
    if (total > max) return OC_ERR_LIMIT;
  }
  return OC_OK;
}

/* Expects the byte c next (after whitespace) and consumes it. */
static oc_err_t oc_rs_expect(oc_records_t *rs, char want, const char *where) {
  char c;
  oc_err_t err = oc_rs_peek(rs, &c);
  if (err == OC_ERR_EOF) return oc_rs_fail(rs, "unexpected end of input %s", where);
  if (err) return err;
  if (c != want) return oc_rs_fail(rs, "unexpected byte 0x%02x %s", (unsigned char)c, where);
  oc_reader_consume(rs->r, 1);
  return OC_OK;
}

/* A member of a top-level object: key, ':', then either the Records array opens or the
 * value is skipped. */
static oc_err_t oc_rs_member(oc_records_t *rs) {
  const char *key;
  size_t klen;
  char c;
  bool records;
  oc_err_t err = oc_rs_peek(rs, &c);
  if (err == OC_ERR_EOF) return oc_rs_fail(rs, "unexpected end of input before a key");
  if (err) return err;
  if (c != '"')
    return oc_rs_fail(rs, "unexpected byte 0x%02x where a key was expected", (unsigned char)c);
  err = oc_rs_scan(rs, true, OC_RECORDS_KEY_MAX, &key, &klen);
  if (err && err != OC_ERR_LIMIT) return err;
  records = err == OC_OK && klen == 9 && memcmp(key, "\"Records\"", 9) == 0;
  err = oc_rs_expect(rs, ':', "after a key");
  if (err) return err;
  err = oc_rs_peek(rs, &c);
  if (err == OC_ERR_EOF) return oc_rs_fail(rs, "unexpected end of input before a value");
  if (err) return err;
  if (records && c == '[') {
    oc_reader_consume(rs->r, 1);
    rs->state = OC_RS_ARR_FIRST;
    return OC_OK;
  }
  err = oc_rs_scan(rs, false, 0, NULL, NULL);
  if (err) return err;
  rs->state = OC_RS_AFTER_VAL;
  return OC_OK;
}

oc_err_t oc_records_next(oc_records_t *rs, const char **elem, size_t *len) {
  oc_err_t err;
  char c;
  *elem = NULL;
  *len = 0;
  for (;;) {
    switch (rs->state) {
      case OC_RS_FAILED:
        return OC_ERR_INVALID;
      case OC_RS_TOP:
        err = oc_rs_peek(rs, &c);
        if (err) return err; /* OC_ERR_EOF: a clean end */
        if (c != '{')
          return oc_rs_fail(rs, "unexpected byte 0x%02x where a top-level object was expected",
                            (unsigned char)c);
        oc_reader_consume(rs->r, 1);
        rs->state = OC_RS_KEY;
        break;
      case OC_RS_KEY:
      case OC_RS_NEXT_KEY:
        if (rs->state == OC_RS_KEY) {
          err = oc_rs_peek(rs, &c);
          if (err == OC_ERR_EOF) return oc_rs_fail(rs, "unexpected end of input after '{'");
          if (err) return err;
          if (c == '}') {
            oc_reader_consume(rs->r, 1);
            rs->state = OC_RS_TOP;
            break;
          }
        }
        err = oc_rs_member(rs);
        if (err) return err;
        break;
      case OC_RS_AFTER_VAL:
        err = oc_rs_peek(rs, &c);
        if (err == OC_ERR_EOF) return oc_rs_fail(rs, "unexpected end of input inside the object");
        if (err) return err;
        oc_reader_consume(rs->r, 1);
        if (c == ',')
          rs->state = OC_RS_NEXT_KEY;
        else if (c == '}')
          rs->state = OC_RS_TOP;
        else
          return oc_rs_fail(rs, "unexpected byte 0x%02x after a member", (unsigned char)c);
        break;
      case OC_RS_ARR_FIRST:
      case OC_RS_ARR_ELEM:
        err = oc_rs_peek(rs, &c);
        if (err == OC_ERR_EOF)
          return oc_rs_fail(rs, "unexpected end of input inside \"Records\" after record %llu",
                            (unsigned long long)rs->index);
        if (err) return err;
        if (c == ']' && rs->state == OC_RS_ARR_FIRST) {
          oc_reader_consume(rs->r, 1);
          rs->state = OC_RS_AFTER_VAL;
          break;
        }
        err = oc_rs_scan(rs, true, rs->max_elem, elem, len);
        if (err && err != OC_ERR_LIMIT) return err;
        rs->index++;
        rs->state = OC_RS_ARR_AFTER;
        return err;
      case OC_RS_ARR_AFTER:
        err = oc_rs_peek(rs, &c);
        if (err == OC_ERR_EOF)
          return oc_rs_fail(rs, "unexpected end of input after record %llu",
                            (unsigned long long)rs->index);
        if (err) return err;
        oc_reader_consume(rs->r, 1);
        if (c == ',')
          rs->state = OC_RS_ARR_ELEM;
        else if (c == ']')
          rs->state = OC_RS_AFTER_VAL;
        else
          return oc_rs_fail(rs, "unexpected byte 0x%02x after record %llu", (unsigned char)c,
                            (unsigned long long)rs->index);
        break;
      default:
        return oc_rs_fail(rs, "internal error: bad splitter state");
    }
  }
}
