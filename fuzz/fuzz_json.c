/* fuzz_json.c: libFuzzer target for the JSON layer (common/json.c), the parser every
 * event from outside goes through. Build and run with fuzz/run.sh.
 *
 * For every input: parse with a small arena (so nodes spill across many chunks) and a low
 * depth limit; on success, serialize, reparse and require the same tree and the same
 * bytes; exercise the lookups; and check that write_string always yields a JSON string
 * that parses back to the input (or its U+FFFD repair). Any disagreement aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/timeutil.h"

#define CHECK(c)                                                                 \
  do {                                                                           \
    if (!(c)) {                                                                  \
      fprintf(stderr, "fuzz_json: check failed at line %d: %s\n", __LINE__, #c); \
      abort();                                                                   \
    }                                                                            \
  } while (0)

static bool equal(const oc_json_t *a, const oc_json_t *b) {
  /* iterative over siblings, recursive over depth (bounded by the parse limit) */
  for (; a && b; a = a->next, b = b->next) {
    if (a->type != b->type || a->len != b->len) return false;
    if ((a->key == NULL) != (b->key == NULL)) return false;
    if (a->key && (a->key_len != b->key_len || memcmp(a->key, b->key, a->key_len) != 0))
      return false;
    if ((a->type == OC_JSON_STRING || a->type == OC_JSON_NUMBER) && memcmp(a->s, b->s, a->len) != 0)
      return false;
    if (!equal(a->child, b->child)) return false;
  }
  return a == NULL && b == NULL;
}

static size_t count_children(const oc_json_t *v) {
  size_t n = 0;
  for (const oc_json_t *c = v->child; c; c = c->next)
    n++;
  return n;
}

static void check_tree(const oc_json_t *v, int depth) {
  CHECK(depth <= 64);
  CHECK(v->type <= OC_JSON_OBJECT);
  if (v->type == OC_JSON_ARRAY || v->type == OC_JSON_OBJECT) {
    CHECK(count_children(v) == v->len);
    for (const oc_json_t *c = v->child; c; c = c->next) {
      CHECK((v->type == OC_JSON_OBJECT) == (c->key != NULL));
      if (c->key) {
        CHECK(oc_utf8_valid_prefix(c->key, c->key_len) == c->key_len);
        /* lookups find a member with this key (the first one of that name) */
        const oc_json_t *m = oc_json_getn(v, c->key, c->key_len);
        CHECK(m && m->key_len == c->key_len && memcmp(m->key, c->key, c->key_len) == 0);
        CHECK(oc_json_get_ci(v, c->key, c->key_len) == m);
      }
      check_tree(c, depth + 1);
    }
    if (v->type == OC_JSON_ARRAY && v->len) CHECK(oc_json_at(v, v->len - 1) != NULL);
    CHECK(oc_json_at(v, v->len) == NULL);
  } else if (v->type == OC_JSON_STRING) {
    CHECK(oc_utf8_valid_prefix(v->s, v->len) == v->len);
  } else if (v->type == OC_JSON_NUMBER) {
    double d;
    int64_t i;
    CHECK(v->len > 0);
    (void)oc_json_double(v, &d);
    (void)oc_json_int64(v, &i);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static oc_arena_t arena;
  static oc_buf_t b1, b2;
  static bool ready;
  if (!ready) {
    oc_arena_init(&arena, 512);
    oc_buf_init(&b1);
    oc_buf_init(&b2);
    ready = true;
  }
  char err[160];
  const char *text = (const char *)data;

  oc_json_t *v = oc_json_parse(&arena, text, size, 64, err, sizeof(err));
  if (!v) {
    CHECK(strstr(err, " at byte ") != NULL);
  } else {
    CHECK(oc_utf8_valid_prefix(text, size) == size);
    check_tree(v, 0);
    oc_buf_reset(&b1);
    oc_json_serialize(&b1, v);
    CHECK(oc_buf_ok(&b1));
    oc_json_t *w = oc_json_parse(&arena, b1.data, b1.len, 64, err, sizeof(err));
    CHECK(w != NULL);
    CHECK(equal(v, w));
    oc_buf_reset(&b2);
    oc_json_serialize(&b2, w);
    CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
    /* paths built from the input itself: never crash, and "" is the root */
    CHECK(oc_json_path(v, "") == v);
    char path[64];
    size_t n = size < sizeof(path) - 1 ? size : sizeof(path) - 1;
    memcpy(path, text, n);
    path[n] = '\0';
    (void)oc_json_path(v, path);
    (void)oc_json_path(v, "0.a[1].b");
  }

  /* any bytes -> a JSON string that parses, and back to the same bytes when valid */
  oc_buf_reset(&b1);
  oc_json_write_string(&b1, text, size);
  CHECK(oc_buf_ok(&b1));
  oc_json_t *s = oc_json_parse(&arena, b1.data, b1.len, 1, err, sizeof(err));
  CHECK(s && s->type == OC_JSON_STRING);
  if (oc_utf8_valid_prefix(text, size) == size)
    CHECK(s->len == size && memcmp(s->s, text, size) == 0);

  /* the timestamp parser sees outside data too */
  int64_t us;
  if (oc_time_parse_rfc3339(text, size, &us)) {
    char out[32];
    oc_time_format_rfc3339(us, out);
    CHECK(strlen(out) == 27);
  }

  oc_arena_reset(&arena);
  return 0;
}
