/* test_json.c: the JSON layer (common/json.c): every value type, escapes, UTF-8
 * validation, limits, numbers, lookups, serialization and round trips.
 * Every input is parsed from an exact-size heap copy, so a read past text+len is caught
 * by AddressSanitizer in the sanitizer build. */
#include "common/json.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oc_test.h"

/* ---- helpers ----------------------------------------------------------------------- */

static oc_arena_t arena;
static char err[256];
#define MAX_COPIES 4096
static char *copies[MAX_COPIES];
static size_t ncopies;

/* Copies are kept until cleanup() because parsed strings may point into them. */
static const char *exact_copy(const char *text, size_t len) {
  char *c = malloc(len ? len : 1);
  if (!c) abort();
  memcpy(c, text, len);
  if (ncopies < MAX_COPIES)
    copies[ncopies++] = c;
  else
    abort();
  return c;
}

static void cleanup(void) {
  for (size_t i = 0; i < ncopies; i++)
    free(copies[i]);
  ncopies = 0;
  oc_arena_reset(&arena);
}

static oc_json_t *parse_n(const char *text, size_t len, int depth) {
  return oc_json_parse(&arena, exact_copy(text, len), len, depth, err, sizeof(err));
}
static oc_json_t *parse(const char *text) {
  return parse_n(text, strlen(text), OC_JSON_DEFAULT_MAX_DEPTH);
}

static bool str_is(const oc_json_t *v, const char *s, size_t n) {
  return v && v->type == OC_JSON_STRING && v->len == n && memcmp(v->s, s, n) == 0;
}

/* Structural equality: types, literals, string bytes, keys and order. */
static bool json_equal(const oc_json_t *a, const oc_json_t *b) {
  if (!a || !b) return a == b;
  if (a->type != b->type || a->len != b->len) return false;
  switch (a->type) {
    case OC_JSON_NUMBER:
    case OC_JSON_STRING:
      return memcmp(a->s, b->s, a->len) == 0;
    case OC_JSON_ARRAY:
    case OC_JSON_OBJECT: {
      const oc_json_t *x = a->child, *y = b->child;
      for (; x && y; x = x->next, y = y->next) {
        if (a->type == OC_JSON_OBJECT &&
            (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) != 0))
          return false;
        if (!json_equal(x, y)) return false;
      }
      return !x && !y;
    }
    default:
      return true;
  }
}

/* Serializes v into a fresh NUL-terminated string (caller frees). */
static char *ser(const oc_json_t *v) {
  oc_buf_t b;
  oc_buf_init(&b);
  oc_json_serialize(&b, v);
  size_t n;
  return oc_buf_steal(&b, &n);
}

static char *wstr(const char *s, size_t n) {
  oc_buf_t b;
  oc_buf_init(&b);
  oc_json_write_string(&b, s, n);
  size_t len;
  return oc_buf_steal(&b, &len);
}

/* Expects a parse failure whose message contains want (and "at byte <at>" when at>=0). */
static void expect_fail_n(const char *text, size_t len, int depth, const char *want, long at,
                          int line) {
  oc_json_t *v = parse_n(text, len, depth);
  if (v) {
    fprintf(stderr, "test_json.c:%d: parse of %.*s unexpectedly succeeded\n", line,
            (int)(len > 60 ? 60 : len), text);
    oc_test_failures_++;
    return;
  }
  if (want && !strstr(err, want)) {
    fprintf(stderr, "test_json.c:%d: error \"%s\" lacks \"%s\"\n", line, err, want);
    oc_test_failures_++;
  }
  if (at >= 0) {
    char tail[64];
    snprintf(tail, sizeof(tail), "at byte %ld", at);
    size_t el = strlen(err), tl = strlen(tail);
    if (el < tl || strcmp(err + el - tl, tail) != 0) {
      fprintf(stderr, "test_json.c:%d: error \"%s\" does not end with \"%s\"\n", line, err, tail);
      oc_test_failures_++;
    }
  }
}
#define FAIL(text, want, at) expect_fail_n(text, strlen(text), 0, want, at, __LINE__)
#define FAILN(text, len, want, at) expect_fail_n(text, len, 0, want, at, __LINE__)

/* parse -> serialize -> parse: the trees are equal, and serializing again is stable. */
static void round_trip_n(const char *text, size_t len, int line) {
  oc_json_t *a = parse_n(text, len, 100000);
  if (!a) {
    fprintf(stderr, "test_json.c:%d: parse failed: %s\n", line, err);
    oc_test_failures_++;
    return;
  }
  char *s1 = ser(a);
  oc_json_t *b = s1 ? parse_n(s1, strlen(s1), 100000) : NULL;
  char *s2 = b ? ser(b) : NULL;
  if (!b || !json_equal(a, b) || !s2 || strcmp(s1, s2) != 0) {
    fprintf(stderr, "test_json.c:%d: round trip differs: %s | %s\n", line, s1 ? s1 : "(null)",
            b ? "" : err);
    oc_test_failures_++;
  }
  free(s1);
  free(s2);
}
#define ROUND_TRIP(text) round_trip_n(text, strlen(text), __LINE__)

/* ---- value types ------------------------------------------------------------------- */

static void test_scalars(void) {
  oc_json_t *v;
  v = parse("null");
  OC_CHECK(v && v->type == OC_JSON_NULL);
  v = parse("true");
  OC_CHECK(v && v->type == OC_JSON_TRUE);
  v = parse("false");
  OC_CHECK(v && v->type == OC_JSON_FALSE);
  v = parse("  \t\r\n 42 \n");
  OC_CHECK(v && v->type == OC_JSON_NUMBER && v->len == 2 && memcmp(v->s, "42", 2) == 0);
  v = parse("\"hello\"");
  OC_CHECK(str_is(v, "hello", 5));
  OC_CHECK(oc_json_is_string(v));
  OC_CHECK(oc_json_streq(v, "hello"));
  OC_CHECK(!oc_json_streq(v, "hell"));
  OC_CHECK(!oc_json_streq(v, "hello!"));
  v = parse("\"\"");
  OC_CHECK(str_is(v, "", 0));
  OC_CHECK(oc_json_streq(v, ""));
  OC_CHECK(v && v->key == NULL && v->child == NULL && v->next == NULL);
  OC_CHECK(!oc_json_is_string(NULL));
  cleanup();
}

static void test_containers(void) {
  oc_json_t *v = parse("{\"a\":1,\"b\":[true,false,null,\"x\",{}],\"c\":{\"d\":[]},\"\":0}");
  OC_CHECK(v && v->type == OC_JSON_OBJECT);
  if (!v) return;
  OC_CHECK_INT(v->len, 4);
  const oc_json_t *a = v->child;
  OC_CHECK(a && a->key_len == 1 && memcmp(a->key, "a", 1) == 0 && a->type == OC_JSON_NUMBER);
  const oc_json_t *b = oc_json_get(v, "b");
  OC_CHECK(b && b->type == OC_JSON_ARRAY && b->len == 5);
  OC_CHECK(oc_json_at(b, 0)->type == OC_JSON_TRUE);
  OC_CHECK(oc_json_at(b, 1)->type == OC_JSON_FALSE);
  OC_CHECK(oc_json_at(b, 2)->type == OC_JSON_NULL);
  OC_CHECK(str_is(oc_json_at(b, 3), "x", 1));
  OC_CHECK(oc_json_at(b, 4)->type == OC_JSON_OBJECT && oc_json_at(b, 4)->len == 0 &&
           oc_json_at(b, 4)->child == NULL);
  OC_CHECK(oc_json_at(b, 5) == NULL);
  OC_CHECK(oc_json_at(b, 0)->key == NULL); /* array elements have no key */
  const oc_json_t *d = oc_json_path(v, "c.d");
  OC_CHECK(d && d->type == OC_JSON_ARRAY && d->len == 0 && d->child == NULL);
  const oc_json_t *empty = oc_json_getn(v, "", 0);
  OC_CHECK(empty && empty->type == OC_JSON_NUMBER && empty->s[0] == '0');
  OC_CHECK(empty && empty->next == NULL);

  v = parse(" [ 1 , [ 2 , [ 3 ] ] , { \"k\" : \"v\" } ] ");
  OC_CHECK(v && v->type == OC_JSON_ARRAY && v->len == 3);
  OC_CHECK(str_is(oc_json_path(v, "2.k"), "v", 1));
  OC_CHECK(oc_json_path(v, "1.1.0") && oc_json_path(v, "1.1.0")->s[0] == '3');

  v = parse("[]");
  OC_CHECK(v && v->type == OC_JSON_ARRAY && v->len == 0);
  v = parse("{}");
  OC_CHECK(v && v->type == OC_JSON_OBJECT && v->len == 0);
  v = parse("[[],[[]],{}]");
  OC_CHECK(v && v->len == 3);

  /* duplicate keys are kept in order; get returns the first */
  v = parse("{\"k\":1,\"k\":2}");
  OC_CHECK(v && v->len == 2 && oc_json_get(v, "k") == v->child);

  /* lookups on the wrong type */
  OC_CHECK(oc_json_get(oc_json_at(parse("[1]"), 0), "a") == NULL);
  OC_CHECK(oc_json_at(parse("{\"a\":1}"), 0) == NULL);
  OC_CHECK(oc_json_get(NULL, "a") == NULL);
  OC_CHECK(oc_json_at(NULL, 0) == NULL);
  cleanup();
}

static void test_syntax_errors(void) {
  FAIL("", "unexpected end of input", 0);
  FAIL("   ", "unexpected end of input", 3);
  FAIL("[", "unexpected end of input", 1);
  FAIL("[1", "unexpected end of input", 2);
  FAIL("[1,", "unexpected end of input", 3);
  FAIL("{", "string key", 1);
  FAIL("{\"a\"", "':'", 4);
  FAIL("{\"a\":", "a value", 5);
  FAIL("{\"a\" 1}", "expected ':'", 5);
  FAIL("{\"a\":1,}", "expected a string key", 7);
  FAIL("[1,]", "unexpected character ']'", 3);
  FAIL("[1 2]", "expected ',' or ']'", 3);
  FAIL("{\"a\":1 \"b\":2}", "expected ',' or '}'", 7);
  FAIL("{1:2}", "string key", 1);
  FAIL("{'a':1}", "string key", 1);
  FAIL("[1}", "expected ',' or ']'", 2);
  FAIL("{\"a\":1]", "expected ',' or '}'", 6);
  FAIL("tru", "invalid literal", 0);
  FAIL("nul", "invalid literal", 0);
  FAIL("True", "unexpected character 'T'", 0);
  FAIL("nan", "invalid literal", 0);
  FAIL("\"abc", "unterminated string", 4);
  FAIL("\"abc\\", "unterminated string", 5);
  FAIL("\"abc\\\"", "unterminated string", 6);
  FAIL("\x01", "unexpected byte 0x01", 0);
  FAIL("/* c */ 1", "unexpected character '/'", 0);
  /* trailing garbage */
  FAIL("1 2", "trailing garbage", 2);
  FAIL("{}x", "trailing garbage", 2);
  FAIL("[1]]", "trailing garbage", 3);
  FAIL("nullx", "trailing garbage", 4);
  FAIL("truee", "trailing garbage", 4);
  FAIL("\"a\"\"b\"", "trailing garbage", 3);
  FAIL("{} {}", "trailing garbage", 3);
  FAILN("1\0", 2, "trailing garbage", 1);
  FAIL("1x", "trailing garbage", 1);
  FAIL("[1x]", "expected ',' or ']'", 2);
  /* whitespace other than the four JSON ones */
  FAIL("\v1", "unexpected byte 0x0b", 0);
  FAIL(
      "\xc2\xa0"
      "1",
      "unexpected byte 0xc2", 0); /* NBSP is valid UTF-8, not JSON blank */
  cleanup();
}

/* ---- strings, escapes, UTF-8 ------------------------------------------------------- */

static void test_escapes(void) {
  oc_json_t *v;
  v = parse("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"");
  OC_CHECK(str_is(v, "a\"b\\c/d\be\ff\ng\rh\ti", 17));
  v = parse("\"\\u0041\\u00e9\\u00E9\\u20ac\"");
  OC_CHECK(str_is(v, "A\xc3\xa9\xc3\xa9\xe2\x82\xac", 8));
  /* surrogate pair -> U+1F600 */
  v = parse("\"x\\ud83d\\ude00y\"");
  OC_CHECK(str_is(v, "x\xf0\x9f\x98\x80y", 6));
  v = parse("\"\\uD83D\\uDE00\"");
  OC_CHECK(str_is(v, "\xf0\x9f\x98\x80", 4));
  /* the highest code point U+10FFFF */
  v = parse("\"\\udbff\\udfff\"");
  OC_CHECK(str_is(v, "\xf4\x8f\xbf\xbf", 4));
  /* U+FFFF and U+0800 boundaries */
  v = parse("\"\\uffff\\u0800\\u07ff\\u0080\\u007f\"");
  OC_CHECK(str_is(v, "\xef\xbf\xbf\xe0\xa0\x80\xdf\xbf\xc2\x80\x7f", 11));
  /* \u0000 is a valid escape: the NUL is kept, the length says where the string ends */
  v = parse("\"a\\u0000b\"");
  OC_CHECK(str_is(v, "a\0b", 3));
  /* escaped strings are decoded into the arena, plain ones point into the input */
  const char *in = exact_copy("[\"plain\",\"esc\\n\"]", 17);
  v = oc_json_parse(&arena, in, 17, 0, err, sizeof(err));
  OC_CHECK(v && v->child->s == in + 2);
  OC_CHECK(v && str_is(v->child->next, "esc\n", 4) &&
           (v->child->next->s < in || v->child->next->s >= in + 17));
  /* escapes in keys */
  v = parse("{\"k\\u00e9y\":1,\"t\\tab\":2}");
  OC_CHECK(v && v->child->key_len == 4 && memcmp(v->child->key, "k\xc3\xa9y", 4) == 0);
  OC_CHECK(oc_json_getn(v, "t\tab", 4) != NULL);
  /* valid multi-byte UTF-8 after an escape goes through the slow path */
  v = parse("\"\\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 tail\"");
  OC_CHECK(str_is(v, "\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 tail", 15));
  /* 0x7f is not a control character in JSON */
  v = parse("\"\x7f\"");
  OC_CHECK(str_is(v, "\x7f", 1));
  cleanup();
}

static void test_bad_escapes(void) {
  FAIL("\"\\x41\"", "invalid escape", 1);
  FAIL("\"ab\\'\"", "invalid escape", 3);
  FAIL("\"\\U0041\"", "invalid escape", 1);
  FAIL("\"\\a\"", "invalid escape", 1);
  FAIL("\"\\0\"", "invalid escape", 1);
  FAIL("\"\\u12\"", "invalid \\u escape", 1);
  FAIL("\"\\u12G4\"", "invalid \\u escape", 1);
  FAIL("\"\\u\"", "invalid \\u escape", 1);
  FAIL("\"\\u-123\"", "invalid \\u escape", 1);
  FAIL("\"\\u 123\"", "invalid \\u escape", 1);
  FAILN("\"\\u12", 5, "unterminated string", 5);
  FAIL("\"\\u12\\\"34\"", "invalid \\u escape", 1);
  /* lone surrogates */
  FAIL("\"\\ud800\"", "lone surrogate", 1);
  FAIL("\"x\\ud800y\"", "lone surrogate", 2);
  FAIL("\"\\ud800\\u0041\"", "lone surrogate", 1);
  FAIL("\"\\ud800\\ud800\"", "lone surrogate", 1);
  FAIL("\"\\udc00\"", "lone surrogate", 1);
  FAIL("\"\\udfff\\ud800\"", "lone surrogate", 1);
  FAIL("\"\\ud800\\n\"", "lone surrogate", 1);
  FAIL("\"\\ud800\\udc0\"", "lone surrogate", 1);
  FAIL("\"ok\\n\\ud83d\"", "lone surrogate", 5);
  FAIL("{\"\\udc00\":1}", "lone surrogate", 2);
  cleanup();
}

static void test_control_chars(void) {
  FAIL("\"a\nb\"", "control character in string", 2);
  FAIL("\"\x01\"", "control character in string", 1);
  FAIL("\"\x1f\"", "control character in string", 1);
  FAIL("\"\t\"", "control character in string", 1);
  FAILN("\"ab\0c\"", 6, "control character in string", 3);
  /* also after an escape (slow path) and in keys */
  FAIL("\"\\n\x02\"", "control character in string", 3);
  FAIL("{\"a\x1b\":1}", "control character in string", 3);
  /* a control character at every position of longer strings (SWAR lanes) */
  for (size_t len = 1; len < 40; len++) {
    for (size_t at = 0; at < len; at++) {
      char s[64];
      s[0] = '"';
      memset(s + 1, 'a', len);
      s[1 + at] = '\x05';
      s[1 + len] = '"';
      expect_fail_n(s, len + 2, 0, "control character in string", (long)(1 + at), __LINE__);
    }
  }
  cleanup();
}

static void test_invalid_utf8(void) {
  /* overlong encodings */
  FAIL("\"\xc0\x80\"", "invalid UTF-8", 1);
  FAIL("\"\xc1\xbf\"", "invalid UTF-8", 1);
  FAIL("\"\xe0\x80\x80\"", "invalid UTF-8", 1);
  FAIL("\"\xe0\x9f\xbf\"", "invalid UTF-8", 1);
  FAIL("\"\xf0\x80\x80\x80\"", "invalid UTF-8", 1);
  FAIL("\"\xf0\x8f\xbf\xbf\"", "invalid UTF-8", 1);
  /* UTF-16 surrogates encoded in UTF-8 */
  FAIL("\"\xed\xa0\x80\"", "invalid UTF-8", 1);
  FAIL("\"\xed\xbf\xbf\"", "invalid UTF-8", 1);
  FAIL("\"ab\xed\xa0\xbd\xed\xb8\x80\"", "invalid UTF-8", 3);
  /* beyond U+10FFFF and bytes that never occur */
  FAIL("\"\xf4\x90\x80\x80\"", "invalid UTF-8", 1);
  FAIL("\"\xf5\x80\x80\x80\"", "invalid UTF-8", 1);
  FAIL("\"\xff\"", "invalid UTF-8", 1);
  FAIL("\"\xfe\"", "invalid UTF-8", 1);
  /* stray continuation bytes */
  FAIL("\"\x80\"", "invalid UTF-8", 1);
  FAIL("\"a\xbf\"", "invalid UTF-8", 2);
  /* truncated sequences: before the closing quote, and at the end of input */
  FAIL("\"\xe2\x82\"", "invalid UTF-8", 1);
  FAIL("\"\xc3\"", "invalid UTF-8", 1);
  FAIL("\"\xf0\x9f\x98\"", "invalid UTF-8", 1);
  FAILN("\"\xe2\x82", 3, "invalid UTF-8", 1);
  FAILN("\"\xf0\x9f\x98", 4, "invalid UTF-8", 1);
  FAILN("\"\xc3", 2, "invalid UTF-8", 1);
  /* a lead byte followed by ASCII */
  FAIL(
      "\"\xe2"
      "ab\"",
      "invalid UTF-8", 1);
  /* after an escape (slow path) */
  FAIL("\"\\t\xc0\x80\"", "invalid UTF-8", 3);
  FAIL("\"\\t\xe2\x82\"", "invalid UTF-8", 3);
  /* in keys, and outside strings */
  FAIL("{\"\xff\":1}", "invalid UTF-8", 2);
  FAIL("\xff", "invalid UTF-8", 0);
  FAIL("[1,\xc0]", "invalid UTF-8", 3);
  FAIL("{}\xff", "invalid UTF-8", 2);
  FAIL("-\xff", "invalid UTF-8", 1);
  /* the error offset is exact at every position of a long string (SWAR lanes) */
  for (size_t len = 1; len < 40; len++) {
    for (size_t at = 0; at < len; at++) {
      char s[64];
      s[0] = '"';
      memset(s + 1, 'z', len);
      s[1 + at] = '\xc0';
      s[1 + len] = '"';
      expect_fail_n(s, len + 2, 0, "invalid UTF-8", (long)(1 + at), __LINE__);
    }
  }
  /* valid sequences of every length are accepted */
  oc_json_t *v = parse(
      "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80"
      "\xf4\x8f\xbf\xbf\"");
  OC_CHECK(v && v->type == OC_JSON_STRING && v->len == 21);
  cleanup();
}

/* A straightforward reference decoder to check the validator against. */
static size_t ref_utf8(const unsigned char *p, size_t n) {
  if (n == 0) return 0;
  unsigned c = p[0];
  if (c < 0x80) return 1;
  size_t need;
  uint32_t cp, min;
  if ((c & 0xE0) == 0xC0) {
    need = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    need = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    need = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < need) return 0;
  for (size_t i = 1; i < need; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return need;
}

static void test_utf8_exhaustive(void) {
  unsigned char b[4];
  /* every 1- and 2-byte input */
  for (unsigned x = 0; x < 256; x++) {
    b[0] = (unsigned char)x;
    OC_CHECK_INT(oc_utf8_valid_prefix((char *)b, 1), ref_utf8(b, 1) == 1 ? 1 : 0);
    for (unsigned y = 0; y < 256; y++) {
      b[1] = (unsigned char)y;
      size_t r = ref_utf8(b, 2);
      size_t want = r == 2 ? 2 : r == 1 ? (ref_utf8(b + 1, 1) ? 2 : 1) : 0;
      size_t got = oc_utf8_valid_prefix((char *)b, 2);
      if (got != want) {
        fprintf(stderr, "utf8 %02x %02x: got %zu want %zu\n", x, y, got, want);
        oc_test_failures_++;
      }
    }
  }
  /* every lead byte from 0xC0 with every second byte and edge third/fourth bytes */
  static const unsigned char tails[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90,
                                        0x9F, 0xA0, 0xBF, 0xC0, 0xF0, 0xFF};
  for (unsigned x = 0xC0; x < 256; x++) {
    for (unsigned y = 0; y < 256; y++) {
      for (size_t t = 0; t < sizeof(tails); t++) {
        for (size_t u = 0; u < sizeof(tails); u += 3) {
          b[0] = (unsigned char)x, b[1] = (unsigned char)y, b[2] = tails[t], b[3] = tails[u];
          size_t r = ref_utf8(b, 4);
          size_t got = oc_utf8_valid_prefix((char *)b, 4);
          /* the validator must accept exactly the first sequence when it is valid */
          if ((r == 0) != (got == 0) || (r && got < r)) {
            fprintf(stderr, "utf8 %02x %02x %02x %02x: got %zu ref %zu\n", b[0], b[1], b[2], b[3],
                    got, r);
            oc_test_failures_++;
            return;
          }
        }
      }
    }
  }
  OC_CHECK_INT(oc_utf8_valid_prefix("abc\xe2\x82\xac"
                                    "d\xff"
                                    "e",
                                    9),
               7);
  OC_CHECK_INT(oc_utf8_valid_prefix("", 0), 0);
  OC_CHECK_INT(oc_utf8_valid_prefix("0123456789abcdef\x80", 17), 16);
}

static void test_long_strings(void) {
  /* lengths around the 8-byte scan: plain, with an escape, with UTF-8, at every offset */
  char s[128], want[128];
  for (size_t len = 0; len < 50; len++) {
    for (size_t at = 0; at <= len; at++) {
      size_t n = 0, w = 0;
      s[n++] = '"';
      for (size_t i = 0; i < len; i++) {
        if (i == at) {
          memcpy(s + n, "\\\"", 2), n += 2;
          want[w++] = '"';
        }
        s[n++] = (char)('a' + i % 26);
        want[w++] = (char)('a' + i % 26);
      }
      if (at == len) {
        memcpy(s + n, "\xe2\x82\xac", 3), n += 3;
        memcpy(want + w, "\xe2\x82\xac", 3), w += 3;
      }
      s[n++] = '"';
      oc_json_t *v = parse_n(s, n, 0);
      if (!str_is(v, want, w)) {
        fprintf(stderr, "long string len %zu at %zu: %s\n", len, at, v ? "differs" : err);
        oc_test_failures_++;
      }
    }
  }
  /* a 1 MB string */
  size_t big = 1 << 20;
  char *t = malloc(big + 2);
  t[0] = '"';
  for (size_t i = 0; i < big; i++)
    t[1 + i] = (char)('a' + i % 26);
  t[big + 1] = '"';
  oc_json_t *v = parse_n(t, big + 2, 0);
  OC_CHECK(v && v->type == OC_JSON_STRING && v->len == big && v->s[big - 1] == t[big]);
  free(t);
  cleanup();
}

/* ---- depth ------------------------------------------------------------------------- */

static void test_depth(void) {
  size_t n = 10000;
  char *deep = malloc(2 * n);
  memset(deep, '[', n);
  memset(deep + n, ']', n);
  /* rejected cleanly at the default limit, offset of the first bracket too deep */
  expect_fail_n(deep, 2 * n, OC_JSON_DEFAULT_MAX_DEPTH, "nesting deeper than 128", 128, __LINE__);
  /* unterminated: must also be rejected by depth, not by running off the end */
  expect_fail_n(deep, n, OC_JSON_DEFAULT_MAX_DEPTH, "nesting deeper than 128", 128, __LINE__);
  /* with a generous limit the explicit stack parses it (no recursion) */
  oc_json_t *v = parse_n(deep, 2 * n, 20000);
  OC_CHECK(v && v->type == OC_JSON_ARRAY && v->len == 1);
  int d = 0;
  for (const oc_json_t *c = v; c; c = c->child)
    d++;
  OC_CHECK_INT(d, n);
  /* and serializes back without recursion either */
  char *out = ser(v);
  OC_CHECK(out && strlen(out) == 2 * n && memcmp(out, deep, 2 * n) == 0);
  free(out);
  expect_fail_n(deep, n, 20000, "unexpected end of input", (long)n, __LINE__);
  free(deep);

  /* objects nested 10,000 deep: {"a":{"a":...}} */
  size_t m = 10000;
  char *od = malloc(6 * m + m + 1);
  size_t k = 0;
  for (size_t i = 0; i < m; i++)
    memcpy(od + k, "{\"a\":", 5), k += 5;
  od[k++] = '1';
  for (size_t i = 0; i < m; i++)
    od[k++] = '}';
  expect_fail_n(od, k, 0, "nesting deeper than 128", 128 * 5, __LINE__);
  v = parse_n(od, k, 10000);
  OC_CHECK(v != NULL);
  expect_fail_n(od, k, 9999, "nesting deeper than 9999", 9999 * 5, __LINE__);
  free(od);

  /* exact boundary: 128 levels pass, 129 fail; limit 1 allows one container */
  char buf[300];
  memset(buf, '[', 128);
  memset(buf + 128, ']', 128);
  OC_CHECK(parse_n(buf, 256, OC_JSON_DEFAULT_MAX_DEPTH) != NULL);
  OC_CHECK(parse_n(buf, 256, 0) != NULL); /* <= 0 means the default */
  memset(buf, '[', 129);
  memset(buf + 129, ']', 129);
  expect_fail_n(buf, 258, OC_JSON_DEFAULT_MAX_DEPTH, "nesting deeper than 128", 128, __LINE__);
  OC_CHECK(parse_n("[1]", 3, 1) != NULL);
  OC_CHECK(parse_n("1", 1, 1) != NULL);
  expect_fail_n("[[1]]", 5, 1, "nesting deeper than 1", 1, __LINE__);
  expect_fail_n("{\"a\":{}}", 8, 1, "nesting deeper than 1", 5, __LINE__);
  /* siblings do not add depth */
  OC_CHECK(parse_n("[[1],[2],[[3]],{\"a\":[4]}]", 25, 3) != NULL);
  cleanup();
}

/* Parses and serializes 200,000-deep nesting on a thread with a 256 KiB stack: a parser
 * or serializer that recursed per level would overflow it. */
typedef struct {
  const char *doc;
  size_t len;
  int ok;
} deep_job_t;

static void *deep_worker(void *arg) {
  deep_job_t *job = arg;
  oc_arena_t a;
  oc_arena_init(&a, 1 << 20);
  char e[128];
  oc_json_t *v = oc_json_parse(&a, job->doc, job->len, 1000000, e, sizeof(e));
  if (v) {
    oc_buf_t b;
    oc_buf_init(&b);
    oc_json_serialize(&b, v);
    job->ok = b.len == job->len && memcmp(b.data, job->doc, b.len) == 0;
    oc_buf_deinit(&b);
  }
  oc_arena_deinit(&a);
  return NULL;
}

static void test_depth_small_stack(void) {
  /* objects and arrays alternating: {"":[{"":[ ... 0 ... ]}]} */
  size_t n = 200000, k = 0;
  char *doc = malloc(n * 5 + 2);
  for (size_t i = 0; i < n; i++) {
    if (i % 2 == 0) {
      memcpy(doc + k, "{\"\":", 4);
      k += 4;
    } else {
      doc[k++] = '[';
    }
  }
  doc[k++] = '0';
  for (size_t i = n; i-- > 0;)
    doc[k++] = i % 2 == 0 ? '}' : ']';
  deep_job_t job = {doc, k, 0};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t th;
  int rc = pthread_create(&th, &attr, deep_worker, &job);
  OC_CHECK_INT(rc, 0);
  if (rc == 0) pthread_join(th, NULL);
  pthread_attr_destroy(&attr);
  OC_CHECK(job.ok);
  free(doc);
}

/* ---- numbers ----------------------------------------------------------------------- */

static void test_numbers(void) {
  static const char *good[] = {"0",
                               "-0",
                               "1",
                               "-1",
                               "123",
                               "1.5",
                               "-0.0",
                               "0.001",
                               "1e5",
                               "1E5",
                               "1e+5",
                               "1e-5",
                               "1E-05",
                               "-0.0e0",
                               "123.456e-789",
                               "1e400",
                               "9223372036854775808",
                               "-12345678901234567890123"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    oc_json_t *v = parse(good[i]);
    size_t n = strlen(good[i]);
    if (!v || v->type != OC_JSON_NUMBER || v->len != n || memcmp(v->s, good[i], n) != 0) {
      fprintf(stderr, "number %s: %s\n", good[i], v ? "wrong node" : err);
      oc_test_failures_++;
    }
    char wrapped[64];
    snprintf(wrapped, sizeof(wrapped), "[%s,%s]", good[i], good[i]);
    v = parse(wrapped);
    OC_CHECK(v && v->len == 2);
  }
  FAIL("01", "leading zero", 0);
  FAIL("-01", "leading zero", 1);
  FAIL("00", "leading zero", 0);
  FAIL("[00]", "leading zero", 1);
  FAIL("1.", "invalid number", 2);
  FAIL("1.e5", "invalid number", 2);
  FAIL(".5", "unexpected character '.'", 0);
  FAIL("-", "invalid number", 1);
  FAIL("-a", "invalid number", 1);
  FAIL("+1", "unexpected character '+'", 0);
  FAIL("1e", "invalid number", 2);
  FAIL("1e+", "invalid number", 3);
  FAIL("1e+-1", "invalid number", 3);
  FAIL("0x10", "trailing garbage", 1);
  FAIL("NaN", "unexpected character 'N'", 0);
  FAIL("Infinity", "unexpected character 'I'", 0);
  FAIL("-Infinity", "invalid number", 1);
  FAIL("1.5.5", "trailing garbage", 3);
  FAIL("- 1", "invalid number", 1);

  int64_t i64;
  double d;
  OC_CHECK(oc_json_int64(parse("42"), &i64) && i64 == 42);
  OC_CHECK(oc_json_int64(parse("-0"), &i64) && i64 == 0);
  OC_CHECK(oc_json_int64(parse("9223372036854775807"), &i64) && i64 == INT64_MAX);
  OC_CHECK(oc_json_int64(parse("-9223372036854775808"), &i64) && i64 == INT64_MIN);
  OC_CHECK(!oc_json_int64(parse("9223372036854775808"), &i64));
  OC_CHECK(!oc_json_int64(parse("-9223372036854775809"), &i64));
  OC_CHECK(!oc_json_int64(parse("99999999999999999999999"), &i64));
  OC_CHECK(oc_json_int64(parse("1.0"), &i64) && i64 == 1);
  OC_CHECK(oc_json_int64(parse("2e3"), &i64) && i64 == 2000);
  OC_CHECK(!oc_json_int64(parse("1.5"), &i64));
  OC_CHECK(!oc_json_int64(parse("1e300"), &i64));
  OC_CHECK(!oc_json_int64(parse("\"1\""), &i64));
  OC_CHECK(!oc_json_int64(NULL, &i64));
  OC_CHECK(oc_json_double(parse("1.5"), &d) && d == 1.5);
  OC_CHECK(oc_json_double(parse("-0"), &d) && d == 0 && signbit(d));
  OC_CHECK(oc_json_double(parse("1e-5"), &d) && fabs(d - 1e-5) < 1e-20);
  OC_CHECK(oc_json_double(parse("12345678901234567890"), &d) && d == 12345678901234567890.0);
  OC_CHECK(!oc_json_double(parse("1e400"), &d));
  OC_CHECK(!oc_json_double(parse("true"), &d));
  /* a literal longer than the conversion's stack buffer */
  char longnum[300];
  memset(longnum, '1', 299);
  longnum[299] = '\0';
  OC_CHECK(oc_json_double(parse(longnum), &d) && d > 1e298 && d < 1.2e299);
  /* number followed directly by the closing bracket at the very end of input (no NUL) */
  OC_CHECK(parse_n("[-12.5e3]", 9, 0) != NULL);
  OC_CHECK(parse_n("-12.5e3", 7, 0) != NULL);
  cleanup();
}

/* ---- lookups ----------------------------------------------------------------------- */

static const char *cloudtrail =
    "{\"Records\":[{\"eventName\":\"ConsoleLogin\",\"userIdentity\":{\"type\":\"Root\","
    "\"sessionContext\":{\"attributes\":{\"mfaAuthenticated\":\"false\"}}},"
    "\"resources\":[{\"ARN\":\"arn:aws:s3:::b\"},{\"ARN\":\"arn:aws:s3:::c\"}]},"
    "{\"eventName\":\"GetObject\"}],\"10\":\"ten\",\"a.b\":1}";

static void test_paths(void) {
  oc_json_t *v = parse(cloudtrail);
  OC_CHECK(v != NULL);
  OC_CHECK(str_is(oc_json_path(v, "Records.0.eventName"), "ConsoleLogin", 12));
  OC_CHECK(str_is(oc_json_path(v, "Records.1.eventName"), "GetObject", 9));
  OC_CHECK(oc_json_path(v, "Records.2.eventName") == NULL);
  OC_CHECK(str_is(oc_json_path(v, "Records[0].eventName"), "ConsoleLogin", 12));
  OC_CHECK(
      str_is(oc_json_path(v, "Records.0.userIdentity.sessionContext.attributes.mfaAuthenticated"),
             "false", 5));
  OC_CHECK(str_is(oc_json_path(v, "Records[0].resources[1].ARN"), "arn:aws:s3:::c", 14));
  OC_CHECK(str_is(oc_json_path(v, "Records.0.resources.1.ARN"), "arn:aws:s3:::c", 14));
  OC_CHECK(oc_json_path(v, "Records[0][0]") == NULL); /* object is not indexable */
  OC_CHECK(oc_json_path(v, "Records[0].resources[2]") == NULL);
  OC_CHECK(oc_json_path(v, "Records") && oc_json_path(v, "Records")->type == OC_JSON_ARRAY);
  OC_CHECK(oc_json_path(v, "") == v);
  /* a digit segment on an object is a key */
  OC_CHECK(str_is(oc_json_path(v, "10"), "ten", 3));
  /* malformed paths */
  OC_CHECK(oc_json_path(v, "Records..0") == NULL);
  OC_CHECK(oc_json_path(v, "Records.") == NULL);
  OC_CHECK(oc_json_path(v, ".Records") == NULL);
  OC_CHECK(oc_json_path(v, "Records[0") == NULL);
  OC_CHECK(oc_json_path(v, "Records[x]") == NULL);
  OC_CHECK(oc_json_path(v, "Records[]") == NULL);
  OC_CHECK(oc_json_path(v, "Records[-1]") == NULL);
  OC_CHECK(oc_json_path(v, "Records[0]eventName") == NULL);
  OC_CHECK(oc_json_path(v, "Records.99999999999999999999") == NULL);
  OC_CHECK(oc_json_path(v, "missing.x") == NULL);
  OC_CHECK(oc_json_path(v, "Records.0.eventName.x") == NULL); /* through a string */
  OC_CHECK(oc_json_path(NULL, "a") == NULL);
  /* a key with a dot cannot be reached by path but can by get */
  OC_CHECK(oc_json_path(v, "a.b") == NULL);
  OC_CHECK(oc_json_get(v, "a.b") != NULL);
  /* root array */
  v = parse("[[10,11],[20,{\"b\":\"x\"}]]");
  OC_CHECK(oc_json_path(v, "[1][0]") && oc_json_path(v, "[1][0]")->s[0] == '2');
  OC_CHECK(oc_json_path(v, "0.1") && memcmp(oc_json_path(v, "0.1")->s, "11", 2) == 0);
  OC_CHECK(str_is(oc_json_path(v, "1[1].b"), "x", 1));
  OC_CHECK(str_is(oc_json_path(v, "[1].1.b"), "x", 1));
  cleanup();
}

static void test_get_ci(void) {
  oc_json_t *v = parse("{\"Name\":1,\"name\":2,\"EVENTNAME\":3,\"\xc3\x89t\xc3\xa9\":4}");
  OC_CHECK(v != NULL);
  const oc_json_t *r;
  /* exact match wins even when a case-insensitive one comes first */
  r = oc_json_get_ci(v, "name", 4);
  OC_CHECK(r && r->s[0] == '2');
  r = oc_json_get_ci(v, "Name", 4);
  OC_CHECK(r && r->s[0] == '1');
  /* no exact match: the first case-insensitive one */
  r = oc_json_get_ci(v, "NAME", 4);
  OC_CHECK(r && r->s[0] == '1');
  r = oc_json_get_ci(v, "eventName", 9);
  OC_CHECK(r && r->s[0] == '3');
  OC_CHECK(oc_json_get(v, "eventName") == NULL);
  OC_CHECK(oc_json_get_ci(v, "eventNam", 8) == NULL);
  OC_CHECK(oc_json_get_ci(v, "names", 5) == NULL);
  /* ASCII only: non-ASCII bytes must match exactly */
  r = oc_json_get_ci(v, "\xc3\x89T\xc3\xa9", 5);
  OC_CHECK(r && r->s[0] == '4');
  OC_CHECK(oc_json_get_ci(v, "\xc3\xa9t\xc3\xa9", 5) == NULL);
  /* key_len is honoured: "namex" with length 4 is "name" */
  r = oc_json_get_ci(v, "namex", 4);
  OC_CHECK(r && r->s[0] == '2');
  OC_CHECK(oc_json_getn(v, "Namex", 4) && oc_json_getn(v, "Namex", 4)->s[0] == '1');
  OC_CHECK(oc_json_get_ci(parse("[1]"), "a", 1) == NULL);
  OC_CHECK(oc_json_get_ci(NULL, "a", 1) == NULL);
  cleanup();
}

/* ---- serialization ----------------------------------------------------------------- */

static void test_serialize(void) {
  oc_json_t *v = parse(
      " { \"a\" : [ 1 , -0 , 1.5e3 , true , false , null ] , \"b\" : { } ,"
      " \"c\" : [ ] , \"d\" : \"x\\ny\" , \"\" : \"\" } ");
  char *s = ser(v);
  OC_CHECK_STR(s,
               "{\"a\":[1,-0,1.5e3,true,false,null],\"b\":{},\"c\":[],\"d\":\"x\\ny\",\"\":\"\"}");
  free(s);
  /* a member subtree serializes without its key */
  s = ser(oc_json_get(v, "a"));
  OC_CHECK_STR(s, "[1,-0,1.5e3,true,false,null]");
  free(s);
  s = ser(oc_json_get(v, "d"));
  OC_CHECK_STR(s, "\"x\\ny\"");
  free(s);
  s = ser(NULL);
  OC_CHECK_STR(s, "null");
  free(s);
  /* escapes come out canonical: \/ -> /, \u0041 -> A, pairs -> raw UTF-8 */
  v = parse("[\"\\/\\u0041\\ud83d\\ude00\\u0001\\u001f\\u007f\\b\\f\\t\\r\"]");
  s = ser(v);
  OC_CHECK_STR(s, "[\"/A\xf0\x9f\x98\x80\\u0001\\u001f\x7f\\b\\f\\t\\r\"]");
  free(s);
  /* appends to what is already in the buffer */
  oc_buf_t b;
  oc_buf_init(&b);
  oc_buf_puts(&b, "x=");
  oc_json_serialize(&b, parse("{\"k\":[1,2]}"));
  OC_CHECK_STR(b.data, "x={\"k\":[1,2]}");
  OC_CHECK_INT(b.len, 13);
  oc_buf_deinit(&b);
  cleanup();
}

static void test_round_trip(void) {
  ROUND_TRIP("null");
  ROUND_TRIP("\"\"");
  ROUND_TRIP("-0.0e-0");
  ROUND_TRIP("[]");
  ROUND_TRIP("{}");
  ROUND_TRIP(cloudtrail);
  ROUND_TRIP("{\"k\\u0000\\\"\":\"v\\u0000\\\\\",\"\xe2\x82\xac\":[\"\\ud83d\\ude00\"]}");
  ROUND_TRIP(" [ {\"a\" :{\"b\":[[[ ]]],\"c\":\"\\t\\u001b\"}}, 1e-7, \"\\u2028\" ] ");
  ROUND_TRIP("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}");
  ROUND_TRIP(
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
      "1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
  /* every control character and every escape inside a string */
  char s[200];
  size_t n = 0;
  s[n++] = '[';
  s[n++] = '"';
  for (int c = 0; c < 0x20; c++)
    n += (size_t)snprintf(s + n, sizeof(s) - n, "\\u%04x", c);
  s[n++] = '"';
  s[n++] = ']';
  round_trip_n(s, n, __LINE__);
  cleanup();
}

/* Deterministic mutation fuzzing: whatever the parser accepts must round-trip, and
 * nothing may crash or read out of bounds. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void test_mutations(void) {
  static const char *seeds[] = {
      "{\"a\":[1,2,{\"b\":\"c\\n\\u00e9\"}],\"d\":-1.5e3,\"e\":true,\"f\":null}",
      "[\"\\ud83d\\ude00\",\"\xe2\x82\xac\",[],{},false]",
      "{\"Records\":[{\"eventName\":\"x\",\"n\":0}]}",
  };
  static const char bytes[] =
      "{}[]\":,\\u0123456789eE+-.tfnrlsa \t\n\x01\x7f\x80\xbf\xc3\xe2\xed"
      "\xf0\xf4\xff";
  char buf[256];
  int accepted = 0;
  for (int iter = 0; iter < 30000; iter++) {
    const char *seed = seeds[iter % 3];
    size_t n = strlen(seed);
    memcpy(buf, seed, n);
    int edits = 1 + (int)(rng() % 4);
    for (int e = 0; e < edits; e++) {
      size_t pos = n ? rng() % n : 0;
      char b = bytes[rng() % (sizeof(bytes) - 1)];
      switch (rng() % 3) {
        case 0:
          buf[pos] = b;
          break;
        case 1:
          if (n < sizeof(buf) - 1) {
            memmove(buf + pos + 1, buf + pos, n - pos);
            buf[pos] = b;
            n++;
          }
          break;
        default:
          if (n) {
            memmove(buf + pos, buf + pos + 1, n - pos - 1);
            n--;
          }
      }
    }
    oc_json_t *v = parse_n(buf, n, 8);
    if (v) {
      accepted++;
      round_trip_n(buf, n, __LINE__);
      /* the input was valid UTF-8 wherever it was accepted */
      OC_CHECK_INT(oc_utf8_valid_prefix(buf, n), n);
    } else {
      OC_CHECK(strstr(err, " at byte ") != NULL);
    }
    if (ncopies > MAX_COPIES - 8) cleanup();
  }
  OC_CHECK(accepted > 100); /* the mutations do not only produce garbage */
  cleanup();
}

/* ---- write_string ------------------------------------------------------------------ */

static void test_write_string(void) {
  char *s;
  s = wstr("plain", 5);
  OC_CHECK_STR(s, "\"plain\"");
  free(s);
  s = wstr("", 0);
  OC_CHECK_STR(s, "\"\"");
  free(s);
  s = wstr("q\"b\\n\nr\rt\tb\bf\f", 14);
  OC_CHECK_STR(s, "\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f\"");
  free(s);
  s = wstr("\x01\x1f\x00\x0b\x7f", 5);
  OC_CHECK_STR(s, "\"\\u0001\\u001f\\u0000\\u000b\x7f\"");
  free(s);
  /* valid UTF-8 is kept as it is */
  s = wstr("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
  OC_CHECK_STR(s, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
  free(s);
  /* invalid UTF-8: one U+FFFD per bad byte, the rest kept */
  s = wstr(
      "a\xff"
      "b",
      3);
  OC_CHECK_STR(s,
               "\"a\xef\xbf\xbd"
               "b\"");
  free(s);
  s = wstr("\xc0\x80", 2); /* overlong NUL */
  OC_CHECK_STR(s, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  free(s);
  s = wstr("\xed\xa0\x80", 3); /* encoded surrogate */
  OC_CHECK_STR(s, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
  free(s);
  s = wstr("x\xe2\x82", 3); /* truncated at the end */
  OC_CHECK_STR(s, "\"x\xef\xbf\xbd\xef\xbf\xbd\"");
  free(s);
  s = wstr("\xe2\x82\xac\xe2\x82", 5);
  OC_CHECK_STR(s, "\"\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd\"");
  free(s);
  /* all escapes: the output grows to 6x and stays correct */
  char ctl[1000];
  memset(ctl, 0x01, sizeof(ctl));
  s = wstr(ctl, sizeof(ctl));
  OC_CHECK(s && strlen(s) == 6 * sizeof(ctl) + 2);
  OC_CHECK(s && memcmp(s + 1, "\\u0001\\u0001", 12) == 0 && s[6 * sizeof(ctl) + 1] == '"');
  free(s);
  memset(ctl, 0xff, sizeof(ctl));
  s = wstr(ctl, sizeof(ctl));
  OC_CHECK(s && strlen(s) == 3 * sizeof(ctl) + 2);
  free(s);
  /* the output always parses back to the input (or its U+FFFD-repaired form) */
  for (int iter = 0; iter < 3000; iter++) {
    char in[64];
    size_t n = rng() % sizeof(in);
    for (size_t i = 0; i < n; i++)
      in[i] = (char)(rng() % 4 == 0 ? rng() : 'a' + rng() % 26);
    s = wstr(in, n);
    oc_json_t *v = s ? parse_n(s, strlen(s), 0) : NULL;
    OC_CHECK(v && v->type == OC_JSON_STRING);
    if (v && oc_utf8_valid_prefix(in, n) == n) OC_CHECK(str_is(v, in, n));
    free(s);
    if (ncopies > MAX_COPIES - 8) cleanup();
  }
  /* appends, and the buffer stays NUL-terminated */
  oc_buf_t b;
  oc_buf_init(&b);
  oc_buf_puts(&b, "k=");
  oc_json_write_string(&b, "v\n", 2);
  OC_CHECK_STR(b.data, "k=\"v\\n\"");
  OC_CHECK_INT(b.len, 7);
  oc_buf_deinit(&b);
  cleanup();
}

static void test_errors_without_errstr(void) {
  /* errstr is optional */
  OC_CHECK(oc_json_parse(&arena, exact_copy("[1,", 3), 3, 0, NULL, 0) == NULL);
  /* a short errstr is truncated, never overflowed */
  char small[8];
  OC_CHECK(oc_json_parse(&arena, exact_copy("[1,", 3), 3, 0, small, sizeof(small)) == NULL);
  OC_CHECK_INT(strlen(small), 7);
  /* NULL text with length 0 is an empty document */
  OC_CHECK(oc_json_parse(&arena, NULL, 0, 0, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "unexpected end of input") != NULL);
  cleanup();
}

static void test_arena_pressure(void) {
  /* a tiny arena: nodes spill into many chunks and stay intact */
  oc_arena_t small;
  oc_arena_init(&small, 256);
  char doc[20000];
  size_t n = 0;
  doc[n++] = '[';
  for (int i = 0; i < 2000; i++)
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%d,", i);
  doc[n - 1] = ']';
  oc_json_t *v = oc_json_parse(&small, exact_copy(doc, n), n, 0, err, sizeof(err));
  OC_CHECK(v && v->len == 2000);
  int64_t x = -1;
  OC_CHECK(oc_json_int64(oc_json_at(v, 1999), &x) && x == 1999);
  char *s = ser(v);
  OC_CHECK(s && strlen(s) == n && memcmp(s, doc, n) == 0);
  free(s);
  oc_arena_deinit(&small);
  cleanup();
}

int main(void) {
  oc_arena_init(&arena, 64 * 1024);
  static const oc_test_case_t cases[] = {
      OC_TEST(test_scalars),
      OC_TEST(test_containers),
      OC_TEST(test_syntax_errors),
      OC_TEST(test_escapes),
      OC_TEST(test_bad_escapes),
      OC_TEST(test_control_chars),
      OC_TEST(test_invalid_utf8),
      OC_TEST(test_utf8_exhaustive),
      OC_TEST(test_long_strings),
      OC_TEST(test_depth),
      OC_TEST(test_depth_small_stack),
      OC_TEST(test_numbers),
      OC_TEST(test_paths),
      OC_TEST(test_get_ci),
      OC_TEST(test_serialize),
      OC_TEST(test_round_trip),
      OC_TEST(test_mutations),
      OC_TEST(test_write_string),
      OC_TEST(test_errors_without_errstr),
      OC_TEST(test_arena_pressure),
  };
  int rc = oc_test_main(cases, sizeof(cases) / sizeof(cases[0]));
  cleanup();
  oc_arena_deinit(&arena);
  return rc;
}
