/* test_proc_syslog.c: the native Syslog.RFC5424 / Syslog.RFC3164 parsers
 * (services/log-processor/syslog.c): the RFCs' own examples, lines as real senders write
 * them (rsyslog, sshd, cron, systemd, postfix), the limits, and rejected lines with the
 * byte offset of the problem. Each parse result is checked as its compact JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "oc_test.h"
#include "services/log-processor/syslog.h"

/* 2026-11-28T16:37:40Z, the reference ("received") time of the RFC 3164 tests */
static const int64_t REF = INT64_C(1795883860000000);

static char out_json[65536];
static char out_err[256];

/* Parses line (an exact-size heap copy, no NUL) with the given parser; returns the
 * serialized object, or NULL with the reason in out_err. A small arena chunk makes the
 * tree span many chunks. */
static const char *run_n(int kind, const char *line, size_t n, int64_t ref) {
  oc_arena_t a;
  oc_buf_t b;
  oc_arena_init(&a, 256);
  oc_buf_init(&b);
  char *c = malloc(n ? n : 1);
  if (!c) abort();
  memcpy(c, line, n);
  out_err[0] = '\0';
  oc_json_t *v = kind == 5424 ? oc_syslog_parse_rfc5424(&a, c, n, out_err, sizeof(out_err))
                              : oc_syslog_parse_rfc3164(&a, c, n, ref, out_err, sizeof(out_err));
  const char *ret = NULL;
  if (v) {
    OC_CHECK(v->type == OC_JSON_OBJECT);
    oc_json_serialize(&b, v);
    OC_CHECK(oc_buf_ok(&b));
    snprintf(out_json, sizeof(out_json), "%.*s", (int)b.len, b.data);
    ret = out_json;
    /* the serialization is valid JSON with the same member count */
    char err[128];
    oc_json_t *w = oc_json_parse(&a, b.data, b.len, 16, err, sizeof(err));
    OC_CHECK(w && w->len == v->len);
  }
  free(c);
  oc_buf_deinit(&b);
  oc_arena_deinit(&a);
  return ret;
}

#define P5424(line) run_n(5424, line, strlen(line), 0)
#define P3164(line) run_n(3164, line, strlen(line), REF)
#define P3164_REF(line, ref) run_n(3164, line, strlen(line), ref)

static void expect_err(const char *got, const char *want_in_err, int line) {
  if (got) {
    fprintf(stderr, "test_proc_syslog.c:%d: parsed as %s\n", line, got);
    oc_test_failures_++;
  } else if (!strstr(out_err, want_in_err)) {
    fprintf(stderr, "test_proc_syslog.c:%d: error \"%s\" lacks \"%s\"\n", line, out_err,
            want_in_err);
    oc_test_failures_++;
  }
}
#define REJECT5424(l, want) expect_err(P5424(l), want, __LINE__)
#define REJECT3164(l, want) expect_err(P3164(l), want, __LINE__)

/* RFC 5424 section 6.5, examples 1 to 4 */
static void test_5424_rfc_examples(void) {
  OC_CHECK_STR(P5424("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
                     "\xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8"),
               "{\"priority\":34,\"facility\":4,\"severity\":2,\"version\":1,"
               "\"timestamp\":\"2003-10-11T22:14:15.003Z\",\"hostname\":\"mymachine.example.com\","
               "\"appname\":\"su\",\"msgid\":\"ID47\","
               "\"message\":\"'su root' failed for lonvick on /dev/pts/8\"}");
  OC_CHECK_STR(P5424("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's "
                     "time to make the do-nuts."),
               "{\"priority\":165,\"facility\":20,\"severity\":5,\"version\":1,"
               "\"timestamp\":\"2003-08-24T05:14:15.000003-07:00\",\"hostname\":\"192.0.2.1\","
               "\"appname\":\"myproc\",\"procid\":\"8710\","
               "\"message\":\"%% It's time to make the do-nuts.\"}");
  OC_CHECK_STR(P5424("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
                     "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
                     "\xef\xbb\xbf"
                     "An application event log entry..."),
               "{\"priority\":165,\"facility\":20,\"severity\":5,\"version\":1,"
               "\"timestamp\":\"2003-10-11T22:14:15.003Z\",\"hostname\":\"mymachine.example.com\","
               "\"appname\":\"evntslog\",\"msgid\":\"ID47\",\"structured_data\":{"
               "\"exampleSDID@32473\":{\"iut\":\"3\",\"eventSource\":\"Application\","
               "\"eventID\":\"1011\"}},\"message\":\"An application event log entry...\"}");
  OC_CHECK_STR(P5424("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
                     "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
                     "[examplePriority@32473 class=\"high\"]"),
               "{\"priority\":165,\"facility\":20,\"severity\":5,\"version\":1,"
               "\"timestamp\":\"2003-10-11T22:14:15.003Z\",\"hostname\":\"mymachine.example.com\","
               "\"appname\":\"evntslog\",\"msgid\":\"ID47\",\"structured_data\":{"
               "\"exampleSDID@32473\":{\"iut\":\"3\",\"eventSource\":\"Application\","
               "\"eventID\":\"1011\"},\"examplePriority@32473\":{\"class\":\"high\"}}}");
}

static void test_5424_fields(void) {
  /* every NILVALUE: only the numbers remain */
  OC_CHECK_STR(P5424("<0>1 - - - - - -"),
               "{\"priority\":0,\"facility\":0,\"severity\":0,\"version\":1}");
  /* an empty MSG after the space is absent too; CR/LF at the end is not part of it */
  OC_CHECK_STR(P5424("<191>12 - - - - - - \r\n"),
               "{\"priority\":191,\"facility\":23,\"severity\":7,\"version\":12}");
  OC_CHECK_STR(P5424("<14>999 - h - - - - x"),
               "{\"priority\":14,\"facility\":1,\"severity\":6,\"version\":999,"
               "\"hostname\":\"h\",\"message\":\"x\"}");
  /* a BOM alone is an empty message */
  OC_CHECK_STR(P5424("<14>1 - - - - - - \xef\xbb\xbf"),
               "{\"priority\":14,\"facility\":1,\"severity\":6,\"version\":1}");
  /* escapes: \" \\ \] unescaped, any other backslash kept; ']' and spaces inside quotes */
  OC_CHECK_STR(P5424("<14>1 - - - - - [x@1 a=\"q\\\"uote\" b=\"back\\\\slash\" c=\"br\\]acket\" "
                     "d=\"other\\n\" e=\"] [ \" f=\"\"]"),
               "{\"priority\":14,\"facility\":1,\"severity\":6,\"version\":1,"
               "\"structured_data\":{\"x@1\":{\"a\":\"q\\\"uote\",\"b\":\"back\\\\slash\","
               "\"c\":\"br]acket\",\"d\":\"other\\\\n\",\"e\":\"] [ \",\"f\":\"\"}}}");
  /* an element without params; a repeated param keeps the last value */
  OC_CHECK_STR(P5424("<14>1 - - - - - [origin][meta a=\"1\" b=\"2\" a=\"3\"] m"),
               "{\"priority\":14,\"facility\":1,\"severity\":6,\"version\":1,"
               "\"structured_data\":{\"origin\":{},\"meta\":{\"a\":\"3\",\"b\":\"2\"}},"
               "\"message\":\"m\"}");
  /* UTF-8 in values and message is kept as is */
  OC_CHECK_STR(P5424("<14>1 - - - - - [u@1 name=\"Jos\xc3\xa9\"] caf\xc3\xa9 \xe2\x82\xac"),
               "{\"priority\":14,\"facility\":1,\"severity\":6,\"version\":1,"
               "\"structured_data\":{\"u@1\":{\"name\":\"Jos\xc3\xa9\"}},"
               "\"message\":\"caf\xc3\xa9 \xe2\x82\xac\"}");
  /* a "[" in the message after a nil SD is message text */
  OC_CHECK_STR(P5424("<14>1 - - - - - - [not sd] text"),
               "{\"priority\":14,\"facility\":1,\"severity\":6,\"version\":1,"
               "\"message\":\"[not sd] text\"}");
}

/* Lines real senders produce */
static void test_5424_real_lines(void) {
  /* rsyslog RSYSLOG_SyslogProtocol23Format */
  OC_CHECK_STR(P5424("<13>1 2026-11-28T17:37:40.123456+01:00 web-01.example.com nginx 1234 - "
                     "[meta sequenceId=\"17\"] 203.0.113.9 - - \"GET / HTTP/1.1\" 200"),
               "{\"priority\":13,\"facility\":1,\"severity\":5,\"version\":1,"
               "\"timestamp\":\"2026-11-28T17:37:40.123456+01:00\","
               "\"hostname\":\"web-01.example.com\",\"appname\":\"nginx\",\"procid\":\"1234\","
               "\"structured_data\":{\"meta\":{\"sequenceId\":\"17\"}},"
               "\"message\":\"203.0.113.9 - - \\\"GET / HTTP/1.1\\\" 200\"}");
  /* systemd-journal-remote style with a timeQuality element and a tab in the message */
  OC_CHECK_STR(P5424("<86>1 2026-11-28T16:37:40Z host sshd 77 AUTH [timeQuality tzKnown=\"1\" "
                     "isSynced=\"0\"] Accepted publickey for alice\tfrom 198.51.100.7"),
               "{\"priority\":86,\"facility\":10,\"severity\":6,\"version\":1,"
               "\"timestamp\":\"2026-11-28T16:37:40Z\",\"hostname\":\"host\",\"appname\":\"sshd\","
               "\"procid\":\"77\",\"msgid\":\"AUTH\",\"structured_data\":{\"timeQuality\":{"
               "\"tzKnown\":\"1\",\"isSynced\":\"0\"}},"
               "\"message\":\"Accepted publickey for alice\\tfrom 198.51.100.7\"}");
}

static void test_5424_limits(void) {
  char line[8192];
  /* 64 elements pass, 65 do not */
  size_t n = (size_t)snprintf(line, sizeof(line), "<14>1 - - - - - ");
  for (int k = 0; k < 64; k++)
    n += (size_t)snprintf(line + n, sizeof(line) - n, "[e%d]", k);
  OC_CHECK(P5424(line) != NULL);
  snprintf(line + n, sizeof(line) - n, "[e64]");
  REJECT5424(line, "more than 64 structured data elements");
  /* 64 params pass, 65 do not */
  n = (size_t)snprintf(line, sizeof(line), "<14>1 - - - - - [p");
  for (int k = 0; k < 64; k++)
    n += (size_t)snprintf(line + n, sizeof(line) - n, " k%d=\"v\"", k);
  snprintf(line + n, sizeof(line) - n, "]");
  OC_CHECK(P5424(line) != NULL);
  snprintf(line + n, sizeof(line) - n, " k64=\"v\"]");
  REJECT5424(line, "more than 64 params");
  /* ...but repeating a name does not count twice */
  n = (size_t)snprintf(line, sizeof(line), "<14>1 - - - - - [p");
  for (int k = 0; k < 100; k++)
    n += (size_t)snprintf(line + n, sizeof(line) - n, " k=\"%d\"", k);
  snprintf(line + n, sizeof(line) - n, "]");
  OC_CHECK_STR(P5424(line),
               "{\"priority\":14,\"facility\":1,\"severity\":6,\"version\":1,"
               "\"structured_data\":{\"p\":{\"k\":\"99\"}}}");
  /* field lengths of RFC 5424 section 6 */
  char host[300];
  memset(host, 'h', 255);
  host[255] = '\0';
  snprintf(line, sizeof(line), "<14>1 - %s - - - -", host);
  OC_CHECK(P5424(line) != NULL);
  snprintf(line, sizeof(line), "<14>1 - %sh - - - -", host);
  REJECT5424(line, "expected hostname");
  snprintf(line, sizeof(line), "<14>1 - - %.48s - - -", host);
  OC_CHECK(P5424(line) != NULL);
  snprintf(line, sizeof(line), "<14>1 - - %.49s - - -", host);
  REJECT5424(line, "expected app-name");
  snprintf(line, sizeof(line), "<14>1 - - - - %.33s -", host);
  REJECT5424(line, "expected msgid");
  snprintf(line, sizeof(line), "<14>1 - - - - - [%.33s]", host);
  REJECT5424(line, "SD-ID of 1 to 32");
  snprintf(line, sizeof(line), "<14>1 - - - - - [a %.33s=\"\"]", host);
  REJECT5424(line, "PARAM-NAME of 1 to 32");
}

static void test_5424_rejects(void) {
  REJECT5424("", "expected \"<\" (the priority) at byte 0");
  REJECT5424("34>1 - - - - - -", "at byte 0");
  REJECT5424("<>1 - - - - - -", "expected the priority value at byte 1");
  REJECT5424("<192>1 - - - - - -", "priority is greater than 191");
  REJECT5424("<1000>1 - - - - - -", "more than 3 digits");
  REJECT5424("<34 >1 - - - - - -", "expected \">\" after the priority at byte 3");
  REJECT5424("<34>0 - - - - - -", "expected the version after the priority at byte 4");
  REJECT5424("<34>1000 - - - - - -", "expected a space after the version at byte 7");
  REJECT5424("<34>Oct 11 22:14:15 mymachine su: 'su root' failed", "at byte 4"); /* 3164 */
  REJECT5424("<34>1  - - - - - -", "expected timestamp");                        /* two spaces */
  REJECT5424("<34>1 2003-10-11T22:14:15.003Z", "expected timestamp"); /* ends in header */
  REJECT5424("<34>1 2003-13-11T22:14:15.003Z h a p m -", "invalid timestamp");
  REJECT5424("<34>1 2003-10-11T22:14:15.003Zx h a p m -", "invalid timestamp");
  REJECT5424("<34>1 1065910455 h a p m -", "\"1065910455\" at byte 6");
  REJECT5424("<34>1 - h\xc3\xa9 a p m -", "expected hostname"); /* not ASCII */
  REJECT5424("<34>1 - h a p m", "expected msgid");              /* no SD */
  REJECT5424("<34>1 - h a p m ", "expected structured data");
  REJECT5424("<34>1 - h a p m x", "expected structured data (\"[\" or \"-\") at byte 16");
  REJECT5424("<34>1 - h a p m -x", "expected a space after the structured data at byte 17");
  REJECT5424("<34>1 - h a p m [a@1]x", "expected a space after the structured data");
  REJECT5424("<34>1 - h a p m []", "expected an SD-ID");
  REJECT5424("<34>1 - h a p m [a@1", "expected \" \" or \"]\"");
  REJECT5424("<34>1 - h a p m [a@1 ]", "expected a PARAM-NAME");
  REJECT5424("<34>1 - h a p m [a@1 k]", "expected \"=\" after PARAM-NAME");
  REJECT5424("<34>1 - h a p m [a@1 k=v]", "expected '\"' before PARAM-VALUE");
  REJECT5424("<34>1 - h a p m [a@1 k=\"v]", "unterminated PARAM-VALUE at byte 24");
  REJECT5424("<34>1 - h a p m [a@1 k=\"v\\\"]", "unterminated PARAM-VALUE");
  REJECT5424("<34>1 - h a p m [a@1 k=\"v\"", "expected \" \" or \"]\"");
  REJECT5424("<34>1 - h a p m [a@1 k=\"v\"x]", "expected \" \" or \"]\"");
  REJECT5424("<34>1 - h a p m [a@1][b@1][a@1]", "SD-ID \"a@1\" repeated");
  /* NULL line */
  oc_arena_t a;
  oc_arena_init(&a, 256);
  char err[64];
  OC_CHECK(oc_syslog_parse_rfc5424(&a, NULL, 0, err, sizeof(err)) == NULL);
  OC_CHECK(oc_syslog_parse_rfc3164(&a, NULL, 0, REF, NULL, 0) == NULL);
  oc_arena_deinit(&a);
}

#define HDR3164(pri, fac, sev) "{\"priority\":" #pri ",\"facility\":" #fac ",\"severity\":" #sev

/* RFC 3164 section 5.4 examples and lines from real hosts (reference 2026-11-28) */
static void test_3164_lines(void) {
  OC_CHECK_STR(P3164("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on "
                     "/dev/pts/8"),
               HDR3164(34, 4, 2) ",\"timestamp\":\"2026-10-11T22:14:15.000000Z\","
                                 "\"hostname\":\"mymachine\",\"appname\":\"su\","
                                 "\"message\":\"'su root' failed for lonvick on /dev/pts/8\"}");
  /* no tag: the first word after the host is message text */
  OC_CHECK_STR(P3164("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!"),
               HDR3164(13, 1, 5) ",\"timestamp\":\"2026-02-05T17:32:18.000000Z\","
                                 "\"hostname\":\"10.0.0.99\",\"message\":\"Use the BFG!\"}");
  OC_CHECK_STR(P3164("<38>Nov  3 06:07:08 bastion sshd[4242]: Accepted publickey for alice from "
                     "203.0.113.5 port 51234 ssh2"),
               HDR3164(38, 4, 6) ",\"timestamp\":\"2026-11-03T06:07:08.000000Z\","
                                 "\"hostname\":\"bastion\",\"appname\":\"sshd\",\"procid\":\"4242\","
                                 "\"message\":\"Accepted publickey for alice from 203.0.113.5 port "
                                 "51234 ssh2\"}");
  /* unpadded single-digit day */
  OC_CHECK_STR(P3164("<38>Nov 3 06:07:08 bastion sshd[4242]: x"),
               HDR3164(38, 4, 6) ",\"timestamp\":\"2026-11-03T06:07:08.000000Z\","
                                 "\"hostname\":\"bastion\",\"appname\":\"sshd\",\"procid\":\"4242\","
                                 "\"message\":\"x\"}");
  /* no hostname (local syslog socket): the first word is the tag */
  OC_CHECK_STR(P3164("<38>Nov 28 16:37:40 sshd[4242]: Connection closed"),
               HDR3164(38, 4, 6) ",\"timestamp\":\"2026-11-28T16:37:40.000000Z\","
                                 "\"appname\":\"sshd\",\"procid\":\"4242\","
                                 "\"message\":\"Connection closed\"}");
  OC_CHECK_STR(P3164("<78>Nov 28 16:37:40 CRON: (root) CMD (run-parts /etc/cron.hourly)"),
               HDR3164(78, 9, 6) ",\"timestamp\":\"2026-11-28T16:37:40.000000Z\","
                                 "\"appname\":\"CRON\","
                                 "\"message\":\"(root) CMD (run-parts /etc/cron.hourly)\"}");
  /* tag without a PID */
  OC_CHECK_STR(P3164("<86>Nov 28 16:37:40 host CRON: (root) CMD (true)"),
               HDR3164(86, 10, 6) ",\"timestamp\":\"2026-11-28T16:37:40.000000Z\","
                                  "\"hostname\":\"host\",\"appname\":\"CRON\","
                                  "\"message\":\"(root) CMD (true)\"}");
  /* a PID but no colon */
  OC_CHECK_STR(P3164("<30>Nov 28 16:37:40 host systemd[1] Started Session 5 of user alice."),
               HDR3164(30, 3, 6) ",\"timestamp\":\"2026-11-28T16:37:40.000000Z\","
                                 "\"hostname\":\"host\",\"appname\":\"systemd\",\"procid\":\"1\","
                                 "\"message\":\"Started Session 5 of user alice.\"}");
  /* tags with slashes and dashes, an IPv6 host */
  OC_CHECK_STR(P3164("<22>Nov 28 16:37:40 fe80::1 postfix/smtpd[8312]: connect from unknown"),
               HDR3164(22, 2, 6) ",\"timestamp\":\"2026-11-28T16:37:40.000000Z\","
                                 "\"hostname\":\"fe80::1\",\"appname\":\"postfix/smtpd\","
                                 "\"procid\":\"8312\",\"message\":\"connect from unknown\"}");
  OC_CHECK_STR(P3164("<30>Nov 28 16:37:40 host systemd-logind[612]:"),
               HDR3164(30, 3, 6) ",\"timestamp\":\"2026-11-28T16:37:40.000000Z\","
                                 "\"hostname\":\"host\",\"appname\":\"systemd-logind\","
                                 "\"procid\":\"612\"}");
  /* "key:value" in the first word is not a tag */
  OC_CHECK_STR(P3164("<14>Nov 28 16:37:40 host error:disk full"),
               HDR3164(14, 1, 6) ",\"timestamp\":\"2026-11-28T16:37:40.000000Z\","
                                 "\"hostname\":\"host\",\"message\":\"error:disk full\"}");
  /* only the first space after the colon separates; indentation stays */
  OC_CHECK_STR(P3164("<14>Nov 28 16:37:40 host app:   indented"),
               HDR3164(14, 1, 6) ",\"timestamp\":\"2026-11-28T16:37:40.000000Z\","
                                 "\"hostname\":\"host\",\"appname\":\"app\","
                                 "\"message\":\"  indented\"}");
  /* header only, with and without a host; a trailing CR */
  OC_CHECK_STR(P3164("<14>Nov 28 16:37:40 host\r"),
               HDR3164(14, 1, 6) ",\"timestamp\":\"2026-11-28T16:37:40.000000Z\","
                                 "\"hostname\":\"host\"}");
  OC_CHECK_STR(P3164("<14>Nov 28 16:37:40"),
               HDR3164(14, 1, 6) ",\"timestamp\":\"2026-11-28T16:37:40.000000Z\"}");
  /* a malformed PID makes the rest message text */
  OC_CHECK_STR(P3164("<14>Nov 28 16:37:40 host app[12 x]: y"),
               HDR3164(14, 1, 6) ",\"timestamp\":\"2026-11-28T16:37:40.000000Z\","
                                 "\"hostname\":\"host\",\"message\":\"app[12 x]: y\"}");
  /* fractional seconds, and rsyslog's high-precision RFC 3339 timestamp (to UTC) */
  OC_CHECK_STR(P3164("<14>Nov 28 16:37:40.123 host app: x"),
               HDR3164(14, 1, 6) ",\"timestamp\":\"2026-11-28T16:37:40.123000Z\","
                                 "\"hostname\":\"host\",\"appname\":\"app\",\"message\":\"x\"}");
  OC_CHECK_STR(P3164("<14>2026-11-28T18:37:40.5+02:00 host app[9]: x"),
               HDR3164(14, 1, 6) ",\"timestamp\":\"2026-11-28T16:37:40.500000Z\","
                                 "\"hostname\":\"host\",\"appname\":\"app\",\"procid\":\"9\","
                                 "\"message\":\"x\"}");
}

static void test_3164_year(void) {
  /* more than a day after the reference: last year's line */
  OC_CHECK_STR(P3164("<14>Dec 25 10:00:00 h a: x"),
               HDR3164(14, 1, 6) ",\"timestamp\":\"2025-12-25T10:00:00.000000Z\","
                                 "\"hostname\":\"h\",\"appname\":\"a\",\"message\":\"x\"}");
  /* read just after new year */
  int64_t newyear = INT64_C(1798761610000000); /* 2027-01-01T00:00:10Z */
  OC_CHECK_STR(P3164_REF("<14>Dec 31 23:59:59 h a: x", newyear),
               HDR3164(14, 1, 6) ",\"timestamp\":\"2026-12-31T23:59:59.000000Z\","
                                 "\"hostname\":\"h\",\"appname\":\"a\",\"message\":\"x\"}");
  OC_CHECK_STR(P3164_REF("<14>Jan  1 00:00:05 h a: x", newyear),
               HDR3164(14, 1, 6) ",\"timestamp\":\"2027-01-01T00:00:05.000000Z\","
                                 "\"hostname\":\"h\",\"appname\":\"a\",\"message\":\"x\"}");
}

static void test_3164_rejects(void) {
  REJECT3164("Nov 28 16:37:40 host app: no priority", "expected \"<\" (the priority) at byte 0");
  REJECT3164("<192>Nov 28 16:37:40 host app: x", "priority is greater than 191");
  REJECT3164("<14>hello world", "expected a timestamp");
  REJECT3164("<14>", "RFC 3339) at byte 4");
  REJECT3164("<14>Nox 28 16:37:40 host app: x", "expected a timestamp");
  REJECT3164("<14>Nov 31 16:37:40 host app: x", "expected a timestamp");
  REJECT3164("<14>Nov 28 25:37:40 host app: x", "expected a timestamp");
  REJECT3164("<14>Nov 28 16:37 host app: x", "expected a timestamp");
  REJECT3164("<14>Nov 28 16:37:40x host", "expected a space after the timestamp at byte 19");
  REJECT3164("<14>Nov 28 16:37:40.x host", "expected a space after the timestamp");
  REJECT3164("<14>2026-11-28 16:37:40 host app: x", "expected a timestamp");
  /* an RFC 5424 line is not RFC 3164 */
  REJECT3164("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - x",
             "RFC 3339) at byte 4");
}

OC_TEST_MAIN(OC_TEST(test_5424_rfc_examples), OC_TEST(test_5424_fields),
             OC_TEST(test_5424_real_lines), OC_TEST(test_5424_limits), OC_TEST(test_5424_rejects),
             OC_TEST(test_3164_lines), OC_TEST(test_3164_year), OC_TEST(test_3164_rejects))
