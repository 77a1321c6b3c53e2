/* test_timefmt.c: schema time formats (common/timefmt.c): compile errors, the Unix
 * formats, strftime layouts (Apache, syslog, RFC 1123, 12-hour clocks, day of year), the
 * year rule for layouts without a year, and exact-match rejection. Expected values come
 * from libc's timegm(), not from the code under test. */
#include "common/timefmt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/timeutil.h"
#include "oc_test.h"

#define US INT64_C(1000000)

/* UTC civil time -> microseconds, through libc */
static int64_t utc(int y, int mo, int d, int h, int mi, int s) {
  struct tm tm = {0};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return (int64_t)timegm(&tm) * US;
}

#define T0 utc(2026, 11, 28, 16, 37, 40)

static oc_timefmt_t fmt(const char *spec) {
  oc_timefmt_t f;
  char err[160];
  if (!oc_timefmt_compile(&f, spec, err, sizeof(err))) {
    fprintf(stderr, "test_timefmt.c: \"%s\" did not compile: %s\n", spec, err);
    oc_test_failures_++;
  }
  return f;
}

static bool parse(const char *spec, const char *s, int64_t ref, int64_t *us) {
  oc_timefmt_t f = fmt(spec);
  /* exact-size heap copy without a NUL: the parser must honour n */
  size_t n = strlen(s);
  char *c = malloc(n ? n : 1);
  if (!c) abort();
  c[0] = 'x';
  memcpy(c, s, n);
  bool ok = oc_timefmt_parse(&f, c, n, ref, us);
  free(c);
  return ok;
}

static void expect(const char *spec, const char *s, int64_t ref, int64_t want, int line) {
  int64_t got = 0;
  if (!parse(spec, s, ref, &got)) {
    fprintf(stderr, "test_timefmt.c:%d: \"%s\" did not parse with \"%s\"\n", line, s, spec);
    oc_test_failures_++;
  } else if (got != want) {
    fprintf(stderr, "test_timefmt.c:%d: \"%s\" with \"%s\": %lld != %lld\n", line, s, spec,
            (long long)got, (long long)want);
    oc_test_failures_++;
  }
}
#define EXPECT(spec, s, want) expect(spec, s, T0, want, __LINE__)
#define EXPECT_REF(spec, s, ref, want) expect(spec, s, ref, want, __LINE__)

static void reject(const char *spec, const char *s, int64_t ref, int line) {
  int64_t got = 12345;
  if (parse(spec, s, ref, &got)) {
    fprintf(stderr, "test_timefmt.c:%d: \"%s\" with \"%s\" parsed as %lld\n", line, s, spec,
            (long long)got);
    oc_test_failures_++;
  }
}
#define REJECT(spec, s) reject(spec, s, T0, __LINE__)
#define REJECT_REF(spec, s, ref) reject(spec, s, ref, __LINE__)

static void bad_spec(const char *spec, const char *want_in_err, int line) {
  oc_timefmt_t f;
  char err[200] = "";
  if (oc_timefmt_compile(&f, spec, err, sizeof(err))) {
    fprintf(stderr, "test_timefmt.c:%d: \"%s\" compiled\n", line, spec);
    oc_test_failures_++;
  } else if (!strstr(err, want_in_err)) {
    fprintf(stderr, "test_timefmt.c:%d: \"%s\": error \"%s\" lacks \"%s\"\n", line, spec, err,
            want_in_err);
    oc_test_failures_++;
  }
}
#define BAD_SPEC(spec, want) bad_spec(spec, want, __LINE__)

static void test_compile_errors(void) {
  BAD_SPEC("%Y-%m-%d %Q", "unknown directive %Q");
  BAD_SPEC("%Y-%m-%d %", "lone %");
  BAD_SPEC("", "empty");
  BAD_SPEC("RFC3339", "no % directive"); /* names are case-sensitive: a literal layout */
  BAD_SPEC("unix_s", "no % directive");
  BAD_SPEC("%H:%M:%S %H", "%H sets a field given before");
  BAD_SPEC("%d %b %m", "%m sets a field given before");
  BAD_SPEC("%T %H", "%H sets a field given before");
  BAD_SPEC("%H:%M.%f", "%f without %S");
  BAD_SPEC("%Y %E", "unknown directive %E");
  char longspec[OC_TIMEFMT_MAX_SPEC + 8];
  memset(longspec, '-', sizeof(longspec) - 1);
  memcpy(longspec, "%Y", 2);
  longspec[sizeof(longspec) - 1] = '\0';
  BAD_SPEC(longspec, "longer than");
  /* a NULL errstr is allowed */
  oc_timefmt_t f;
  OC_CHECK(!oc_timefmt_compile(&f, "%q", NULL, 0));
  OC_CHECK(oc_timefmt_compile(&f, "rfc3339", NULL, 0));
}

static void test_rfc3339(void) {
  EXPECT("rfc3339", "2026-11-28T16:37:40Z", T0);
  EXPECT("rfc3339", "2026-11-28T18:37:40.5+02:00", T0 + 500000);
  REJECT("rfc3339", "2026-11-28T16:37:40Zx");
  REJECT("rfc3339", "Nov 28 16:37:40");
}

static void test_unix(void) {
  EXPECT("unix", "1795883860", T0);
  EXPECT("unix", "1795883860.123456", T0 + 123456);
  EXPECT("unix", "1795883860.1234569", T0 + 123456); /* truncated below a microsecond */
  EXPECT("unix", "1795883860.5", T0 + 500000);
  EXPECT("unix", "1.79588386e9", T0);
  EXPECT("unix", "1.79588386E+9", T0);
  EXPECT("unix", "17958838600e-1", T0);
  EXPECT("unix", "0", 0);
  EXPECT("unix", "-0", 0);
  EXPECT("unix", "-1.5", -1500000);
  EXPECT("unix", "-0.0000001", -1); /* floored, like every time before the epoch */
  EXPECT("unix", "0.0000001", 0);
  EXPECT("unix", "000001795883860", T0);
  EXPECT("unix_ms", "1795883860123", T0 + 123000);
  EXPECT("unix_ms", "1795883860123.456", T0 + 123456);
  EXPECT("unix_us", "1795883860123456", T0 + 123456);
  EXPECT("unix_ns", "1795883860123456789", T0 + 123456);
  /* how Python writes a float of nanoseconds */
  EXPECT("unix_ns", "1.7958838601234568e+18", T0 + 123456);
  /* more digits than int64 holds, precision beyond a microsecond dropped */
  EXPECT("unix_ns", "1795883860123456789123e-3", T0 + 123456);
  REJECT("unix", "");
  REJECT("unix", "-");
  REJECT("unix", "1.");
  REJECT("unix", ".5");
  REJECT("unix", "1e");
  REJECT("unix", "1e+");
  REJECT("unix", "+1");
  REJECT("unix", " 1");
  REJECT("unix", "1795883860 ");
  REJECT("unix", "1795883860x");
  REJECT("unix", "0x10");
  REJECT("unix", "abc");
  REJECT("unix", "1e40000");              /* too many exponent digits... */
  REJECT("unix", "1e300");                /* ...or out of range */
  REJECT("unix", "99999999999999999999"); /* 1e20 s does not fit in int64 us */
  REJECT("unix_ms", "9223372036854775807");
  REJECT("unix_ns", "1,5");
}

static void test_layouts(void) {
  EXPECT("%Y-%m-%d %H:%M:%S", "2026-11-28 16:37:40", T0);
  EXPECT("%F %T", "2026-11-28 16:37:40", T0);
  EXPECT("%Y-%m-%d %H:%M:%S", "2026-11-28  16:37:40", T0); /* a space matches a run */
  EXPECT("%Y-%m-%d %H:%M:%S", "2026-11-28\t16:37:40", T0);
  EXPECT("%Y-%m-%d %H:%M:%S", "2026-1-2 3:4:5", utc(2026, 1, 2, 3, 4, 5)); /* unpadded */
  EXPECT("%Y%m%d%H%M%S", "20261128163740", T0);
  /* Apache common log */
  EXPECT("%d/%b/%Y:%H:%M:%S %z", "28/Nov/2026:18:37:40 +0200", T0);
  EXPECT("%d/%b/%Y:%H:%M:%S %z", "28/Nov/2026:11:37:40 -0500", T0);
  EXPECT("%d/%b/%Y:%H:%M:%S %z", "28/nov/2026:16:37:40 Z", T0);
  EXPECT("%Y-%m-%d %H:%M:%S%z", "2026-11-28 22:07:40+05:30", T0);
  EXPECT("%Y-%m-%d %H:%M:%S%z", "2026-11-28 21:37:40+05", T0);
  EXPECT("%Y-%m-%dT%H:%M:%S.%fZ", "2026-11-28T16:37:40.123456789Z", T0 + 123456);
  EXPECT("%Y-%m-%dT%H:%M:%S.%fZ", "2026-11-28T16:37:40.1Z", T0 + 100000);
  EXPECT("%Y-%m-%dT%H:%M:%S.%fZ", "2026-11-28T16:37:40.000001Z", T0 + 1);
  /* RFC 1123 / HTTP dates; weekday names are skipped, not checked */
  EXPECT("%a, %d %b %Y %H:%M:%S %Z", "Sat, 28 Nov 2026 16:37:40 GMT", T0);
  EXPECT("%a, %d %b %Y %H:%M:%S %Z", "Saturday, 28 November 2026 16:37:40 UTC", T0);
  EXPECT("%A %d %B %Y %T", "sunday 28 NOVEMBER 2026 16:37:40", T0);
  /* 12-hour clock */
  EXPECT("%B %e, %Y %I:%M:%S %p", "November 28, 2026 04:37:40 PM", T0);
  EXPECT("%B %e, %Y %I:%M:%S %p", "November 28, 2026 4:37:40 pm", T0);
  EXPECT("%Y-%m-%d %I:%M %p", "2026-11-28 12:00 AM", utc(2026, 11, 28, 0, 0, 0));
  EXPECT("%Y-%m-%d %I:%M %p", "2026-11-28 12:30 PM", utc(2026, 11, 28, 12, 30, 0));
  EXPECT("%Y-%m-%d %I:%M %p", "2026-11-28 11:59 PM", utc(2026, 11, 28, 23, 59, 0));
  /* two-digit years (POSIX pivot) and day of year */
  EXPECT("%y%m%d", "261128", utc(2026, 11, 28, 0, 0, 0));
  EXPECT("%y-%m-%d", "69-07-20", utc(1969, 7, 20, 0, 0, 0));
  EXPECT("%y-%m-%d", "68-07-20", utc(2068, 7, 20, 0, 0, 0));
  EXPECT("%Y %j %T", "2026 332 16:37:40", T0);
  EXPECT("%Y %j", "2028 366", utc(2028, 12, 31, 0, 0, 0));
  EXPECT("%Y %j", "2026 1", utc(2026, 1, 1, 0, 0, 0));
  /* epoch seconds inside a layout */
  EXPECT("%s", "1795883860", T0);
  EXPECT("%s.%f", "1795883860.25", T0 + 250000);
  EXPECT("%s.%f", "-1.5", -1500000);
  EXPECT("[%s]", "[1795883860]", T0);
  /* literal percent and brackets */
  EXPECT("%%%Y-%m-%d%%", "%2026-11-28%", utc(2026, 11, 28, 0, 0, 0));
  EXPECT("[%d/%b/%Y:%T %z]", "[28/Nov/2026:16:37:40 +0000]", T0);
}

static void test_layout_rejects(void) {
  const char *iso = "%Y-%m-%d %H:%M:%S";
  REJECT(iso, "2026-02-31 00:00:00"); /* day 31 of February */
  REJECT(iso, "2026-02-29 00:00:00"); /* not a leap year */
  REJECT(iso, "2026-04-31 00:00:00");
  REJECT(iso, "2026-11-28 25:00:00");
  REJECT(iso, "2026-11-28 16:60:00");
  REJECT(iso, "2026-11-28 16:37:60"); /* no leap seconds */
  REJECT(iso, "2026-13-01 00:00:00");
  REJECT(iso, "2026-00-01 00:00:00");
  REJECT(iso, "2026-11-00 00:00:00");
  REJECT(iso, "2026-11-28 16:37:40 "); /* trailing space */
  REJECT(iso, "2026-11-28 16:37:40x"); /* trailing garbage */
  REJECT(iso, "2026-11-28 16:37");     /* short */
  REJECT(iso, "2026-11-28T16:37:40");  /* a space is not a T */
  REJECT(iso, "26-11-28 16:37:40");    /* %Y takes four digits */
  REJECT(iso, "2026-111-28 16:37:40"); /* %m takes at most two */
  REJECT(iso, "");
  REJECT("%Y-%m-%d %H:%M:%S%z", "2026-11-28 16:37:40+2400");
  REJECT("%Y-%m-%d %H:%M:%S%z", "2026-11-28 16:37:40+0060");
  REJECT("%Y-%m-%d %H:%M:%S%z", "2026-11-28 16:37:40+1");
  REJECT("%Y-%m-%d %H:%M:%S%z", "2026-11-28 16:37:40EST");
  REJECT("%a, %d %b %Y %H:%M:%S %Z", "Sat, 28 Nov 2026 16:37:40 EST");
  REJECT("%d/%b/%Y", "28/Nox/2026");
  REJECT("%d/%b/%Y", "28/No/2026");
  REJECT("%a %Y", "Sonday 2026");
  REJECT("%Y %j", "2026 366");
  REJECT("%Y %j", "2026 0");
  REJECT("%I:%M %p", "13:00 PM");
  REJECT("%I:%M %p", "0:00 AM");
  REJECT("%I:%M %p", "1:00 XM");
  REJECT("%Y-%m-%dT%H:%M:%S.%fZ", "2026-11-28T16:37:40.Z");
  REJECT("%Y-%m-%dT%H:%M:%S.%fZ", "2026-11-28T16:37:40.1234567891Z"); /* 10 digits */
  REJECT("%s", "");
  REJECT("%s", "-");
  REJECT("%s", "1234567890123"); /* more than 12 digits */
}

/* Syslog's "%b %d %H:%M:%S": the year comes from the reference time. */
static void test_no_year(void) {
  const char *sl = "%b %d %H:%M:%S";
  EXPECT(sl, "Nov 28 16:37:40", T0);
  EXPECT(sl, "Nov  3 06:07:08", utc(2026, 11, 3, 6, 7, 8)); /* space-padded day */
  EXPECT(sl, "Nov 3 06:07:08", utc(2026, 11, 3, 6, 7, 8));
  EXPECT("%b %e %H:%M:%S", "Nov  3 06:07:08", utc(2026, 11, 3, 6, 7, 8));
  EXPECT(sl, "Jan  1 00:00:00", utc(2026, 1, 1, 0, 0, 0));
  /* up to a day ahead of the reference (clock skew) stays in the reference year... */
  EXPECT(sl, "Nov 29 16:37:40", utc(2026, 11, 29, 16, 37, 40));
  /* ...further ahead is last year's line */
  EXPECT(sl, "Nov 29 16:37:41", utc(2025, 11, 29, 16, 37, 41));
  EXPECT(sl, "Dec 25 10:00:00", utc(2025, 12, 25, 10, 0, 0));
  /* December lines read just after new year */
  int64_t newyear = utc(2027, 1, 1, 0, 0, 10);
  EXPECT_REF(sl, "Dec 31 23:59:59", newyear, utc(2026, 12, 31, 23, 59, 59));
  EXPECT_REF(sl, "Jan  1 00:00:05", newyear, utc(2027, 1, 1, 0, 0, 5));
  EXPECT_REF(sl, "Jan  1 23:00:00", newyear, utc(2027, 1, 1, 23, 0, 0));
  /* Feb 29 exists only in a leap reference year (or the leap year before) */
  EXPECT_REF(sl, "Feb 29 12:00:00", utc(2028, 3, 1, 0, 0, 0), utc(2028, 2, 29, 12, 0, 0));
  EXPECT_REF(sl, "Feb 29 12:00:00", utc(2029, 1, 5, 0, 0, 0), utc(2028, 2, 29, 12, 0, 0));
  REJECT_REF(sl, "Feb 29 12:00:00", utc(2027, 6, 1, 0, 0, 0));
  REJECT(sl, "Feb 30 12:00:00");
  REJECT(sl, "Nov 28 16:37:40 2026");
  REJECT(sl, "Nov 28 16:37");
  /* a zone still applies without a year */
  EXPECT("%b %d %H:%M:%S %z", "Nov 28 18:37:40 +02:00", T0);
  /* extreme references do not overflow */
  int64_t us;
  OC_CHECK(parse(sl, "Nov 28 16:37:40", INT64_MAX, &us));
  OC_CHECK(parse(sl, "Nov 28 16:37:40", INT64_MIN, &us));
}

static void test_null_and_empty(void) {
  oc_timefmt_t f = fmt("unix");
  int64_t us = 7;
  OC_CHECK(!oc_timefmt_parse(&f, NULL, 0, 0, &us));
  OC_CHECK(!oc_timefmt_parse(&f, "", 0, 0, &us));
  OC_CHECK(!oc_timefmt_parse(NULL, "1", 1, 0, &us));
  OC_CHECK_INT(us, 7);
  /* the length, not a NUL, ends the input */
  OC_CHECK(oc_timefmt_parse(&f, "12345", 2, 0, &us));
  OC_CHECK_INT(us, 12 * US);
}

OC_TEST_MAIN(OC_TEST(test_compile_errors), OC_TEST(test_rfc3339), OC_TEST(test_unix),
             OC_TEST(test_layouts), OC_TEST(test_layout_rejects), OC_TEST(test_no_year),
             OC_TEST(test_null_and_empty))
