/* fuzz_timefmt.c: libFuzzer target for the schema time formats (common/timefmt.c): the
 * layout comes from a schema, the timestamps from outside. Run with fuzz/run.sh 240 timefmt.
 *
 * Input: "<spec>\n<value>". The spec is compiled (a rejection must explain itself); the
 * value is parsed with it under two reference times, and also with every named format.
 * Every accepted time must survive two round trips: written as an integer it reads back
 * with unix_us, and (inside years 0000..9999) written as RFC 3339 it reads back through a
 * compiled "%Y-%m-%dT%H:%M:%S.%fZ" layout and through "rfc3339" as the same instant. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/timeutil.h"

#define CHECK(c)                                                                    \
  do {                                                                              \
    if (!(c)) {                                                                     \
      fprintf(stderr, "fuzz_timefmt: check failed at line %d: %s\n", __LINE__, #c); \
      abort();                                                                      \
    }                                                                               \
  } while (0)

static oc_timefmt_t iso, unix_us;
static oc_timefmt_t named[5];

static void round_trip(int64_t us) {
  char num[32];
  int n = snprintf(num, sizeof(num), "%" PRId64, us);
  int64_t back = 0;
  CHECK(oc_timefmt_parse(&unix_us, num, (size_t)n, 0, &back) && back == us);
  /* years 0000..9999, where the fixed-width formats do not clamp */
  if (us >= INT64_C(-62167219200000000) && us <= INT64_C(253402300799999999)) {
    char text[32];
    oc_time_format_rfc3339(us, text);
    CHECK(oc_timefmt_parse(&iso, text, strlen(text), 0, &back) && back == us);
    CHECK(oc_timefmt_parse(&named[0], text, strlen(text), 0, &back) && back == us);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool ready;
  static const char *const names[5] = {"rfc3339", "unix", "unix_ms", "unix_us", "unix_ns"};
  char err[256];
  if (!ready) {
    CHECK(oc_timefmt_compile(&iso, "%Y-%m-%dT%H:%M:%S.%fZ", err, sizeof(err)));
    CHECK(oc_timefmt_compile(&unix_us, "unix_us", err, sizeof(err)));
    for (int k = 0; k < 5; k++)
      CHECK(oc_timefmt_compile(&named[k], names[k], err, sizeof(err)));
    ready = true;
  }
  const char *nl = memchr(data, '\n', size);
  size_t spec_len = nl ? (size_t)(nl - (const char *)data) : size;
  char spec[256];
  if (spec_len >= sizeof(spec)) spec_len = sizeof(spec) - 1;
  memcpy(spec, data, spec_len);
  spec[spec_len] = '\0';
  size_t off = nl ? (size_t)(nl - (const char *)data) + 1 : size;
  size_t n = size - off;
  char *val = malloc(n ? n : 1); /* exact size: reads past the end are caught */
  if (!val) abort();
  memcpy(val, data + off, n);

  int64_t refs[3] = {INT64_C(1795883860000000), INT64_MIN, 0};
  memcpy(&refs[2], data, size < 8 ? size : 8);
  oc_timefmt_t f;
  err[0] = '\0';
  if (oc_timefmt_compile(&f, spec, err, sizeof(err))) {
    for (int k = 0; k < 3; k++) {
      int64_t us;
      if (oc_timefmt_parse(&f, val, n, refs[k], &us)) round_trip(us);
    }
  } else {
    CHECK(err[0] != '\0');
  }
  /* the whole input as a value of each named format */
  for (int k = 0; k < 5; k++) {
    int64_t us;
    if (oc_timefmt_parse(&named[k], (const char *)data, size, 0, &us)) round_trip(us);
  }
  free(val);
  return 0;
}
