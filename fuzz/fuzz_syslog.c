/* fuzz_syslog.c: libFuzzer target for the native syslog parsers
 * (services/log-processor/syslog.c), which read lines straight from outside senders.
 * Build and run with fuzz/run.sh 240 syslog.
 *
 * Every input is parsed as RFC 5424 and as RFC 3164 (with a fixed reference time and one
 * taken from the input's first bytes, so extreme references are tried too). A rejection
 * must come with a byte offset; an accepted line must give a well-formed object whose
 * numbers agree (priority = facility * 8 + severity, all within range), whose timestamp
 * reads back as RFC 3339, and whose serialization parses back as JSON with the same
 * members. Any disagreement aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/timeutil.h"
#include "services/log-processor/syslog.h"

#define CHECK(c)                                                                   \
  do {                                                                             \
    if (!(c)) {                                                                    \
      fprintf(stderr, "fuzz_syslog: check failed at line %d: %s\n", __LINE__, #c); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

static int64_t member_int(const oc_json_t *obj, const char *key) {
  const oc_json_t *v = oc_json_get(obj, key);
  int64_t i = -1;
  CHECK(v && v->type == OC_JSON_NUMBER);
  CHECK(oc_json_int64(v, &i));
  return i;
}

static size_t count(const oc_json_t *v) {
  size_t n = 0;
  for (const oc_json_t *c = v->child; c; c = c->next)
    n++;
  return n;
}

static void check_object(const oc_json_t *v, const char *line, size_t size, bool is5424,
                         oc_arena_t *arena, oc_buf_t *b) {
  CHECK(v->type == OC_JSON_OBJECT && count(v) == v->len);
  for (const oc_json_t *c = v->child; c; c = c->next) {
    CHECK(c->key && c->key_len > 0);
    CHECK(c->type == OC_JSON_NUMBER || c->type == OC_JSON_STRING || c->type == OC_JSON_OBJECT);
    if (c->type == OC_JSON_STRING) CHECK(c->len <= size + 32);
    /* member names are unique (they become columns) */
    CHECK(oc_json_getn(v, c->key, c->key_len) == c);
  }
  int64_t pri = member_int(v, "priority"), fac = member_int(v, "facility"),
          sev = member_int(v, "severity");
  CHECK(pri >= 0 && pri <= 191 && fac == pri / 8 && sev == pri % 8);
  if (is5424) {
    int64_t ver = member_int(v, "version");
    CHECK(ver >= 1 && ver <= 999);
  }
  const oc_json_t *ts = oc_json_get(v, "timestamp");
  if (!is5424) CHECK(ts != NULL); /* RFC 3164 requires one */
  if (ts) {
    int64_t us;
    CHECK(ts->type == OC_JSON_STRING && oc_time_parse_rfc3339(ts->s, ts->len, &us));
    if (!is5424) CHECK(ts->len == 27 && ts->s[26] == 'Z');
  }
  const oc_json_t *sd = oc_json_get(v, "structured_data");
  if (sd) {
    CHECK(is5424 && sd->type == OC_JSON_OBJECT && count(sd) == sd->len);
    CHECK(sd->len >= 1 && sd->len <= OC_SYSLOG_MAX_SD_ELEMENTS);
    for (const oc_json_t *e = sd->child; e; e = e->next) {
      CHECK(e->type == OC_JSON_OBJECT && e->len <= OC_SYSLOG_MAX_SD_PARAMS);
      CHECK(oc_json_getn(sd, e->key, e->key_len) == e);
      for (const oc_json_t *p = e->child; p; p = p->next) {
        CHECK(p->type == OC_JSON_STRING && p->key_len >= 1 && p->key_len <= 32);
        CHECK(oc_json_getn(e, p->key, p->key_len) == p);
      }
    }
  }
  /* strings point into the line or into the arena, never past the line's end */
  const oc_json_t *msg = oc_json_get(v, "message");
  if (msg) {
    CHECK(msg->type == OC_JSON_STRING && msg->len > 0);
    CHECK(msg->s >= line && msg->s + msg->len <= line + size);
  }

  oc_buf_reset(b);
  oc_json_serialize(b, v);
  CHECK(oc_buf_ok(b));
  char err[160];
  oc_json_t *w = oc_json_parse(arena, b->data, b->len, 8, err, sizeof(err));
  CHECK(w && w->type == OC_JSON_OBJECT && w->len == v->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static oc_arena_t arena;
  static oc_buf_t b;
  static bool ready;
  if (!ready) {
    oc_arena_init(&arena, 512);
    oc_buf_init(&b);
    ready = true;
  }
  /* an exact-size copy so reads past the end are caught */
  char *line = malloc(size ? size : 1);
  if (!line) abort();
  memcpy(line, data, size);
  char err[256];

  oc_json_t *v = oc_syslog_parse_rfc5424(&arena, line, size, err, sizeof(err));
  if (v)
    check_object(v, line, size, true, &arena, &b);
  else
    CHECK(strncmp(err, "rfc5424: ", 9) == 0 && strstr(err, " at byte ") != NULL);

  int64_t refs[2] = {INT64_C(1795883860000000), 0};
  memcpy(&refs[1], data, size < 8 ? size : 8);
  for (int k = 0; k < 2; k++) {
    v = oc_syslog_parse_rfc3164(&arena, line, size, refs[k], err, sizeof(err));
    if (v)
      check_object(v, line, size, false, &arena, &b);
    else
      CHECK(strncmp(err, "rfc3164: ", 9) == 0 && strstr(err, " at byte ") != NULL);
  }
  free(line);
  oc_arena_reset(&arena);
  return 0;
}
