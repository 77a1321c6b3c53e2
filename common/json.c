/* json.c: the JSON layer on every event's hot path (see json.h).
 *
 * The parser is one iterative loop over an explicit stack of open containers, so a
 * hostile 10,000-deep document costs a bounded stack (max_depth frames) and never C
 * recursion. Nodes are bumped straight out of the arena. Strings are scanned eight bytes
 * at a time (portable SWAR, no intrinsics) for the bytes that need attention: '"', '\\',
 * control characters and non-ASCII (validated as UTF-8 on the spot). Strings without
 * escapes point into the input; escaped ones are decoded into the arena.
 * The input is not NUL-terminated: every read is bounded by end. */
#include "common/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned char oc_uchar;

#define OC_LIKELY(x) __builtin_expect(!!(x), 1)
#define OC_UNLIKELY(x) __builtin_expect(!!(x), 0)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define OC_JSON_SWAR 1
#else
#define OC_JSON_SWAR 0
#endif

#define OC_ONES UINT64_C(0x0101010101010101)
#define OC_HIGHS UINT64_C(0x8080808080808080)

/* Bytes of a string that need a closer look, as a mask whose lowest set bit marks the
 * first such byte exactly (higher bits may be spurious borrows; only ctz is used). */
static inline uint64_t oc_json_special(uint64_t w) {
  uint64_t q = w ^ (OC_ONES * '"');
  uint64_t b = w ^ (OC_ONES * '\\');
  uint64_t hq = (q - OC_ONES) & ~q;
  uint64_t hb = (b - OC_ONES) & ~b;
  uint64_t lt = (w - OC_ONES * 0x20) & ~w; /* byte < 0x20 */
  return (hq | hb | lt | w) & OC_HIGHS;
}

static inline uint64_t oc_load64(const oc_uchar *p) {
  uint64_t w;
  memcpy(&w, p, sizeof(w));
  return w;
}

/* 1 for bytes that can be copied inside a string as they are. */
static const oc_uchar oc_json_plain[256] = {
#define P8 1, 1, 1, 1, 1, 1, 1, 1
    0,  0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0,  0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1,  1,  0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' */
    P8, P8,                                           /* 0x30 */
    P8, P8,                                           /* 0x40 */
    1,  1,  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\\' */
    P8, P8,                                           /* 0x60 */
    P8, P8,                                           /* 0x70 */
#undef P8
    /* 0x80..0xff: 0 */
};

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid or truncated:
 * overlong forms, surrogates (U+D800..DFFF) and code points past U+10FFFF are invalid. */
static inline size_t oc_utf8_seq(const oc_uchar *p, const oc_uchar *end) {
  oc_uchar c = p[0];
  size_t avail = (size_t)(end - p);
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return (avail >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
  if (c < 0xF0) {
    if (avail < 3) return 0;
    oc_uchar lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80) return 0;
    return 3;
  }
  if (c < 0xF5) {
    if (avail < 4) return 0;
    oc_uchar lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
    return 4;
  }
  return 0;
}

size_t oc_utf8_valid_prefix(const char *s, size_t len) {
  const oc_uchar *p = (const oc_uchar *)s, *end = p + len;
  while (p < end) {
#if OC_JSON_SWAR
    while (end - p >= 8 && !(oc_load64(p) & OC_HIGHS))
      p += 8;
    if (p >= end) break;
#endif
    if (*p < 0x80) {
      p++;
      continue;
    }
    size_t n = oc_utf8_seq(p, end);
    if (!n) break;
    p += n;
  }
  return (size_t)(p - (const oc_uchar *)s);
}

/* ---- parser ------------------------------------------------------------------------ */

typedef struct {
  oc_json_t *node; /* the open array or object */
  oc_json_t *last; /* its last child so far, NULL when none */
} oc_json_frame_t;

typedef struct {
  const oc_uchar *base;
  oc_arena_t *a;
  char *errstr;
  size_t errstr_size;
} oc_json_parser_t;

__attribute__((format(printf, 3, 4), cold, noinline)) static void oc_json_fail(oc_json_parser_t *ps,
                                                                               const oc_uchar *at,
                                                                               const char *fmt,
                                                                               ...) {
  if (!ps->errstr || !ps->errstr_size) return;
  char msg[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(ps->errstr, ps->errstr_size, "%s at byte %zu", msg, (size_t)(at - ps->base));
}

static inline bool oc_is_ws(oc_uchar c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline const oc_uchar *oc_skip_ws(const oc_uchar *p, const oc_uchar *end) {
  while (p < end && *p <= ' ' && oc_is_ws(*p))
    p++;
  return p;
}

static inline int oc_hex4(const oc_uchar *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    oc_uchar c = p[i];
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
      d = (c | 0x20) - 'a' + 10;
    else
      return -1;
    v = v << 4 | d;
  }
  return v;
}

static inline char *oc_utf8_put(char *o, uint32_t cp) {
  if (cp < 0x80) {
    *o++ = (char)cp;
  } else if (cp < 0x800) {
    *o++ = (char)(0xC0 | cp >> 6);
    *o++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *o++ = (char)(0xE0 | cp >> 12);
    *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *o++ = (char)(0xF0 | cp >> 18);
    *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
    *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  }
  return o;
}

/* Slow path of oc_json_string: the string starting at s has an escape at p. Finds the
 * closing quote, decodes the whole string into the arena and validates it.
 * Returns the position after the closing quote, or NULL after oc_json_fail(). */
static __attribute__((noinline)) const oc_uchar *oc_json_string_escaped(
    oc_json_parser_t *ps, const oc_uchar *s, const oc_uchar *p, const oc_uchar *end,
    const char **out, size_t *out_len) {
  const oc_uchar *q = p;
  while (q < end && *q != '"') {
    if (*q == '\\' && end - q < 2) {
      q = end;
      break;
    }
    q += *q == '\\' ? 2 : 1;
  }
  if (q >= end) {
    oc_json_fail(ps, end, "unterminated string");
    return NULL;
  }
  /* decoding never grows: every escape is at least as long as what it stands for */
  char *dst = oc_arena_alloc(ps->a, (size_t)(q - s));
  if (!dst) {
    oc_json_fail(ps, s, "out of memory");
    return NULL;
  }
  memcpy(dst, s, (size_t)(p - s));
  char *o = dst + (p - s);
  while (p < q) {
    oc_uchar c = *p;
    if (oc_json_plain[c]) {
      *o++ = (char)c;
      p++;
    } else if (c == '\\') {
      oc_uchar e = p[1]; /* p + 1 < q: the scan above stepped over the escaped byte */
      switch (e) {
        case '"':
          *o++ = '"';
          break;
        case '\\':
          *o++ = '\\';
          break;
        case '/':
          *o++ = '/';
          break;
        case 'b':
          *o++ = '\b';
          break;
        case 'f':
          *o++ = '\f';
          break;
        case 'n':
          *o++ = '\n';
          break;
        case 'r':
          *o++ = '\r';
          break;
        case 't':
          *o++ = '\t';
          break;
        case 'u': {
          int cp = q - p >= 6 ? oc_hex4(p + 2) : -1;
          if (cp < 0) {
            oc_json_fail(ps, p, "invalid \\u escape");
            return NULL;
          }
          if (cp >= 0xDC00 && cp <= 0xDFFF) {
            oc_json_fail(ps, p, "lone surrogate in \\u escape");
            return NULL;
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            int lo = (q - p >= 12 && p[6] == '\\' && p[7] == 'u') ? oc_hex4(p + 8) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) {
              oc_json_fail(ps, p, "lone surrogate in \\u escape");
              return NULL;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
          }
          o = oc_utf8_put(o, (uint32_t)cp);
          p += 4; /* the hex digits; the two escape bytes are stepped over below */
          break;
        }
        default:
          oc_json_fail(ps, p, "invalid escape");
          return NULL;
      }
      p += 2;
    } else if (c < 0x20) {
      oc_json_fail(ps, p, "control character in string");
      return NULL;
    } else {
      size_t n = oc_utf8_seq(p, q);
      if (!n) {
        oc_json_fail(ps, p, "invalid UTF-8");
        return NULL;
      }
      memcpy(o, p, n);
      o += n;
      p += n;
    }
  }
  *out = dst;
  *out_len = (size_t)(o - dst);
  return q + 1;
}

/* p is just past the opening quote. Returns the position after the closing quote, or
 * NULL after oc_json_fail(). */
static inline const oc_uchar *oc_json_string(oc_json_parser_t *ps, const oc_uchar *p,
                                             const oc_uchar *end, const char **out,
                                             size_t *out_len) {
  const oc_uchar *s = p;
  for (;;) {
#if OC_JSON_SWAR
    while (end - p >= 8) {
      uint64_t m = oc_json_special(oc_load64(p));
      if (m) {
        p += __builtin_ctzll(m) >> 3;
        goto special;
      }
      p += 8;
    }
#endif
    while (p < end && oc_json_plain[*p])
      p++;
    if (OC_UNLIKELY(p >= end)) {
      oc_json_fail(ps, end, "unterminated string");
      return NULL;
    }
#if OC_JSON_SWAR
  special:
#endif
    if (OC_LIKELY(*p == '"')) {
      *out = (const char *)s;
      *out_len = (size_t)(p - s);
      return p + 1;
    }
    if (*p == '\\') return oc_json_string_escaped(ps, s, p, end, out, out_len);
    if (*p < 0x20) {
      oc_json_fail(ps, p, "control character in string");
      return NULL;
    }
    size_t n = oc_utf8_seq(p, end);
    if (OC_UNLIKELY(!n)) {
      oc_json_fail(ps, p, "invalid UTF-8");
      return NULL;
    }
    p += n;
  }
}

static __attribute__((cold, noinline)) void oc_json_fail_unexpected(oc_json_parser_t *ps,
                                                                    const oc_uchar *p,
                                                                    const oc_uchar *end,
                                                                    const char *what) {
  if (p >= end) {
    oc_json_fail(ps, p, "unexpected end of input, expected %s", what);
  } else if (*p >= 0x80 && !oc_utf8_seq(p, end)) {
    oc_json_fail(ps, p, "invalid UTF-8");
  } else if (*p > 0x20 && *p < 0x7F) {
    oc_json_fail(ps, p, "unexpected character '%c', expected %s", *p, what);
  } else {
    oc_json_fail(ps, p, "unexpected byte 0x%02x, expected %s", *p, what);
  }
}

static inline oc_json_t *oc_json_node(oc_arena_t *a) {
  /* inline bump; the arena keeps ptr 8-aligned and sizeof(oc_json_t) is a multiple of 8 */
  if (OC_LIKELY((size_t)(a->end - a->ptr) >= sizeof(oc_json_t))) {
    oc_json_t *v = (oc_json_t *)(void *)a->ptr;
    a->ptr += sizeof(oc_json_t);
    return v;
  }
  return oc_arena_alloc(a, sizeof(oc_json_t));
}

static inline bool oc_is_digit(oc_uchar c) {
  return (unsigned)(c - '0') < 10;
}

#define OC_JSON_LOCAL_FRAMES 128

oc_json_t *oc_json_parse(oc_arena_t *a, const char *text, size_t len, int max_depth, char *errstr,
                         size_t errstr_size) {
  if (!text) {
    /* no arithmetic on a null pointer: an empty document, which then fails */
    text = "";
    len = 0;
  }
  oc_json_parser_t ps = {(const oc_uchar *)text, a, errstr, errstr_size};
  const oc_uchar *p = ps.base, *end = ps.base + len;
  oc_json_frame_t local[OC_JSON_LOCAL_FRAMES];
  oc_json_frame_t *stack = local;
  size_t cap = OC_JSON_LOCAL_FRAMES, depth = 0;
  oc_json_t *root = NULL;
  const char *key = NULL;
  size_t key_len = 0;

  if (errstr && errstr_size) errstr[0] = '\0';
  if (max_depth <= 0) max_depth = OC_JSON_DEFAULT_MAX_DEPTH;

  p = oc_skip_ws(p, end);

value:
  /* p: first byte of a value; key/key_len: its member name (NULL in arrays) */
  if (OC_UNLIKELY(p >= end)) {
    oc_json_fail_unexpected(&ps, p, end, "a value");
    return NULL;
  }
  {
    oc_json_t *v = oc_json_node(a);
    if (OC_UNLIKELY(!v)) {
      oc_json_fail(&ps, p, "out of memory");
      return NULL;
    }
    v->key = key;
    v->key_len = (uint32_t)key_len;
    v->child = NULL;
    v->next = NULL;
    v->s = NULL;
    v->len = 0;
    if (depth) {
      oc_json_frame_t *f = &stack[depth - 1];
      if (f->last)
        f->last->next = v;
      else
        f->node->child = v;
      f->last = v;
      if (OC_UNLIKELY(f->node->len == UINT32_MAX)) {
        oc_json_fail(&ps, p, "too many elements");
        return NULL;
      }
      f->node->len++;
    } else {
      root = v;
    }

    switch (*p) {
      case '"': {
        const char *s;
        size_t n;
        p = oc_json_string(&ps, p + 1, end, &s, &n);
        if (OC_UNLIKELY(!p)) return NULL;
        if (OC_UNLIKELY(n > UINT32_MAX)) {
          oc_json_fail(&ps, (const oc_uchar *)s, "string longer than 4 GiB");
          return NULL;
        }
        v->type = OC_JSON_STRING;
        v->s = s;
        v->len = (uint32_t)n;
        goto after;
      }
      case '{':
      case '[': {
        int is_obj = *p == '{';
        v->type = is_obj ? OC_JSON_OBJECT : OC_JSON_ARRAY;
        if (OC_UNLIKELY(depth >= (size_t)max_depth)) {
          oc_json_fail(&ps, p, "nesting deeper than %d", max_depth);
          return NULL;
        }
        if (OC_UNLIKELY(depth == cap)) {
          /* Deeper than the local frames: move the stack into the arena. The depth is
           * bounded by max_depth and by the input (one byte per level). */
          size_t ncap = cap * 4;
          if (ncap > (size_t)max_depth) ncap = (size_t)max_depth;
          if (ncap > len) ncap = len; /* each level takes at least one input byte */
          oc_json_frame_t *ns = oc_arena_alloc(a, ncap * sizeof(*ns));
          if (!ns) {
            oc_json_fail(&ps, p, "out of memory");
            return NULL;
          }
          memcpy(ns, stack, depth * sizeof(*ns));
          stack = ns;
          cap = ncap;
        }
        stack[depth].node = v;
        stack[depth].last = NULL;
        depth++;
        p = oc_skip_ws(p + 1, end);
        if (p < end && *p == (is_obj ? '}' : ']')) {
          p++;
          depth--;
          goto after;
        }
        if (is_obj) goto member;
        key = NULL;
        key_len = 0;
        goto value;
      }
      case 't':
        if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
          v->type = OC_JSON_TRUE;
          p += 4;
          goto after;
        }
        goto bad_literal;
      case 'f':
        if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
          v->type = OC_JSON_FALSE;
          p += 5;
          goto after;
        }
        goto bad_literal;
      case 'n':
        if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
          v->type = OC_JSON_NULL;
          p += 4;
          goto after;
        }
      bad_literal:
        oc_json_fail(&ps, p, "invalid literal");
        return NULL;
      case '-':
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
      case '8':
      case '9': {
        const oc_uchar *s = p;
        if (*p == '-') p++;
        if (p >= end || !oc_is_digit(*p)) goto bad_number;
        if (*p == '0') {
          p++;
          if (p < end && oc_is_digit(*p)) {
            oc_json_fail(&ps, p - 1, "leading zero in number");
            return NULL;
          }
        } else {
          while (p < end && oc_is_digit(*p))
            p++;
        }
        if (p < end && *p == '.') {
          p++;
          if (p >= end || !oc_is_digit(*p)) goto bad_number;
          while (p < end && oc_is_digit(*p))
            p++;
        }
        if (p < end && (*p | 0x20) == 'e') {
          p++;
          if (p < end && (*p == '+' || *p == '-')) p++;
          if (p >= end || !oc_is_digit(*p)) goto bad_number;
          while (p < end && oc_is_digit(*p))
            p++;
        }
        if (OC_UNLIKELY(p - s > (ptrdiff_t)UINT32_MAX)) goto bad_number;
        v->type = OC_JSON_NUMBER;
        v->s = (const char *)s;
        v->len = (uint32_t)(p - s);
        goto after;
      bad_number:
        if (p < end && *p >= 0x80 && !oc_utf8_seq(p, end))
          oc_json_fail(&ps, p, "invalid UTF-8");
        else
          oc_json_fail(&ps, p, "invalid number");
        return NULL;
      }
      default:
        oc_json_fail_unexpected(&ps, p, end, "a value");
        return NULL;
    }
  }

member:
  /* p: first non-blank byte where an object member's name must start */
  if (OC_UNLIKELY(p >= end || *p != '"')) {
    oc_json_fail_unexpected(&ps, p, end, "a string key");
    return NULL;
  }
  p = oc_json_string(&ps, p + 1, end, &key, &key_len);
  if (OC_UNLIKELY(!p)) return NULL;
  if (OC_UNLIKELY(key_len > UINT32_MAX)) {
    oc_json_fail(&ps, (const oc_uchar *)key, "key longer than 4 GiB");
    return NULL;
  }
  if (OC_LIKELY(p < end && *p == ':')) {
    p++;
  } else {
    p = oc_skip_ws(p, end);
    if (OC_UNLIKELY(p >= end || *p != ':')) {
      oc_json_fail_unexpected(&ps, p, end, "':'");
      return NULL;
    }
    p++;
  }
  if (p<end && * p> ' ') goto value;
  p = oc_skip_ws(p, end);
  goto value;

after:
  /* a value ended just before p */
  if (OC_UNLIKELY(depth == 0)) goto done;
  if (OC_UNLIKELY(p < end && *p <= ' ')) p = oc_skip_ws(p, end);
  if (OC_UNLIKELY(p >= end)) {
    oc_json_fail(&ps, p, "unexpected end of input");
    return NULL;
  }
  {
    oc_json_frame_t *f = &stack[depth - 1];
    int is_obj = f->node->type == OC_JSON_OBJECT;
    if (*p == ',') {
      p++;
      if (p < end && *p <= ' ') p = oc_skip_ws(p, end);
      if (is_obj) goto member;
      key = NULL;
      key_len = 0;
      goto value;
    }
    if (*p == (is_obj ? '}' : ']')) {
      p++;
      depth--;
      goto after;
    }
    oc_json_fail_unexpected(&ps, p, end, is_obj ? "',' or '}'" : "',' or ']'");
    return NULL;
  }

done:
  p = oc_skip_ws(p, end);
  if (OC_UNLIKELY(p != end)) {
    if (*p >= 0x80 && !oc_utf8_seq(p, end))
      oc_json_fail(&ps, p, "invalid UTF-8");
    else
      oc_json_fail(&ps, p, "trailing garbage after the value");
    return NULL;
  }
  root->key = NULL;
  root->key_len = 0;
  return root;
}

/* ---- lookup ------------------------------------------------------------------------ */

const oc_json_t *oc_json_getn(const oc_json_t *obj, const char *key, size_t key_len) {
  if (!obj || obj->type != OC_JSON_OBJECT) return NULL;
  for (const oc_json_t *c = obj->child; c; c = c->next)
    if (c->key_len == key_len && memcmp(c->key, key, key_len) == 0) return c;
  return NULL;
}

const oc_json_t *oc_json_get(const oc_json_t *obj, const char *key) {
  return oc_json_getn(obj, key, strlen(key));
}

static bool oc_ascii_ieq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x != y) {
      if (x >= 'A' && x <= 'Z') x |= 0x20;
      if (y >= 'A' && y <= 'Z') y |= 0x20;
      if (x != y) return false;
    }
  }
  return true;
}

const oc_json_t *oc_json_get_ci(const oc_json_t *obj, const char *key, size_t key_len) {
  const oc_json_t *exact = oc_json_getn(obj, key, key_len);
  if (exact || !obj || obj->type != OC_JSON_OBJECT) return exact;
  for (const oc_json_t *c = obj->child; c; c = c->next)
    if (c->key_len == key_len && oc_ascii_ieq(c->key, key, key_len)) return c;
  return NULL;
}

const oc_json_t *oc_json_at(const oc_json_t *arr, size_t i) {
  if (!arr || arr->type != OC_JSON_ARRAY || i >= arr->len) return NULL;
  const oc_json_t *c = arr->child;
  while (c && i--)
    c = c->next;
  return c;
}

/* "123" -> 123; false when not all digits or too large to be an index. */
static bool oc_json_index(const char *s, size_t n, size_t *out) {
  if (n == 0 || n > 10) return false;
  size_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!oc_is_digit((oc_uchar)s[i])) return false;
    v = v * 10 + (size_t)(s[i] - '0');
  }
  *out = v;
  return true;
}

const oc_json_t *oc_json_path(const oc_json_t *root, const char *path) {
  const oc_json_t *cur = root;
  const char *p = path;
  if (!cur || !path) return NULL;
  if (*p == '\0') return cur;
  for (;;) {
    if (*p == '[') {
      const char *close = strchr(p, ']');
      size_t idx;
      if (!close || !oc_json_index(p + 1, (size_t)(close - p - 1), &idx)) return NULL;
      cur = oc_json_at(cur, idx);
      p = close + 1;
    } else {
      size_t n = strcspn(p, ".[");
      size_t idx;
      if (n == 0) return NULL; /* empty segment: "a..b", "a." or ".a" */
      if (cur->type == OC_JSON_ARRAY && oc_json_index(p, n, &idx))
        cur = oc_json_at(cur, idx);
      else
        cur = oc_json_getn(cur, p, n);
      p += n;
    }
    if (!cur) return NULL;
    if (*p == '\0') return cur;
    if (*p == '.') {
      p++;
      if (*p == '\0' || *p == '.') return NULL;
    } else if (*p != '[') {
      return NULL; /* "a[0]b" */
    }
  }
}

/* ---- values ------------------------------------------------------------------------ */

bool oc_json_streq(const oc_json_t *v, const char *s) {
  if (!v || v->type != OC_JSON_STRING || !s) return false;
  size_t n = strlen(s);
  return n == v->len && memcmp(v->s, s, n) == 0;
}

bool oc_json_double(const oc_json_t *v, double *out) {
  if (!v || v->type != OC_JSON_NUMBER || v->len == 0) return false;
  char small[64];
  char *buf = small;
  if (v->len >= sizeof(small)) {
    buf = malloc((size_t)v->len + 1); /* absurdly long literals only; not a hot path */
    if (!buf) return false;
  }
  memcpy(buf, v->s, v->len);
  buf[v->len] = '\0';
  errno = 0;
  char *endp;
  double d = strtod(buf, &endp);
  bool ok = endp == buf + v->len && !isinf(d) && !isnan(d);
  if (buf != small) free(buf);
  if (ok) *out = d;
  return ok;
}

bool oc_json_int64(const oc_json_t *v, int64_t *out) {
  if (!v || v->type != OC_JSON_NUMBER || v->len == 0) return false;
  const char *s = v->s, *e = v->s + v->len;
  bool neg = *s == '-';
  if (neg) s++;
  const char *d = s;
  uint64_t acc = 0;
  while (d < e && oc_is_digit((oc_uchar)*d)) {
    unsigned digit = (unsigned)(*d - '0');
    if (acc > (UINT64_MAX - digit) / 10) return false;
    acc = acc * 10 + digit;
    d++;
  }
  if (d == e) {
    if (d == s) return false;
    if (neg) {
      if (acc > (uint64_t)INT64_MAX + 1) return false;
      *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    } else {
      if (acc > (uint64_t)INT64_MAX) return false;
      *out = (int64_t)acc;
    }
    return true;
  }
  /* "1.0", "2e3": accept when the value is integral and exactly representable */
  double x;
  if (!oc_json_double(v, &x)) return false;
  if (x != floor(x) || x < -9223372036854775808.0 || x >= 9223372036854775808.0) return false;
  *out = (int64_t)x;
  return true;
}

/* ---- serializer -------------------------------------------------------------------- */

static const char oc_hexdig[] = "0123456789abcdef";

/* Room for n more bytes and the NUL; false once the buffer has failed. */
static inline bool oc_json_room(oc_buf_t *b, size_t n) {
  if (OC_LIKELY(!b->oom && b->cap - b->len > n)) return true;
  return oc_buf_reserve(b, n);
}

static inline void oc_json_put(oc_buf_t *b, const char *s, size_t n) {
  if (!oc_json_room(b, n)) return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

static inline void oc_json_put1(oc_buf_t *b, char c) {
  if (oc_json_room(b, 1)) b->data[b->len++] = c;
}

/* Writes the quoted string without the trailing NUL, keeping `tail` more bytes of room
 * after it for the caller (a ':' after a key). */
static inline void oc_json_str(oc_buf_t *out, const char *str, size_t len, size_t tail) {
  const oc_uchar *p = (const oc_uchar *)str, *end = p + len;
  /* keep room for every remaining byte plus the quotes; escapes reserve their extra */
  if (OC_UNLIKELY(len > SIZE_MAX - 16) || !oc_json_room(out, len + 2 + tail)) {
    out->oom = true;
    return;
  }
  char *o = out->data + out->len;
  *o++ = '"';
  for (;;) {
    const oc_uchar *run = p;
#if OC_JSON_SWAR
    while (end - p >= 8) {
      uint64_t m = oc_json_special(oc_load64(p));
      if (m) {
        p += __builtin_ctzll(m) >> 3;
        goto special;
      }
      p += 8;
    }
#endif
    while (p < end && oc_json_plain[*p])
      p++;
#if OC_JSON_SWAR
  special:
#endif
    if (p > run) {
      memcpy(o, run, (size_t)(p - run));
      o += p - run;
    }
    if (p >= end) break;
    oc_uchar c = *p;
    if (c >= 0x80) {
      size_t n = oc_utf8_seq(p, end);
      if (n) {
        memcpy(o, p, n);
        o += n;
        p += n;
        continue;
      }
    }
    /* an escape or U+FFFD: at most 6 bytes for 1 input byte */
    out->len = (size_t)(o - out->data);
    if (!oc_buf_reserve(out, (size_t)(end - p) + 8 + tail)) return;
    o = out->data + out->len;
    p++;
    switch (c) {
      case '"':
        *o++ = '\\';
        *o++ = '"';
        break;
      case '\\':
        *o++ = '\\';
        *o++ = '\\';
        break;
      case '\n':
        *o++ = '\\';
        *o++ = 'n';
        break;
      case '\r':
        *o++ = '\\';
        *o++ = 'r';
        break;
      case '\t':
        *o++ = '\\';
        *o++ = 't';
        break;
      case '\b':
        *o++ = '\\';
        *o++ = 'b';
        break;
      case '\f':
        *o++ = '\\';
        *o++ = 'f';
        break;
      default:
        if (c < 0x20) {
          *o++ = '\\';
          *o++ = 'u';
          *o++ = '0';
          *o++ = '0';
          *o++ = oc_hexdig[c >> 4];
          *o++ = oc_hexdig[c & 0xf];
        } else {
          /* invalid UTF-8 byte */
          *o++ = (char)0xEF;
          *o++ = (char)0xBF;
          *o++ = (char)0xBD;
        }
    }
  }
  *o++ = '"';
  out->len = (size_t)(o - out->data);
}

void oc_json_write_string(oc_buf_t *out, const char *str, size_t len) {
  oc_json_str(out, str, len, 0);
  if (out->data) out->data[out->len] = '\0';
}

static inline void oc_json_write_scalar(oc_buf_t *out, const oc_json_t *v) {
  switch (v->type) {
    case OC_JSON_NULL:
      oc_json_put(out, "null", 4);
      break;
    case OC_JSON_FALSE:
      oc_json_put(out, "false", 5);
      break;
    case OC_JSON_TRUE:
      oc_json_put(out, "true", 4);
      break;
    case OC_JSON_NUMBER:
      /* a hand-built node could carry an empty literal: keep the output valid */
      if (v->len)
        oc_json_put(out, v->s, v->len);
      else
        oc_json_put(out, "0", 1);
      break;
    case OC_JSON_STRING:
      oc_json_str(out, v->s, v->len, 0);
      break;
    default:
      break;
  }
}

void oc_json_serialize(oc_buf_t *out, const oc_json_t *v) {
  /* iterative like the parser: a tree parsed with a large max_depth must not overflow
   * the C stack on the way out */
  const oc_json_t *local[64];
  const oc_json_t **stack = local;
  size_t cap = 64, depth = 0;
  if (!v) {
    oc_json_put(out, "null", 4);
    goto out;
  }
  for (;;) {
    /* emit v (its key was written by the caller of this step) */
    if (v->type == OC_JSON_OBJECT || v->type == OC_JSON_ARRAY) {
      int is_obj = v->type == OC_JSON_OBJECT;
      if (v->child) {
        if (depth == cap) {
          size_t ncap = cap * 2;
          const oc_json_t **ns = malloc(ncap * sizeof(*ns)); /* deep trees only */
          if (!ns) {
            out->oom = true;
            goto out;
          }
          memcpy(ns, stack, depth * sizeof(*ns));
          if (stack != local) free(stack);
          stack = ns;
          cap = ncap;
        }
        stack[depth++] = v;
        oc_json_put1(out, is_obj ? '{' : '[');
        v = v->child;
        if (is_obj) {
          oc_json_str(out, v->key ? v->key : "", v->key ? v->key_len : 0, 1);
          oc_json_put1(out, ':');
        }
        continue;
      }
      oc_json_put(out, is_obj ? "{}" : "[]", 2);
    } else {
      oc_json_write_scalar(out, v);
    }
    /* v is complete: move to its next sibling, closing containers on the way up */
    for (;;) {
      if (depth == 0) goto out;
      const oc_json_t *parent = stack[depth - 1];
      if (v->next) {
        v = v->next;
        oc_json_put1(out, ',');
        if (parent->type == OC_JSON_OBJECT) {
          oc_json_str(out, v->key ? v->key : "", v->key ? v->key_len : 0, 1);
          oc_json_put1(out, ':');
        }
        break;
      }
      oc_json_put1(out, parent->type == OC_JSON_OBJECT ? '}' : ']');
      v = parent;
      depth--;
    }
  }
out:
  if (stack != local) free(stack);
  if (out->data) out->data[out->len] = '\0';
}
