/* The text parsers of log-type schemas (csv, fastmatch, regex): real-shaped lines (VPC
 * flow logs with a header, Cisco Umbrella CSV, Apache combined, AWS ALB, S3 server access,
 * Juniper audit syslog), empty values, quoted delimiters, escapes, mismatches, trimming,
 * expandFields, limits, and a regex parser shared by threads. Each object is checked
 * through its exact serialization, so member order, omissions and values all count. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "oc_test.h"
#include "services/log-processor/csvparse.h"
#include "services/log-processor/fastmatch.h"
#include "services/log-processor/regexparse.h"

static oc_arena_t arena;
static char err[512];

/* Compact JSON of v (static buffer), "(null)" for NULL. */
static const char *ser(const oc_json_t *v) {
  static oc_buf_t b;
  static char out[16384];
  if (!v) return "(null)";
  oc_buf_init(&b);
  oc_json_serialize(&b, v);
  snprintf(out, sizeof(out), "%.*s", (int)b.len, b.data);
  oc_buf_deinit(&b);
  return out;
}

static oc_err_t csv(oc_csvparse_t *p, const char *line, const char **json) {
  oc_json_t *o = NULL;
  err[0] = '\0';
  oc_err_t rc = oc_csvparse_line(p, &arena, line, strlen(line), &o, err, sizeof(err));
  *json = ser(o);
  if (rc == OC_OK) OC_CHECK(o && o->type == OC_JSON_OBJECT);
  if (rc != OC_OK) OC_CHECK(o == NULL);
  return rc;
}

static oc_err_t fm(const oc_fastmatch_t *p, const char *line, const char **json) {
  oc_json_t *o = NULL;
  err[0] = '\0';
  oc_err_t rc = oc_fastmatch_line(p, &arena, line, strlen(line), &o, err, sizeof(err));
  *json = ser(o);
  if (rc != OC_OK) OC_CHECK(o == NULL);
  return rc;
}

static oc_err_t rx(const oc_regexparse_t *p, const char *line, size_t len, const char **json) {
  oc_json_t *o = NULL;
  err[0] = '\0';
  oc_err_t rc = oc_regexparse_line(p, &arena, line, len, &o, err, sizeof(err));
  *json = ser(o);
  if (rc != OC_OK) OC_CHECK(o == NULL);
  return rc;
}

static const char *dash[] = {"-"};

/* ---- csv ---- */

static void test_csv_vpc_flow_header(void) {
  oc_textparse_opts_t o = {.empty_values = dash, .nempty = 1};
  oc_csvparse_t *p = oc_csvparse_new(' ', true, NULL, 0, &o, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  const char *j;
  const char *hdr =
      "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
      "start end action log-status";
  OC_CHECK_INT(csv(p, hdr, &j), OC_TEXTPARSE_SKIP);
  OC_CHECK_STR(j, "(null)");
  OC_CHECK_INT(csv(p,
                   "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 "
                   "4249 1418530010 1418530070 ACCEPT OK",
                   &j),
               OC_OK);
  OC_CHECK_STR(j,
               "{\"version\":\"2\",\"account-id\":\"123456789010\",\"interface-id\":\"eni-"
               "1235b8ca123456789\",\"srcaddr\":\"172.31.16.139\",\"dstaddr\":\"172.31.16.21\","
               "\"srcport\":\"20641\",\"dstport\":\"22\",\"protocol\":\"6\",\"packets\":\"20\","
               "\"bytes\":\"4249\",\"start\":\"1418530010\",\"end\":\"1418530070\",\"action\":"
               "\"ACCEPT\",\"log-status\":\"OK\"}");
  /* NODATA records: "-" is absent */
  OC_CHECK_INT(csv(p,
                   "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - "
                   "NODATA",
                   &j),
               OC_OK);
  OC_CHECK_STR(j,
               "{\"version\":\"2\",\"account-id\":\"123456789010\",\"interface-id\":\"eni-"
               "1235b8ca123456789\",\"start\":\"1431280876\",\"end\":\"1431280934\",\"log-status\":"
               "\"NODATA\"}");
  /* a repeated header (concatenated files) is skipped; an empty line yields nothing */
  OC_CHECK_INT(csv(p, hdr, &j), OC_TEXTPARSE_SKIP);
  OC_CHECK_INT(csv(p, "", &j), OC_TEXTPARSE_SKIP);
  OC_CHECK_INT(csv(p, "2 1 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 1 1 1 ACCEPT", &j), OC_ERR_INVALID);
  OC_CHECK(strstr(err, "13 columns, expected 14") != NULL);

  /* a new stream with a custom field order: its header names the columns; a tree made
   * under the old header keeps its keys */
  OC_CHECK_INT(csv(p, "2 1 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 1 1 1 REJECT OK", &j), OC_OK);
  oc_json_t *old = NULL;
  OC_CHECK_INT(
      oc_csvparse_line(p, &arena, "2 a b c d e f g h i j k l m", 27, &old, err, sizeof(err)),
      OC_OK);
  oc_csvparse_reset(p);
  OC_CHECK_INT(csv(p, "srcaddr dstaddr action", &j), OC_TEXTPARSE_SKIP);
  OC_CHECK_INT(csv(p, "10.0.0.1 10.0.0.2 REJECT", &j), OC_OK);
  OC_CHECK_STR(j, "{\"srcaddr\":\"10.0.0.1\",\"dstaddr\":\"10.0.0.2\",\"action\":\"REJECT\"}");
  OC_CHECK_STR(ser(old),
               "{\"version\":\"2\",\"account-id\":\"a\",\"interface-id\":\"b\",\"srcaddr\":\"c\","
               "\"dstaddr\":\"d\",\"srcport\":\"e\",\"dstport\":\"f\",\"protocol\":\"g\","
               "\"packets\":\"h\",\"bytes\":\"i\",\"start\":\"j\",\"end\":\"k\",\"action\":\"l\","
               "\"log-status\":\"m\"}");
  /* the old header is no longer special in the new stream */
  OC_CHECK_INT(csv(p, hdr, &j), OC_ERR_INVALID);
  oc_csvparse_destroy(p);
}

static void test_csv_umbrella_no_header(void) {
  const char *cols[] = {
      "timestamp",  "most_granular_identity", "identities", "internal_ip", "external_ip", "action",
      "query_type", "response_code",          "domain",     "categories"};
  oc_csvparse_t *p = oc_csvparse_new(',', false, cols, 10, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  const char *j;
  OC_CHECK_INT(csv(p,
                   "\"2020-07-13 14:27:37\",\"ActiveDirectoryUserName\",\"ActiveDirectoryUserName,"
                   "ADSite,Network\",\"10.10.1.100\",\"24.123.132.133\",\"Allowed\",\"1 (A)\","
                   "\"NOERROR\",\"domain-visited.com.\",\"Software/Technology,Business Services\"",
                   &j),
               OC_OK);
  OC_CHECK_STR(j,
               "{\"timestamp\":\"2020-07-13 14:27:37\",\"most_granular_identity\":"
               "\"ActiveDirectoryUserName\",\"identities\":\"ActiveDirectoryUserName,ADSite,"
               "Network\",\"internal_ip\":\"10.10.1.100\",\"external_ip\":\"24.123.132.133\","
               "\"action\":\"Allowed\",\"query_type\":\"1 (A)\",\"response_code\":\"NOERROR\","
               "\"domain\":\"domain-visited.com.\",\"categories\":\"Software/Technology,Business "
               "Services\"}");
  /* without a header the first line is data */
  oc_csvparse_reset(p);
  OC_CHECK_INT(csv(p, "a,b,c,d,e,f,g,h,i,j", &j), OC_OK);
  oc_csvparse_destroy(p);
}

static void test_csv_quoting(void) {
  const char *cols[] = {"a", "b", "c"};
  oc_csvparse_t *p = oc_csvparse_new(',', false, cols, 3, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  const char *j;
  OC_CHECK_INT(csv(p, "x,\"say \"\"hi\"\", ok\",\"\"\"\"", &j), OC_OK);
  OC_CHECK_STR(j, "{\"a\":\"x\",\"b\":\"say \\\"hi\\\", ok\",\"c\":\"\\\"\"}");
  /* empty fields, quoted or not, are absent; a trailing delimiter is one more column */
  OC_CHECK_INT(csv(p, "\"\",,z", &j), OC_OK);
  OC_CHECK_STR(j, "{\"c\":\"z\"}");
  OC_CHECK_INT(csv(p, "1,2,", &j), OC_OK);
  OC_CHECK_STR(j, "{\"a\":\"1\",\"b\":\"2\"}");
  OC_CHECK_INT(csv(p, "1,2,3,", &j), OC_ERR_INVALID);
  OC_CHECK(strstr(err, "4 columns, expected 3") != NULL);
  /* without trimSpace white space is kept */
  OC_CHECK_INT(csv(p, " 1 ,2,3", &j), OC_OK);
  OC_CHECK_STR(j, "{\"a\":\" 1 \",\"b\":\"2\",\"c\":\"3\"}");
  /* bad quoting */
  OC_CHECK_INT(csv(p, "1,\"2\"x,3", &j), OC_ERR_INVALID);
  OC_CHECK(strstr(err, "after the closing quote at byte 5") != NULL);
  OC_CHECK_INT(csv(p, "1,\"2,3", &j), OC_ERR_INVALID);
  OC_CHECK(strstr(err, "unterminated quoted field starting at byte 2") != NULL);
  OC_CHECK_INT(csv(p, "1,2\"2,3", &j), OC_ERR_INVALID);
  OC_CHECK(strstr(err, "bare quote") != NULL);
  OC_CHECK_INT(csv(p, " \"1\",2,3", &j), OC_ERR_INVALID); /* no trim: the quote is bare */
  OC_CHECK_INT(csv(p, "\"", &j), OC_ERR_INVALID);
  oc_csvparse_destroy(p);

  /* trimSpace: around values and quotes; tab delimiter */
  oc_textparse_opts_t o = {.trim_space = true, .empty_values = dash, .nempty = 1};
  p = oc_csvparse_new('\t', false, cols, 3, &o, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  OC_CHECK_INT(csv(p, "  one \t \"two\tand a half\"  \t - ", &j), OC_OK);
  OC_CHECK_STR(j, "{\"a\":\"one\",\"b\":\"two\\tand a half\"}");
  OC_CHECK_INT(csv(p, "\" x \"\t\ty", &j), OC_OK);
  OC_CHECK_STR(j, "{\"a\":\"x\",\"c\":\"y\"}");
  oc_csvparse_destroy(p);
}

static void test_csv_header_and_columns(void) {
  const char *cols[] = {"x", "y"};
  /* hasHeader with columns: the header is skipped, the columns name the values */
  oc_csvparse_t *p = oc_csvparse_new(',', true, cols, 2, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  const char *j;
  OC_CHECK_INT(csv(p, "first,second", &j), OC_TEXTPARSE_SKIP);
  OC_CHECK_INT(csv(p, "1,2", &j), OC_OK);
  OC_CHECK_STR(j, "{\"x\":\"1\",\"y\":\"2\"}");
  OC_CHECK_INT(csv(p, "first,second", &j), OC_TEXTPARSE_SKIP);
  oc_csvparse_destroy(p);

  /* bad headers: the stream's data lines are rejected until a reset */
  p = oc_csvparse_new(',', true, NULL, 0, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  OC_CHECK_INT(csv(p, "a,b,a", &j), OC_ERR_INVALID);
  OC_CHECK(strstr(err, "\"a\" twice") != NULL);
  OC_CHECK_INT(csv(p, "1,2,3", &j), OC_ERR_INVALID);
  OC_CHECK(strstr(err, "no usable csv header") != NULL);
  oc_csvparse_reset(p);
  OC_CHECK_INT(csv(p, "a,,c", &j), OC_ERR_INVALID);
  OC_CHECK(strstr(err, "empty column name") != NULL);
  oc_csvparse_reset(p);
  OC_CHECK_INT(csv(p, " \"a b\" ,c", &j), OC_ERR_INVALID); /* no trim: the quote is bare */
  oc_csvparse_reset(p);
  OC_CHECK_INT(csv(p, "\"a,b\", c ", &j), OC_TEXTPARSE_SKIP); /* names are trimmed */
  OC_CHECK_INT(csv(p, "1,2", &j), OC_OK);
  OC_CHECK_STR(j, "{\"a,b\":\"1\",\"c\":\"2\"}");
  oc_csvparse_destroy(p);
}

static void test_csv_options_and_limits(void) {
  const char *cols[] = {"a", "a"};
  OC_CHECK(oc_csvparse_new('"', false, cols, 1, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "delimiter") != NULL);
  OC_CHECK(oc_csvparse_new(',', false, NULL, 0, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "needs columns") != NULL);
  OC_CHECK(oc_csvparse_new(',', false, cols, 2, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "twice") != NULL);

  /* 1,025 columns: refused in the options, in a header and in a line */
  static char name_store[1025][8];
  const char *many[1025];
  for (int i = 0; i < 1025; i++) {
    snprintf(name_store[i], sizeof(name_store[i]), "c%d", i);
    many[i] = name_store[i];
  }
  OC_CHECK(oc_csvparse_new(',', false, many, 1025, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "limit of 1024") != NULL);
  oc_csvparse_t *p = oc_csvparse_new(',', false, many, 1024, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  oc_csvparse_t *h = oc_csvparse_new(',', true, NULL, 0, NULL, err, sizeof(err));
  OC_CHECK(h != NULL);
  if (!p || !h) return;
  oc_buf_t b;
  oc_buf_init(&b);
  for (int i = 0; i < 1024; i++)
    oc_buf_appendf(&b, "%sv%d", i ? "," : "", i);
  oc_buf_putc(&b, '\0');
  const char *j;
  OC_CHECK_INT(csv(p, b.data, &j), OC_OK);
  oc_json_t *o = NULL;
  OC_CHECK_INT(oc_csvparse_line(p, &arena, b.data, b.len - 1, &o, err, sizeof(err)), OC_OK);
  OC_CHECK(o && o->len == 1024);
  OC_CHECK(o && oc_json_streq(oc_json_get(o, "c1023"), "v1023"));
  b.len--;
  oc_buf_puts(&b, ",x");
  oc_buf_putc(&b, '\0');
  OC_CHECK_INT(csv(p, b.data, &j), OC_ERR_LIMIT);
  OC_CHECK(strstr(err, "more than 1024 columns") != NULL);
  OC_CHECK_INT(csv(h, b.data, &j), OC_ERR_LIMIT);
  OC_CHECK(strstr(err, "more than 1024 columns") != NULL);
  /* a header of exactly 1,024 names works */
  oc_buf_reset(&b);
  for (int i = 0; i < 1024; i++)
    oc_buf_appendf(&b, "%sh%d", i ? "," : "", i);
  oc_buf_putc(&b, '\0');
  oc_csvparse_reset(h);
  OC_CHECK_INT(csv(h, b.data, &j), OC_TEXTPARSE_SKIP);
  oc_buf_reset(&b);
  for (int i = 0; i < 1024; i++)
    oc_buf_appendf(&b, "%s%d", i ? "," : "", i);
  oc_buf_putc(&b, '\0');
  o = NULL;
  OC_CHECK_INT(oc_csvparse_line(h, &arena, b.data, b.len - 1, &o, err, sizeof(err)), OC_OK);
  OC_CHECK(o && o->len == 1024 && oc_json_streq(oc_json_get(o, "h1000"), "1000"));
  oc_buf_deinit(&b);
  oc_csvparse_destroy(p);
  oc_csvparse_destroy(h);
}

static void test_csv_expand(void) {
  const char *names[] = {"src"}, *tmpls[] = {"%{ip}:%{port}"};
  oc_textparse_opts_t o = {.expand_names = names, .expand_templates = tmpls, .nexpand = 1};
  oc_csvparse_t *p = oc_csvparse_new(',', true, NULL, 0, &o, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  const char *j;
  OC_CHECK_INT(csv(p, "ip,port", &j), OC_TEXTPARSE_SKIP);
  OC_CHECK_INT(csv(p, "10.1.1.1,443", &j), OC_OK);
  OC_CHECK_STR(j, "{\"ip\":\"10.1.1.1\",\"port\":\"443\",\"src\":\"10.1.1.1:443\"}");
  OC_CHECK_INT(csv(p, ",", &j), OC_OK);
  OC_CHECK_STR(j, "{}");
  /* a stream without one of the columns: the reference expands to nothing */
  oc_csvparse_reset(p);
  OC_CHECK_INT(csv(p, "ip,proto", &j), OC_TEXTPARSE_SKIP);
  OC_CHECK_INT(csv(p, "10.1.1.2,tcp", &j), OC_OK);
  OC_CHECK_STR(j, "{\"ip\":\"10.1.1.2\",\"proto\":\"tcp\",\"src\":\"10.1.1.2:\"}");
  oc_csvparse_destroy(p);
}

/* ---- fastmatch ---- */

static const char *apache_combined =
    "%{remote_ip} %{identity} %{user} [%{timestamp}] \"%{method} %{request_uri} %{protocol}\" "
    "%{status} %{bytes_sent} \"%{referer}\" \"%{user_agent}\"";

static void test_fastmatch_apache(void) {
  const char *names[] = {"request"}, *tmpls[] = {"%{method} %{request_uri} %{protocol}"};
  oc_textparse_opts_t o = {.empty_values = dash,
                           .nempty = 1,
                           .expand_names = names,
                           .expand_templates = tmpls,
                           .nexpand = 1};
  oc_fastmatch_t *p = oc_fastmatch_new(&apache_combined, 1, &o, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  const char *j;
  OC_CHECK_INT(fm(p,
                  "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" "
                  "200 2326 \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I "
                  ";Nav)\"",
                  &j),
               OC_OK);
  OC_CHECK_STR(j,
               "{\"remote_ip\":\"127.0.0.1\",\"user\":\"frank\",\"timestamp\":\"10/Oct/"
               "2000:13:55:36 -0700\",\"method\":\"GET\",\"request_uri\":\"/apache_pb.gif\","
               "\"protocol\":\"HTTP/1.0\",\"status\":\"200\",\"bytes_sent\":\"2326\",\"referer\":"
               "\"http://www.example.com/start.html\",\"user_agent\":\"Mozilla/4.08 [en] (Win98; I "
               ";Nav)\",\"request\":\"GET /apache_pb.gif HTTP/1.0\"}");
  /* escaped quotes and backslashes in a quoted field; "-" values absent */
  OC_CHECK_INT(fm(p,
                  "::1 - - [28/Nov/2026:16:37:40 +0000] \"POST /a HTTP/2\" 500 - \"-\" "
                  "\"curl \\\"7\\\" \\\\ \\n x\"",
                  &j),
               OC_OK);
  OC_CHECK_STR(j,
               "{\"remote_ip\":\"::1\",\"timestamp\":\"28/Nov/2026:16:37:40 +0000\",\"method\":"
               "\"POST\",\"request_uri\":\"/a\",\"protocol\":\"HTTP/2\",\"status\":\"500\","
               "\"user_agent\":\"curl \\\"7\\\" \\\\ \\\\n x\",\"request\":\"POST /a HTTP/2\"}");
  /* an escaped backslash before the closing quote does not escape it */
  OC_CHECK_INT(fm(p, "1.2.3.4 - - [t] \"GET / HTTP/1.1\" 200 1 \"r\\\\\" \"ua\"", &j), OC_OK);
  OC_CHECK(strstr(j, "\"referer\":\"r\\\\\",\"user_agent\":\"ua\"") != NULL);
  /* mismatches */
  OC_CHECK_INT(fm(p, "127.0.0.1 - frank 10/Oct/2000 \"GET / HTTP/1.0\" 200 1 \"-\" \"-\"", &j),
               OC_ERR_INVALID);
  OC_CHECK(strstr(err, "does not match the fastmatch pattern") != NULL);
  OC_CHECK_INT(fm(p, "1.2.3.4 - - [t] \"GET / HTTP/1.1\" 200 1 \"r\" \"ua", &j), OC_ERR_INVALID);
  OC_CHECK(strstr(err, "no closing quote") != NULL);
  OC_CHECK_INT(fm(p, "1.2.3.4 - - [t] \"GET / HTTP/1.1\" 200 1 \"r\" \"ua\" extra", &j),
               OC_ERR_INVALID);
  OC_CHECK(strstr(err, "unexpected text after the end of the pattern at byte 47") != NULL);
  OC_CHECK_INT(fm(p, "", &j), OC_ERR_INVALID);
  oc_fastmatch_destroy(p);
}

static void test_fastmatch_alb(void) {
  const char *pat =
      "%{type} %{timestamp} %{elb} %{client} %{target} %{request_processing_time} "
      "%{target_processing_time} %{response_processing_time} %{elb_status_code} "
      "%{target_status_code} %{received_bytes} %{sent_bytes} \"%{request}\" \"%{user_agent}\" "
      "%{ssl_cipher} %{ssl_protocol} %{target_group_arn} \"%{trace_id}\" \"%{domain_name}\" "
      "\"%{chosen_cert_arn}\" %{matched_rule_priority} %{request_creation_time} "
      "\"%{actions_executed}\" \"%{redirect_url}\" \"%{error_reason}\" \"%{target_port_list}\" "
      "\"%{target_status_code_list}\" \"%{classification}\" \"%{classification_reason}\"";
  oc_textparse_opts_t o = {.empty_values = dash, .nempty = 1};
  oc_fastmatch_t *p = oc_fastmatch_new(&pat, 1, &o, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  const char *j;
  OC_CHECK_INT(
      fm(p,
         "https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 "
         "192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 \"GET "
         "https://www.example.com:443/ HTTP/1.1\" \"curl/7.46.0\" ECDHE-RSA-AES128-GCM-SHA256 "
         "TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/"
         "73e2d6bc24d8a067 \"Root=1-58337281-1d84f3d73c47ec4e58577259\" \"www.example.com\" "
         "\"arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012\" "
         "1 2018-07-02T22:22:48.364000Z \"authenticate,forward\" \"-\" \"-\" \"10.0.0.1:80\" "
         "\"200\" \"-\" \"-\"",
         &j),
      OC_OK);
  OC_CHECK_STR(
      j,
      "{\"type\":\"https\",\"timestamp\":\"2018-07-02T22:23:00.186641Z\",\"elb\":\"app/"
      "my-loadbalancer/50dc6c495c0c9188\",\"client\":\"192.168.131.39:2817\",\"target\":\"10.0.0."
      "1:80\",\"request_processing_time\":\"0.086\",\"target_processing_time\":\"0.048\","
      "\"response_processing_time\":\"0.037\",\"elb_status_code\":\"200\",\"target_status_code\":"
      "\"200\",\"received_bytes\":\"0\",\"sent_bytes\":\"57\",\"request\":\"GET "
      "https://www.example.com:443/ HTTP/1.1\",\"user_agent\":\"curl/7.46.0\",\"ssl_cipher\":"
      "\"ECDHE-RSA-AES128-GCM-SHA256\",\"ssl_protocol\":\"TLSv1.2\",\"target_group_arn\":\"arn:"
      "aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067\","
      "\"trace_id\":\"Root=1-58337281-1d84f3d73c47ec4e58577259\",\"domain_name\":\"www.example."
      "com\",\"chosen_cert_arn\":\"arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-"
      "1234-1234-123456789012\",\"matched_rule_priority\":\"1\",\"request_creation_time\":\"2018-"
      "07-02T22:22:48.364000Z\",\"actions_executed\":\"authenticate,forward\","
      "\"target_port_list\":\"10.0.0.1:80\",\"target_status_code_list\":\"200\"}");
  oc_fastmatch_destroy(p);
}

static void test_fastmatch_s3_access(void) {
  const char *pat =
      "%{bucket_owner} %{bucket} [%{time}] %{remote_ip} %{requester} %{request_id} %{operation} "
      "%{key} \"%{request_uri}\" %{http_status} %{error_code} %{bytes_sent} %{object_size} "
      "%{total_time} %{turn_around_time} \"%{referrer}\" \"%{user_agent}\" %{version_id} "
      "%{host_id} %{signature_version} %{cipher_suite} %{authentication_type} %{host_header} "
      "%{tls_version}";
  oc_textparse_opts_t o = {.empty_values = dash, .nempty = 1};
  oc_fastmatch_t *p = oc_fastmatch_new(&pat, 1, &o, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  const char *j;
  OC_CHECK_INT(
      fm(p,
         "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1 "
         "[06/Feb/2019:00:00:38 +0000] 192.0.2.3 "
         "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE "
         "REST.GET.VERSIONING - \"GET /awsexamplebucket1?versioning HTTP/1.1\" 200 - 113 - 7 - "
         "\"-\" \"S3Console/0.4\" - "
         "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV2 "
         "ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com "
         "TLSV1.1",
         &j),
      OC_OK);
  OC_CHECK_STR(j,
               "{\"bucket_owner\":\"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2"
               "be\",\"bucket\":\"awsexamplebucket1\",\"time\":\"06/Feb/2019:00:00:38 +0000\","
               "\"remote_ip\":\"192.0.2.3\",\"requester\":\"79a59df900b949e55d96a1e698fbacedfd6e"
               "09d98eacf8f8d5218e7cd47ef2be\",\"request_id\":\"3E57427F3EXAMPLE\",\"operation\":"
               "\"REST.GET.VERSIONING\",\"request_uri\":\"GET /awsexamplebucket1?versioning "
               "HTTP/1.1\",\"http_status\":\"200\",\"bytes_sent\":\"113\",\"total_time\":\"7\","
               "\"user_agent\":\"S3Console/0.4\",\"host_id\":\"s9lzHYrFp76ZVxRcpX9+"
               "5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234=\",\"signature_version\":"
               "\"SigV2\",\"cipher_suite\":\"ECDHE-RSA-AES128-GCM-SHA256\",\"authentication_type\":"
               "\"AuthHeader\",\"host_header\":\"awsexamplebucket1.s3.us-west-1.amazonaws.com\","
               "\"tls_version\":\"TLSV1.1\"}");
  oc_fastmatch_destroy(p);
}

static void test_fastmatch_semantics(void) {
  const char *j;
  /* alternatives in order, discarded fields, a suffix literal, trimSpace */
  const char *pats[] = {"<%{pri}>%{} %{host}: [%{msg}]", "%{_} %{host}: %{msg}"};
  oc_textparse_opts_t o = {.trim_space = true};
  oc_fastmatch_t *p = oc_fastmatch_new(pats, 2, &o, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  OC_CHECK_INT(fm(p, "<13>Nov-28T16:37:40 fw1: [ drop [a] then ] ]", &j), OC_OK);
  OC_CHECK_STR(j, "{\"pri\":\"13\",\"host\":\"fw1\",\"msg\":\"drop [a] then ]\"}");
  OC_CHECK_INT(fm(p, "Nov fw2:   hello  ", &j), OC_OK);
  OC_CHECK_STR(j, "{\"host\":\"fw2\",\"msg\":\"hello\"}");
  OC_CHECK_INT(fm(p, "nothing here", &j), OC_ERR_INVALID);
  OC_CHECK(strstr(err, "alternative 2 of 2") != NULL);
  OC_CHECK(strstr(err, "\": \"") != NULL);
  /* the first match wins even when a later one also matches */
  OC_CHECK_INT(fm(p, "<1>x y: [z]", &j), OC_OK);
  OC_CHECK_STR(j, "{\"pri\":\"1\",\"host\":\"y\",\"msg\":\"z\"}");
  oc_fastmatch_destroy(p);

  /* a field between quotes that are not its literals is a plain field */
  const char *kv = "user=%{user} msg=\"%{msg}\" rest=%{rest}";
  p = oc_fastmatch_new(&kv, 1, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  OC_CHECK_INT(fm(p, "user=bob msg=\"a \\\" b\" rest=x y z", &j), OC_OK);
  OC_CHECK_STR(j, "{\"user\":\"bob\",\"msg\":\"a \\\" b\",\"rest\":\"x y z\"}");
  OC_CHECK_INT(fm(p, "user= msg=\"\" rest=", &j), OC_OK);
  OC_CHECK_STR(j, "{}");
  OC_CHECK_INT(fm(p, "usr=bob msg=\"\" rest=", &j), OC_ERR_INVALID);
  OC_CHECK(strstr(err, "expected \"user=\" at byte 0") != NULL);
  oc_fastmatch_destroy(p);
}

static void test_fastmatch_compile_errors(void) {
  const char *bad[][1] = {{"%{a}%{b}"}, {"no fields"}, {"%{a} %{a}"}, {"%{a} %{b"}, {""}};
  const char *why[] = {"no literal text between", "no fields", "appears twice", "unterminated",
                       "no fields"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    OC_CHECK(oc_fastmatch_new(bad[i], 1, NULL, err, sizeof(err)) == NULL);
    OC_CHECK(strstr(err, why[i]) != NULL);
  }
  const char *ok = "%{a} %{b}";
  OC_CHECK(oc_fastmatch_new(&ok, 0, NULL, err, sizeof(err)) == NULL);
  const char *names[] = {"x"}, *tmpls[] = {"%{a}-%{c}"};
  oc_textparse_opts_t o = {.expand_names = names, .expand_templates = tmpls, .nexpand = 1};
  OC_CHECK(oc_fastmatch_new(&ok, 1, &o, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "unknown field \"c\"") != NULL);
  names[0] = "b";
  tmpls[0] = "%{a}";
  OC_CHECK(oc_fastmatch_new(&ok, 1, &o, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "also a captured field") != NULL);
  tmpls[0] = "%{a";
  OC_CHECK(oc_fastmatch_new(&ok, 1, &o, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "unterminated") != NULL);

  /* limits: 1,024 fields work, 1,025 do not; 64 KiB of pattern; 64 alternatives */
  oc_buf_t b;
  oc_buf_init(&b);
  for (int i = 0; i < 1024; i++)
    oc_buf_appendf(&b, "%%{f%d},", i);
  oc_buf_putc(&b, '\0');
  const char *pat = b.data;
  oc_fastmatch_t *p = oc_fastmatch_new(&pat, 1, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  oc_buf_t line;
  oc_buf_init(&line);
  for (int i = 0; i < 1024; i++)
    oc_buf_appendf(&line, "%d,", i);
  oc_json_t *out = NULL;
  if (p)
    OC_CHECK_INT(oc_fastmatch_line(p, &arena, line.data, line.len, &out, err, sizeof(err)), OC_OK);
  OC_CHECK(out && out->len == 1024 && oc_json_streq(oc_json_get(out, "f1023"), "1023"));
  oc_fastmatch_destroy(p);
  b.len--;
  oc_buf_puts(&b, "%{last}");
  oc_buf_putc(&b, '\0');
  pat = b.data;
  OC_CHECK(oc_fastmatch_new(&pat, 1, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "more than 1024 fields") != NULL);
  oc_buf_reset(&b);
  oc_buf_puts(&b, "%{a} ");
  while (b.len <= OC_TEXTPARSE_MAX_PATTERN)
    oc_buf_putc(&b, 'x');
  oc_buf_putc(&b, '\0');
  pat = b.data;
  OC_CHECK(oc_fastmatch_new(&pat, 1, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "longer than 65536 bytes") != NULL);
  const char *pats[65];
  for (int i = 0; i < 65; i++)
    pats[i] = ok;
  OC_CHECK(oc_fastmatch_new(pats, 65, NULL, err, sizeof(err)) == NULL);
  p = oc_fastmatch_new(pats, 64, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  oc_fastmatch_destroy(p);
  oc_buf_deinit(&b);
  oc_buf_deinit(&line);
}

/* ---- regex ---- */

static const char *juniper[] = {
    "^%{SYSLOGTIMESTAMP:timestamp} %{NOTSPACE:hostname} \\[(?P<app>[^\\]]+)\\]",
    "\\[%{LOGLEVEL:log_level}\\] ?\\[%{DATA:username}\\](?: \\[%{IP:client_ip}\\])? ",
    "%{GREEDYDATA:message}$"};

static void test_regex_juniper(void) {
  oc_regexparse_t *p = oc_regexparse_new(juniper, 3, NULL, NULL, 0, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  const char *j;
  const char *l1 =
      "Jan 22 16:14:23 my-jwas [mws-audit][INFO] [mykonos] [10.10.0.117] Logged in "
      "successfully";
  OC_CHECK_INT(rx(p, l1, strlen(l1), &j), OC_OK);
  OC_CHECK_STR(j,
               "{\"timestamp\":\"Jan 22 16:14:23\",\"hostname\":\"my-jwas\",\"app\":\"mws-audit\","
               "\"log_level\":\"INFO\",\"username\":\"mykonos\",\"client_ip\":\"10.10.0.117\","
               "\"message\":\"Logged in successfully\"}");
  const char *l2 =
      "Feb 14 19:02:54 my-jwas [mws-audit][WARN][ea77722a8516b0d1] Changed "
      "configuration parameters: services.spotlight.enabled";
  OC_CHECK_INT(rx(p, l2, strlen(l2), &j), OC_OK);
  OC_CHECK_STR(j,
               "{\"timestamp\":\"Feb 14 19:02:54\",\"hostname\":\"my-jwas\",\"app\":\"mws-audit\","
               "\"log_level\":\"WARN\",\"username\":\"ea77722a8516b0d1\",\"message\":\"Changed "
               "configuration parameters: services.spotlight.enabled\"}");
  const char *l3 =
      "Feb  7 20:29:51 my-jwas [mws-audit][INFO] [mykonos] [2001:db8::1] Login "
      "failed. Attempt: 1";
  OC_CHECK_INT(rx(p, l3, strlen(l3), &j), OC_OK);
  OC_CHECK(strstr(j, "\"client_ip\":\"2001:db8::1\",\"message\":\"Login failed. Attempt: 1\""));
  OC_CHECK_INT(rx(p, "not a juniper line", 18, &j), OC_ERR_INVALID);
  OC_CHECK(strstr(err, "does not match") != NULL);
  oc_regexparse_destroy(p);
}

static void test_regex_definitions(void) {
  const char *dn[] = {"IP", "PAIR", "KV"},
             *dp[] = {"\\d+\\.\\d+\\.\\d+\\.\\d+", "%{IP}-%{IP}", "(?P<k>\\w+)=%{PAIR:v}"};
  const char *m[] = {"^%{IP:src} %{IP} %{KV}$"};
  oc_regexparse_t *p = oc_regexparse_new(m, 1, dn, dp, 3, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  /* the schema's IP wins over the built-in one; %{IP} is not captured */
  OC_CHECK_STR(oc_regexparse_pattern(p),
               "^(?P<src>\\d+\\.\\d+\\.\\d+\\.\\d+) (?:\\d+\\.\\d+\\.\\d+\\.\\d+) (?:(?P<k>\\w+)=(?"
               "P<v>(?:\\d+\\.\\d+\\.\\d+\\.\\d+)-(?:\\d+\\.\\d+\\.\\d+\\.\\d+)))$");
  const char *j, *l = "999.1.1.1 2.2.2.2 range=1.1.1.1-3.3.3.3";
  OC_CHECK_INT(rx(p, l, strlen(l), &j), OC_OK);
  OC_CHECK_STR(j, "{\"src\":\"999.1.1.1\",\"k\":\"range\",\"v\":\"1.1.1.1-3.3.3.3\"}");
  oc_regexparse_destroy(p);

  /* %{2} is a quantifier of '%', not a reference */
  const char *q[] = {"^(?P<x>\\d%{2})$"};
  p = oc_regexparse_new(q, 1, NULL, NULL, 0, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (p) {
    OC_CHECK_INT(rx(p, "5%%", 3, &j), OC_OK);
    OC_CHECK_STR(j, "{\"x\":\"5%%\"}");
  }
  oc_regexparse_destroy(p);

  /* errors */
  const char *cn[] = {"A", "B"}, *cp[] = {"%{B}", "%{A}"};
  const char *ma[] = {"%{A:x}"};
  OC_CHECK(oc_regexparse_new(ma, 1, cn, cp, 2, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "deeper than 16") != NULL);
  const char *mu[] = {"%{NOPE:x}"};
  OC_CHECK(oc_regexparse_new(mu, 1, NULL, NULL, 0, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "unknown pattern %{NOPE}") != NULL);
  const char *mb[] = {"(?P<a>x", "y"};
  OC_CHECK(oc_regexparse_new(mb, 2, NULL, NULL, 0, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "invalid regex at offset 8") != NULL);
  const char *mn[] = {"(\\d+) (\\w+)"};
  OC_CHECK(oc_regexparse_new(mn, 1, NULL, NULL, 0, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "no named groups") != NULL);
  const char *md[] = {"(?J)(?P<a>x)|(?P<a>y)"};
  OC_CHECK(oc_regexparse_new(md, 1, NULL, NULL, 0, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "more than once") != NULL);
  const char *bn[] = {"9X"}, *bp[] = {"x"};
  OC_CHECK(oc_regexparse_new(mn, 1, bn, bp, 1, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "bad pattern definition") != NULL);
  /* doubling definitions: the expansion hits the 64 KiB limit before memory runs out */
  const char *en[16], *ep[16];
  static char enames[16][4], eps[16][16];
  for (int i = 0; i < 16; i++) {
    snprintf(enames[i], sizeof(enames[i]), "E%d", i);
    if (i == 15)
      snprintf(eps[i], sizeof(eps[i]), "xx");
    else
      snprintf(eps[i], sizeof(eps[i]), "%%{E%d}%%{E%d}", i + 1, i + 1);
    en[i] = enames[i];
    ep[i] = eps[i];
  }
  const char *me[] = {"(?P<a>%{E0})"};
  OC_CHECK(oc_regexparse_new(me, 1, en, ep, 16, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "longer than 65536") != NULL);
}

static void test_regex_values(void) {
  const char *names[] = {"where"}, *tmpls[] = {"%{host}:%{port}"};
  oc_textparse_opts_t o = {.empty_values = dash,
                           .nempty = 1,
                           .trim_space = true,
                           .expand_names = names,
                           .expand_templates = tmpls,
                           .nexpand = 1};
  const char *m[] = {"^(?P<host>[^:]*):(?P<port>[^ ]*)(?: (?P<opt>\\S+))?(?<rest>.*)$"};
  oc_regexparse_t *p = oc_regexparse_new(m, 1, NULL, NULL, 0, &o, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  const char *j;
  OC_CHECK_INT(rx(p, "a:80 x  tail ", 13, &j), OC_OK);
  OC_CHECK_STR(
      j, "{\"host\":\"a\",\"port\":\"80\",\"opt\":\"x\",\"rest\":\"tail\",\"where\":\"a:80\"}");
  /* the optional group did not take part; "-" is absent; rest is empty */
  OC_CHECK_INT(rx(p, "-:443", 5, &j), OC_OK);
  OC_CHECK_STR(j, "{\"port\":\"443\",\"where\":\":443\"}");
  OC_CHECK_INT(rx(p, "-:-", 3, &j), OC_OK);
  OC_CHECK_STR(j, "{}");
  /* invalid UTF-8 in a line is matched, not refused: the bad byte becomes U+FFFD */
  OC_CHECK_INT(rx(p, "h\xff:1", 4, &j), OC_OK);
  OC_CHECK_STR(j, "{\"host\":\"h\xEF\xBF\xBD\",\"port\":\"1\",\"where\":\"h\xEF\xBF\xBD:1\"}");
  OC_CHECK_INT(rx(p, "no colon", 8, &j), OC_ERR_INVALID);
  OC_CHECK_INT(rx(p, NULL, 0, &j), OC_ERR_INVALID);
  oc_regexparse_destroy(p);

  /* catastrophic backtracking is cut off by the match limit */
  const char *evil[] = {"^(?P<a>(x+x+)+)y$"};
  p = oc_regexparse_new(evil, 1, NULL, NULL, 0, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  char line[64];
  memset(line, 'x', sizeof(line));
  line[sizeof(line) - 2] = 'z'; /* a 'y' is there, so no required-character shortcut */
  line[sizeof(line) - 1] = 'y';
  OC_CHECK_INT(rx(p, line, sizeof(line), &j), OC_ERR_LIMIT);
  OC_CHECK(strstr(err, "backtracking limit") != NULL);
  OC_CHECK_INT(rx(p, "xxy", 3, &j), OC_OK);
  OC_CHECK_STR(j, "{\"a\":\"xx\"}");
  oc_regexparse_destroy(p);

  /* 1,024 named groups work; 1,025 do not */
  oc_buf_t b;
  oc_buf_init(&b);
  for (int i = 0; i < 1025; i++)
    oc_buf_appendf(&b, "(?P<g%d>.)", i);
  oc_buf_putc(&b, '\0');
  const char *pat = b.data;
  OC_CHECK(oc_regexparse_new(&pat, 1, NULL, NULL, 0, NULL, err, sizeof(err)) == NULL);
  OC_CHECK(strstr(err, "limit of 1024") != NULL);
  b.data[strlen(b.data) - strlen("(?P<g1024>.)")] = '\0';
  pat = b.data;
  p = oc_regexparse_new(&pat, 1, NULL, NULL, 0, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  char many[1100];
  memset(many, 'z', sizeof(many));
  oc_json_t *out = NULL;
  if (p)
    OC_CHECK_INT(oc_regexparse_line(p, &arena, many, sizeof(many), &out, err, sizeof(err)), OC_OK);
  OC_CHECK(out && out->len == 1024 && oc_json_streq(oc_json_get(out, "g1023"), "z"));
  oc_regexparse_destroy(p);
  oc_buf_deinit(&b);
  oc_regexparse_thread_release();
}

typedef struct {
  const oc_regexparse_t *p;
  int id, bad;
} rx_job_t;

static void *rx_worker(void *arg) {
  rx_job_t *job = arg;
  oc_arena_t a;
  oc_arena_init(&a, 4096);
  for (int i = 0; i < 2000; i++) {
    char line[128], want[64];
    int n = snprintf(line, sizeof(line),
                     "Mar  3 01:02:03 h%d [app][ERROR] [u%d] [10.0.%d.%d] message %d", job->id, i,
                     job->id, i % 250, i);
    oc_json_t *o = NULL;
    char e[128];
    if (oc_regexparse_line(job->p, &a, line, (size_t)n, &o, e, sizeof(e)) != OC_OK) {
      job->bad++;
      continue;
    }
    snprintf(want, sizeof(want), "10.0.%d.%d", job->id, i % 250);
    if (!oc_json_streq(oc_json_get(o, "client_ip"), want)) job->bad++;
    snprintf(want, sizeof(want), "u%d", i);
    if (!oc_json_streq(oc_json_get(o, "username"), want)) job->bad++;
    oc_arena_reset(&a);
  }
  oc_regexparse_thread_release();
  oc_arena_deinit(&a);
  return NULL;
}

static void test_regex_threads(void) {
  oc_regexparse_t *p = oc_regexparse_new(juniper, 3, NULL, NULL, 0, NULL, err, sizeof(err));
  OC_CHECK(p != NULL);
  if (!p) return;
  pthread_t th[4];
  rx_job_t jobs[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (rx_job_t){p, i, 0};
    OC_CHECK(pthread_create(&th[i], NULL, rx_worker, &jobs[i]) == 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    OC_CHECK_INT(jobs[i].bad, 0);
  }
  oc_regexparse_destroy(p);
}

static void setup(void) {
  oc_arena_init(&arena, 4096);
}

static void teardown(void) {
  oc_arena_deinit(&arena);
}

static void test_setup(void) {
  setup();
}
static void test_teardown(void) {
  teardown();
}

OC_TEST_MAIN(OC_TEST(test_setup), OC_TEST(test_csv_vpc_flow_header),
             OC_TEST(test_csv_umbrella_no_header), OC_TEST(test_csv_quoting),
             OC_TEST(test_csv_header_and_columns), OC_TEST(test_csv_options_and_limits),
             OC_TEST(test_csv_expand), OC_TEST(test_fastmatch_apache), OC_TEST(test_fastmatch_alb),
             OC_TEST(test_fastmatch_s3_access), OC_TEST(test_fastmatch_semantics),
             OC_TEST(test_fastmatch_compile_errors), OC_TEST(test_regex_juniper),
             OC_TEST(test_regex_definitions), OC_TEST(test_regex_values),
             OC_TEST(test_regex_threads), OC_TEST(test_teardown))
