/* test_timeutil.c: RFC 3339 parsing and Panther's timestamp format (common/timeutil.c). */
#include "common/timeutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oc_test.h"

/* 2026-11-28T16:37:40Z */
#define T0 INT64_C(1795883860000000)

static bool parse(const char *s, int64_t *us) {
  /* exact-size heap copy without a NUL: the parser must honour n */
  size_t n = strlen(s);
  char *c = malloc(n ? n : 1);
  if (!c) abort();
  c[0] = 'x'; /* an empty input still hands the parser initialised (unread) memory */
  memcpy(c, s, n);
  bool ok = oc_time_parse_rfc3339(c, n, us);
  free(c);
  return ok;
}

static void expect(const char *s, int64_t want, int line) {
  int64_t got = 0;
  if (!parse(s, &got)) {
    fprintf(stderr, "test_timeutil.c:%d: \"%s\" did not parse\n", line, s);
    oc_test_failures_++;
  } else if (got != want) {
    fprintf(stderr, "test_timeutil.c:%d: \"%s\": %lld != %lld\n", line, s, (long long)got,
            (long long)want);
    oc_test_failures_++;
  }
}
#define EXPECT(s, want) expect(s, want, __LINE__)

static void reject(const char *s, int line) {
  int64_t got = 12345;
  if (parse(s, &got)) {
    fprintf(stderr, "test_timeutil.c:%d: \"%s\" parsed as %lld\n", line, s, (long long)got);
    oc_test_failures_++;
  }
}
#define REJECT(s) reject(s, __LINE__)

static void test_parse_variants(void) {
  EXPECT("2026-11-28T16:37:40Z", T0);
  EXPECT("2026-11-28t16:37:40z", T0);
  EXPECT("2026-11-28 16:37:40Z", T0);
  EXPECT("2026-11-28T16:37:40", T0); /* no zone: UTC */
  EXPECT("2026-11-28T16:37:40+00:00", T0);
  EXPECT("2026-11-28T16:37:40-00:00", T0);
  EXPECT("2026-11-28T18:37:40+02:00", T0);
  EXPECT("2026-11-28T18:37:40+0200", T0);
  EXPECT("2026-11-28T11:07:40-05:30", T0);
  EXPECT("2026-11-29T02:37:40+10:00", T0); /* crosses midnight */
  EXPECT("2026-11-28T04:37:40-12:00", T0);
  EXPECT("2026-11-28T16:37:40+23:59", T0 - (23 * 3600 + 59 * 60) * INT64_C(1000000));
  /* fractions of 0..9 digits, truncated to microseconds */
  EXPECT("2026-11-28T16:37:40.1Z", T0 + 100000);
  EXPECT("2026-11-28T16:37:40.12Z", T0 + 120000);
  EXPECT("2026-11-28T16:37:40.123Z", T0 + 123000);
  EXPECT("2026-11-28T16:37:40.1234Z", T0 + 123400);
  EXPECT("2026-11-28T16:37:40.12345Z", T0 + 123450);
  EXPECT("2026-11-28T16:37:40.123456Z", T0 + 123456);
  EXPECT("2026-11-28T16:37:40.1234567Z", T0 + 123456);
  EXPECT("2026-11-28T16:37:40.12345678Z", T0 + 123456);
  EXPECT("2026-11-28T16:37:40.123456789Z", T0 + 123456);
  EXPECT("2026-11-28T16:37:40.999999999Z", T0 + 999999);
  EXPECT("2026-11-28T16:37:40.000000001Z", T0);
  EXPECT("2026-11-28T16:37:40.5+01:00", T0 - 3600 * INT64_C(1000000) + 500000);
  EXPECT("2026-11-28 16:37:40.123456", T0 + 123456);
  /* epoch and before */
  EXPECT("1970-01-01T00:00:00Z", 0);
  EXPECT("1970-01-01T00:00:00.000001Z", 1);
  EXPECT("1969-12-31T23:59:59Z", -1000000);
  EXPECT("1969-12-31T23:59:59.999999Z", -1);
  EXPECT("1970-01-01T01:00:00+01:00", 0);
  EXPECT("1900-01-01T00:00:00Z", INT64_C(-2208988800000000));
  EXPECT("0001-01-01T00:00:00Z", INT64_C(-62135596800000000));
  EXPECT("9999-12-31T23:59:59.999999Z", INT64_C(253402300799999999));
  /* leap days */
  EXPECT("2024-02-29T00:00:00Z", INT64_C(1709164800000000));
  EXPECT("2000-02-29T00:00:00Z", INT64_C(951782400000000));
}

static void test_parse_rejects(void) {
  REJECT("");
  REJECT("2026");
  REJECT("2026-11-28");
  REJECT("2026-11-28T");
  REJECT("2026-11-28T16:37");
  REJECT("2026-11-28T16:37:4");
  REJECT("2026-13-01T00:00:00Z"); /* month 13 */
  REJECT("2026-00-01T00:00:00Z");
  REJECT("2026-01-00T00:00:00Z");
  REJECT("2026-01-32T00:00:00Z");
  REJECT("2026-02-30T00:00:00Z"); /* Feb 30 */
  REJECT("2026-02-29T00:00:00Z"); /* not a leap year */
  REJECT("2100-02-29T00:00:00Z"); /* century, not a leap year */
  REJECT("2026-04-31T00:00:00Z");
  REJECT("2026-11-28T24:00:00Z");
  REJECT("2026-11-28T16:60:00Z");
  REJECT("2026-11-28T16:37:60Z"); /* no leap seconds */
  REJECT("2026-11-28T16:37:40.Z");
  REJECT("2026-11-28T16:37:40.1234567890Z"); /* 10 fraction digits */
  REJECT("2026-11-28T16:37:40.Z");
  REJECT("2026-11-28T16:37:40ZZ");
  REJECT("2026-11-28T16:37:40Z ");
  REJECT(" 2026-11-28T16:37:40Z");
  REJECT("2026-11-28T16:37:40+2:00");
  REJECT("2026-11-28T16:37:40+02");
  REJECT("2026-11-28T16:37:40+02:0");
  REJECT("2026-11-28T16:37:40+24:00");
  REJECT("2026-11-28T16:37:40+02:60");
  REJECT("2026-11-28T16:37:40 +02:00");
  REJECT("2026-11-28X16:37:40Z");
  REJECT("2026/11/28T16:37:40Z");
  REJECT("26-11-28T16:37:40Z");
  REJECT("2026-1-28T16:37:40Z");
  REJECT("2026-11-28T16:37:40UTC");
  REJECT("2026-11-2aT16:37:40Z");
  REJECT("-026-11-28T16:37:40Z");
  REJECT("1795883860");
  int64_t us;
  OC_CHECK(!oc_time_parse_rfc3339(NULL, 0, &us));
  /* n is honoured: a valid prefix of a longer buffer parses, the whole does not */
  const char *s = "2026-11-28T16:37:40Zjunk";
  OC_CHECK(oc_time_parse_rfc3339(s, 20, &us) && us == T0);
  OC_CHECK(!oc_time_parse_rfc3339(s, strlen(s), &us));
  OC_CHECK(!oc_time_parse_rfc3339(s, 19 - 1, &us));
}

static void test_format_panther(void) {
  char out[32];
  oc_time_format_panther(T0 + 123456, out);
  OC_CHECK_STR(out, "2026-11-28 16:37:40.123456000");
  OC_CHECK_INT(strlen(out), 29);
  oc_time_format_panther(0, out);
  OC_CHECK_STR(out, "1970-01-01 00:00:00.000000000");
  oc_time_format_panther(-1, out);
  OC_CHECK_STR(out, "1969-12-31 23:59:59.999999000");
  oc_time_format_panther(-1000000, out);
  OC_CHECK_STR(out, "1969-12-31 23:59:59.000000000");
  oc_time_format_panther(-1000001, out);
  OC_CHECK_STR(out, "1969-12-31 23:59:58.999999000");
  oc_time_format_panther(INT64_C(1709164800000000), out);
  OC_CHECK_STR(out, "2024-02-29 00:00:00.000000000");
  oc_time_format_panther(INT64_C(-2208988800000000), out);
  OC_CHECK_STR(out, "1900-01-01 00:00:00.000000000");
  oc_time_format_panther(INT64_C(951868799999999), out);
  OC_CHECK_STR(out, "2000-02-29 23:59:59.999999000");
  /* out of the 4-digit year range: clamped, never longer than 29 characters */
  oc_time_format_panther(INT64_MAX, out);
  OC_CHECK_STR(out, "9999-12-31 23:59:59.999999000");
  oc_time_format_panther(INT64_MIN, out);
  OC_CHECK_STR(out, "0000-01-01 00:00:00.000000000");
}

static void test_format_rfc3339(void) {
  char out[32];
  oc_time_format_rfc3339(T0 + 123456, out);
  OC_CHECK_STR(out, "2026-11-28T16:37:40.123456Z");
  oc_time_format_rfc3339(-1, out);
  OC_CHECK_STR(out, "1969-12-31T23:59:59.999999Z");
  /* format -> parse is the identity over a wide range of instants */
  int64_t us = INT64_C(-62135596800000000);
  int bad = 0;
  for (int i = 0; i < 19000; i++) {
    int64_t back;
    oc_time_format_rfc3339(us, out);
    if (!oc_time_parse_rfc3339(out, strlen(out), &back) || back != us) bad++;
    char p[32];
    oc_time_format_panther(us, p);
    /* Panther's form parses too, with its nanosecond digits */
    if (!oc_time_parse_rfc3339(p, strlen(p), &back) || back != us) bad++;
    us += INT64_C(15778463123457); /* ~half a year and some odd microseconds */
  }
  OC_CHECK_INT(bad, 0);
}

static void test_utc_fields(void) {
  int y, m, d, h;
  oc_time_utc_fields(T0, &y, &m, &d, &h);
  OC_CHECK(y == 2026 && m == 11 && d == 28 && h == 16);
  oc_time_utc_fields(0, &y, &m, &d, &h);
  OC_CHECK(y == 1970 && m == 1 && d == 1 && h == 0);
  oc_time_utc_fields(-1, &y, &m, &d, &h);
  OC_CHECK(y == 1969 && m == 12 && d == 31 && h == 23);
  oc_time_utc_fields(INT64_C(1709164800000000) + 3600 * INT64_C(1000000) * 23, &y, &m, &d, &h);
  OC_CHECK(y == 2024 && m == 2 && d == 29 && h == 23);
  oc_time_utc_fields(T0, NULL, NULL, NULL, &h); /* any field may be skipped */
  OC_CHECK_INT(h, 16);
}

static void test_clocks(void) {
  int64_t now = oc_now_us();
  OC_CHECK(now > INT64_C(1704067200000000)); /* after 2024-01-01 */
  int64_t m1 = oc_monotonic_us();
  int64_t m2 = oc_monotonic_us();
  OC_CHECK(m1 > 0 && m2 >= m1);
}

OC_TEST_MAIN(OC_TEST(test_parse_variants), OC_TEST(test_parse_rejects),
             OC_TEST(test_format_panther), OC_TEST(test_format_rfc3339), OC_TEST(test_utc_fields),
             OC_TEST(test_clocks))
