/* Indicator scanners and the per-event set: every scanner on valid, invalid and edge
 * values (checked through the exact write() output), dedup and ordering, the limits,
 * reuse across resets, and the AWS walk over a CloudTrail RunInstances event. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/json.h"
#include "oc_test.h"
#include "services/log-processor/indicators.h"

/* Scans v with scanner k in a fresh set and returns what write() appends (static). */
static const char *scan1(oc_ind_kind_t k, const char *v) {
  static char res[8192];
  oc_indset_t s;
  oc_buf_t out;
  oc_indset_init(&s);
  oc_buf_init(&out);
  oc_indset_scan(&s, k, v, strlen(v));
  OC_CHECK(oc_indset_write(&s, &out));
  snprintf(res, sizeof(res), "%s", out.data ? out.data : "");
  oc_buf_deinit(&out);
  oc_indset_deinit(&s);
  return res;
}

/* write() of an existing set, into a static buffer. */
static const char *written(oc_indset_t *s) {
  static char res[65536];
  oc_buf_t out;
  oc_buf_init(&out);
  OC_CHECK(oc_indset_write(s, &out));
  snprintf(res, sizeof(res), "%s", out.data ? out.data : "");
  oc_buf_deinit(&out);
  return res;
}

#define IPS(x) ",\"p_any_ip_addresses\":[\"" x "\"]"
#define DOMS(x) ",\"p_any_domain_names\":[\"" x "\"]"

static void test_kind_names(void) {
  static const char *names[] = {"ip",
                                "domain",
                                "hostname",
                                "url",
                                "net_addr",
                                "md5",
                                "sha1",
                                "sha256",
                                "aws_arn",
                                "aws_account_id",
                                "aws_instance_id",
                                "aws_tag",
                                "email",
                                "trace_id",
                                "username"};
  OC_CHECK_INT(sizeof(names) / sizeof(names[0]), OC_IND__N);
  for (int k = 0; k < OC_IND__N; k++) {
    oc_ind_kind_t got = OC_IND__N;
    OC_CHECK(oc_ind_kind_parse(names[k], strlen(names[k]), &got));
    OC_CHECK_INT(got, k);
    OC_CHECK_STR(oc_ind_kind_name((oc_ind_kind_t)k), names[k]);
  }
  oc_ind_kind_t got;
  OC_CHECK(!oc_ind_kind_parse("IP", 2, &got));
  OC_CHECK(!oc_ind_kind_parse("ipv4", 4, &got));
  OC_CHECK(!oc_ind_kind_parse("i", 1, &got));
  OC_CHECK(!oc_ind_kind_parse("", 0, &got));
  OC_CHECK(oc_ind_kind_parse("md5xyz", 3, &got) && got == OC_IND_MD5); /* length-bounded */
  OC_CHECK_STR(oc_ind_kind_name(OC_IND__N), "?");
  OC_CHECK_STR(oc_ind_field_name(OC_INDF_IP), "p_any_ip_addresses");
  OC_CHECK_STR(oc_ind_field_name(OC_INDF_USERNAME), "p_any_usernames");
}

static void test_ip_valid(void) {
  OC_CHECK_STR(scan1(OC_IND_IP, "1.2.3.4"), IPS("1.2.3.4"));
  OC_CHECK_STR(scan1(OC_IND_IP, "  198.51.100.7\t"), IPS("198.51.100.7"));
  OC_CHECK_STR(scan1(OC_IND_IP, "0.0.0.0"), IPS("0.0.0.0"));
  OC_CHECK_STR(scan1(OC_IND_IP, "255.255.255.255"), IPS("255.255.255.255"));
  OC_CHECK_STR(scan1(OC_IND_IP, "2001:db8::1"), IPS("2001:db8::1"));
  OC_CHECK_STR(scan1(OC_IND_IP, "2001:0DB8:0000:0000:0000:FF00:0042:8329"),
               IPS("2001:0db8:0000:0000:0000:ff00:0042:8329"));
  OC_CHECK_STR(scan1(OC_IND_IP, "::"), IPS("::"));
  OC_CHECK_STR(scan1(OC_IND_IP, "::1"), IPS("::1"));
  OC_CHECK_STR(scan1(OC_IND_IP, "1::"), IPS("1::"));
  OC_CHECK_STR(scan1(OC_IND_IP, "1:2:3:4:5:6:7::"), IPS("1:2:3:4:5:6:7::"));
  OC_CHECK_STR(scan1(OC_IND_IP, "::2:3:4:5:6:7:8"), IPS("::2:3:4:5:6:7:8"));
  /* IPv4-mapped and -embedded forms stay as written */
  OC_CHECK_STR(scan1(OC_IND_IP, "::ffff:192.0.2.128"), IPS("::ffff:192.0.2.128"));
  OC_CHECK_STR(scan1(OC_IND_IP, "::FFFF:192.0.2.128"), IPS("::ffff:192.0.2.128"));
  OC_CHECK_STR(scan1(OC_IND_IP, "1:2:3:4:5:6:1.2.3.4"), IPS("1:2:3:4:5:6:1.2.3.4"));
  /* a zone is validated and dropped */
  OC_CHECK_STR(scan1(OC_IND_IP, "fe80::1%eth0"), IPS("fe80::1"));
  OC_CHECK_STR(scan1(OC_IND_IP, "FE80::1FF:FE23:4567:890A%3"), IPS("fe80::1ff:fe23:4567:890a"));
}

static void test_ip_invalid(void) {
  static const char *bad[] = {"",
                              "   ",
                              "1.2.3",
                              "1.2.3.4.5",
                              "256.1.1.1",
                              "1.2.3.04",
                              "01.2.3.4",
                              "1.2.3.-4",
                              "1.2..4",
                              "1.2.3.4 5",
                              "1.2.3.4%eth0",
                              "a.b.c.d",
                              "localhost",
                              ":",
                              ":::",
                              ":1::",
                              "1:",
                              "1:2:3:4:5:6:7:8:9",
                              "1:2:3:4:5:6:7",
                              "1:2:3:4:5:6:7:8::",
                              "1::2::3",
                              "12345::1",
                              "gggg::1",
                              "::1.2.3",
                              "::1.2.3.4:5",
                              "1:2:3:4:5:6:7:1.2.3.4",
                              "fe80::1%",
                              "fe80::1% eth0",
                              "[::1]",
                              "1.2.3.4/24"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const char *got = scan1(OC_IND_IP, bad[i]);
    if (got[0]) fprintf(stderr, "ip accepted \"%s\": %s\n", bad[i], got);
    OC_CHECK_STR(got, "");
  }
}

static void test_domain_hostname(void) {
  OC_CHECK_STR(scan1(OC_IND_DOMAIN, " www.example.com "), DOMS("www.example.com"));
  OC_CHECK_STR(scan1(OC_IND_DOMAIN, "  \t"), "");
  OC_CHECK_STR(scan1(OC_IND_DOMAIN, ""), "");
  OC_CHECK_STR(scan1(OC_IND_HOSTNAME, "ip-10-0-0-1.ec2.internal"),
               DOMS("ip-10-0-0-1.ec2.internal"));
  OC_CHECK_STR(scan1(OC_IND_HOSTNAME, "10.0.0.1"), IPS("10.0.0.1"));
  OC_CHECK_STR(scan1(OC_IND_HOSTNAME, " 2001:DB8::5 "), IPS("2001:db8::5"));
  OC_CHECK_STR(scan1(OC_IND_HOSTNAME, "fe80::1%en0"), IPS("fe80::1"));
  OC_CHECK_STR(scan1(OC_IND_HOSTNAME, "256.0.0.1"), DOMS("256.0.0.1")); /* as Panther */
  OC_CHECK_STR(scan1(OC_IND_HOSTNAME, ""), "");
}

static void test_url(void) {
  OC_CHECK_STR(scan1(OC_IND_URL, "https://www.example.com/a/b?c=d#e"), DOMS("www.example.com"));
  OC_CHECK_STR(scan1(OC_IND_URL, "https://user:p%40ss@login.example.com:8443/x"),
               DOMS("login.example.com"));
  OC_CHECK_STR(scan1(OC_IND_URL, "http://a@b@host.example/"), DOMS("host.example"));
  OC_CHECK_STR(scan1(OC_IND_URL, "ftp://files.example.org"), DOMS("files.example.org"));
  OC_CHECK_STR(scan1(OC_IND_URL, "HTTP://Example.COM?q"), DOMS("Example.COM"));
  OC_CHECK_STR(scan1(OC_IND_URL, "http://192.0.2.1:8080/index.html"), IPS("192.0.2.1"));
  OC_CHECK_STR(scan1(OC_IND_URL, "http://[2001:DB8::1]:443/x"), IPS("2001:db8::1"));
  OC_CHECK_STR(scan1(OC_IND_URL, "http://[::1]"), IPS("::1"));
  OC_CHECK_STR(scan1(OC_IND_URL, "http://[fe80::1%25en0]:80/"), IPS("fe80::1"));
  OC_CHECK_STR(scan1(OC_IND_URL, "s3+tls://bucket.s3.amazonaws.com:/k"),
               DOMS("bucket.s3.amazonaws.com"));
  static const char *bad[] = {"",
                              "example.com",
                              "example.com/path",
                              "/relative/path",
                              "mailto:alice@example.com",
                              "http:/example.com",
                              "http://",
                              "http:///path",
                              "http://user@/path",
                              "http://:80/",
                              "http://host:abc/",
                              "http://host:80:90/",
                              "http://[::1",
                              "http://[not-an-ip]/",
                              "http://[::1]x/",
                              "http://[fe80::1%en0]/",
                              "http://a b/",
                              "http://ex%41mple.com/",
                              "1http://example.com",
                              "://example.com"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const char *got = scan1(OC_IND_URL, bad[i]);
    if (got[0]) fprintf(stderr, "url accepted \"%s\": %s\n", bad[i], got);
    OC_CHECK_STR(got, "");
  }
}

static void test_net_addr(void) {
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, "10.0.0.1:443"), IPS("10.0.0.1"));
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, "10.0.0.1"), IPS("10.0.0.1"));
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, "[2001:db8::1]:53"), IPS("2001:db8::1"));
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, "[::1]"), IPS("::1"));
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, "[fe80::1%eth0]:22"), IPS("fe80::1"));
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, "2001:db8::1"), IPS("2001:db8::1"));
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, "::ffff:10.1.2.3"), IPS("::ffff:10.1.2.3"));
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, "db.internal:5432"), DOMS("db.internal"));
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, " db.internal "), DOMS("db.internal"));
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, "[db.internal]:5432"), DOMS("db.internal"));
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, "a:b:c"), "");
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, ":80"), "");
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, "[::1"), "");
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, "[::1]80"), "");
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, "[]:80"), "");
  OC_CHECK_STR(scan1(OC_IND_NET_ADDR, ""), "");
}

static void test_hashes(void) {
  const char *md5 = "D41D8CD98F00B204E9800998ECF8427E";
  OC_CHECK_STR(scan1(OC_IND_MD5, md5),
               ",\"p_any_md5_hashes\":[\"d41d8cd98f00b204e9800998ecf8427e\"]");
  OC_CHECK_STR(scan1(OC_IND_MD5, "d41d8cd98f00b204e9800998ecf8427"), ""); /* 31 */
  OC_CHECK_STR(scan1(OC_IND_MD5, "d41d8cd98f00b204e9800998ecf8427ee"), "");
  OC_CHECK_STR(scan1(OC_IND_MD5, "g41d8cd98f00b204e9800998ecf8427e"), "");
  OC_CHECK_STR(scan1(OC_IND_MD5, "da39a3ee5e6b4b0d3255bfef95601890afd80709"), ""); /* a sha1 */
  OC_CHECK_STR(scan1(OC_IND_SHA1, " da39a3ee5e6b4b0d3255bfef95601890afd80709 "),
               ",\"p_any_sha1_hashes\":[\"da39a3ee5e6b4b0d3255bfef95601890afd80709\"]");
  OC_CHECK_STR(scan1(OC_IND_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd8070z"), "");
  OC_CHECK_STR(
      scan1(OC_IND_SHA256, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"),
      ",\"p_any_sha256_hashes\":[\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b"
      "855\"]");
  OC_CHECK_STR(
      scan1(OC_IND_SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"), "");
  /* case variants are one value */
  oc_indset_t s;
  oc_indset_init(&s);
  oc_indset_scan(&s, OC_IND_MD5, md5, 32);
  oc_indset_scan(&s, OC_IND_MD5, "d41d8cd98f00b204e9800998ecf8427e", 32);
  OC_CHECK_INT(oc_indset_count(&s, OC_INDF_MD5), 1);
  oc_indset_deinit(&s);
}

static void test_arn(void) {
  OC_CHECK_STR(
      scan1(OC_IND_AWS_ARN, "arn:aws:ec2:us-east-1:123456789012:instance/i-0abcdef1234567890"),
      ",\"p_any_aws_account_ids\":[\"123456789012\"]"
      ",\"p_any_aws_instance_ids\":[\"i-0abcdef1234567890\"]"
      ",\"p_any_aws_arns\":[\"arn:aws:ec2:us-east-1:123456789012:instance/"
      "i-0abcdef1234567890\"]");
  OC_CHECK_STR(scan1(OC_IND_AWS_ARN, "arn:aws:iam::123456789012:role/OrgAccessRole"),
               ",\"p_any_aws_account_ids\":[\"123456789012\"]"
               ",\"p_any_aws_arns\":[\"arn:aws:iam::123456789012:role/OrgAccessRole\"]");
  OC_CHECK_STR(
      scan1(OC_IND_AWS_ARN, "arn:aws:sts::123456789012:assumed-role/OrgAccessRole/session-1"),
      ",\"p_any_aws_account_ids\":[\"123456789012\"]"
      ",\"p_any_aws_arns\":[\"arn:aws:sts::123456789012:assumed-role/OrgAccessRole/"
      "session-1\"]");
  /* no account (S3), a non-numeric account (AWS managed policy) */
  OC_CHECK_STR(scan1(OC_IND_AWS_ARN, "arn:aws:s3:::my-bucket/key:with:colons"),
               ",\"p_any_aws_arns\":[\"arn:aws:s3:::my-bucket/key:with:colons\"]");
  OC_CHECK_STR(scan1(OC_IND_AWS_ARN, "arn:aws:iam::aws:policy/AdministratorAccess"),
               ",\"p_any_aws_arns\":[\"arn:aws:iam::aws:policy/AdministratorAccess\"]");
  /* an instance resource whose id is not an instance id: ARN and account only */
  OC_CHECK_STR(scan1(OC_IND_AWS_ARN, "arn:aws-cn:ec2:cn-north-1:123456789012:instance/*"),
               ",\"p_any_aws_account_ids\":[\"123456789012\"]"
               ",\"p_any_aws_arns\":[\"arn:aws-cn:ec2:cn-north-1:123456789012:instance/*\"]");
  static const char *bad[] = {"",
                              "arn",
                              "arn:",
                              "arn:aws",
                              "arn:aws:s3",
                              "arn:aws:s3::",
                              "arn:aws:s3:::",
                              "arn::s3:::bucket",
                              "arn:aws::::bucket",
                              "ARN:aws:s3:::bucket",
                              "urn:aws:s3:::bucket",
                              "xarn:aws:s3:::bucket"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const char *got = scan1(OC_IND_AWS_ARN, bad[i]);
    if (got[0]) fprintf(stderr, "arn accepted \"%s\": %s\n", bad[i], got);
    OC_CHECK_STR(got, "");
  }
}

static void test_aws_ids_tags(void) {
  OC_CHECK_STR(scan1(OC_IND_AWS_ACCOUNT_ID, " 012345678901 "),
               ",\"p_any_aws_account_ids\":[\"012345678901\"]");
  OC_CHECK_STR(scan1(OC_IND_AWS_ACCOUNT_ID, "12345678901"), "");
  OC_CHECK_STR(scan1(OC_IND_AWS_ACCOUNT_ID, "1234567890123"), "");
  OC_CHECK_STR(scan1(OC_IND_AWS_ACCOUNT_ID, "12345678901a"), "");
  OC_CHECK_STR(scan1(OC_IND_AWS_INSTANCE_ID, "i-0abcdef1234567890"),
               ",\"p_any_aws_instance_ids\":[\"i-0abcdef1234567890\"]");
  OC_CHECK_STR(scan1(OC_IND_AWS_INSTANCE_ID, "i-1a2b3c4d"),
               ",\"p_any_aws_instance_ids\":[\"i-1a2b3c4d\"]");
  OC_CHECK_STR(scan1(OC_IND_AWS_INSTANCE_ID, "i-1a2b3c4"), "");
  OC_CHECK_STR(scan1(OC_IND_AWS_INSTANCE_ID, "i-0abcdef123456789"), "");   /* 16 */
  OC_CHECK_STR(scan1(OC_IND_AWS_INSTANCE_ID, "i-0abcdef1234567890a"), ""); /* 18 */
  OC_CHECK_STR(scan1(OC_IND_AWS_INSTANCE_ID, "i-1a2b3c4g"), "");
  OC_CHECK_STR(scan1(OC_IND_AWS_INSTANCE_ID, "ami-1a2b3c4d"), "");
  OC_CHECK_STR(scan1(OC_IND_AWS_TAG, "Name:web-1"), ",\"p_any_aws_tags\":[\"Name:web-1\"]");
  OC_CHECK_STR(scan1(OC_IND_AWS_TAG, "aws:cloudformation:stack-name:prod"),
               ",\"p_any_aws_tags\":[\"aws:cloudformation:stack-name:prod\"]");
  OC_CHECK_STR(scan1(OC_IND_AWS_TAG, "empty:"), ",\"p_any_aws_tags\":[\"empty:\"]");
  OC_CHECK_STR(scan1(OC_IND_AWS_TAG, ":value"), "");
  OC_CHECK_STR(scan1(OC_IND_AWS_TAG, "novalue"), "");
}

static void test_email_trace_username(void) {
  OC_CHECK_STR(scan1(OC_IND_EMAIL, " alice@example.com "),
               ",\"p_any_emails\":[\"alice@example.com\"]");
  OC_CHECK_STR(scan1(OC_IND_EMAIL, "alice"), "");
  OC_CHECK_STR(scan1(OC_IND_EMAIL, "@example.com"), "");
  OC_CHECK_STR(scan1(OC_IND_EMAIL, "alice@"), "");
  OC_CHECK_STR(scan1(OC_IND_EMAIL, "a@b@c"), "");
  OC_CHECK_STR(scan1(OC_IND_EMAIL, "al ice@example.com"), "");
  OC_CHECK_STR(scan1(OC_IND_TRACE_ID, "1-5f84c7a5-4ae4c8a6b9f4b3e8c1a2d3e4"),
               ",\"p_any_trace_ids\":[\"1-5f84c7a5-4ae4c8a6b9f4b3e8c1a2d3e4\"]");
  OC_CHECK_STR(scan1(OC_IND_TRACE_ID, "  "), "");
  OC_CHECK_STR(scan1(OC_IND_USERNAME, " root "), ",\"p_any_usernames\":[\"root\"]");
  OC_CHECK_STR(scan1(OC_IND_USERNAME, ""), "");
  OC_CHECK_STR(scan1(OC_IND__N, "1.2.3.4"), ""); /* unknown scanner */
}

/* Dedup, bytewise order (shorter prefix first), the fixed array order, escaping. */
static void test_write_exact(void) {
  oc_indset_t s;
  oc_indset_init(&s);
  oc_buf_t out;
  oc_buf_init(&out);
  OC_CHECK(oc_indset_write(&s, &out)); /* empty: nothing */
  OC_CHECK_INT(out.len, 0);
  oc_buf_deinit(&out);
  const struct {
    oc_ind_kind_t k;
    const char *v;
  } in[] = {
      {OC_IND_USERNAME, "zed"},
      {OC_IND_IP, "10.0.0.2"},
      {OC_IND_USERNAME, "Zed"},
      {OC_IND_IP, "10.0.0.10"},
      {OC_IND_HOSTNAME, "10.0.0.2"},
      {OC_IND_NET_ADDR, "10.0.0.2:22"},
      {OC_IND_IP, "2001:db8::1"},
      {OC_IND_URL, "https://b.example/"},
      {OC_IND_DOMAIN, "a.example.com"},
      {OC_IND_DOMAIN, "a.example"},
      {OC_IND_DOMAIN, "a.example.com"},
      {OC_IND_USERNAME, "say \"hi\"\\\nok"},
      {OC_IND_TRACE_ID, "t-1"},
      {OC_IND_AWS_TAG, "env:prod"},
      {OC_IND_EMAIL, "bob@example.com"},
      {OC_IND_AWS_ACCOUNT_ID, "222222222222"},
      {OC_IND_AWS_ARN, "arn:aws:iam::111111111111:user/bob"},
      {OC_IND_USERNAME, "zed"},
  };
  for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
    oc_indset_scan(&s, in[i].k, in[i].v, strlen(in[i].v));
  const char *want =
      ",\"p_any_ip_addresses\":[\"10.0.0.10\",\"10.0.0.2\",\"2001:db8::1\"]"
      ",\"p_any_domain_names\":[\"a.example\",\"a.example.com\",\"b.example\"]"
      ",\"p_any_trace_ids\":[\"t-1\"]"
      ",\"p_any_aws_account_ids\":[\"111111111111\",\"222222222222\"]"
      ",\"p_any_aws_arns\":[\"arn:aws:iam::111111111111:user/bob\"]"
      ",\"p_any_aws_tags\":[\"env:prod\"]"
      ",\"p_any_emails\":[\"bob@example.com\"]"
      ",\"p_any_usernames\":[\"Zed\",\"say \\\"hi\\\"\\\\\\nok\",\"zed\"]";
  OC_CHECK_STR(written(&s), want);
  OC_CHECK_STR(written(&s), want); /* writing again gives the same */
  OC_CHECK_INT(oc_indset_count(&s, OC_INDF_IP), 3);
  OC_CHECK_INT(oc_indset_count(&s, OC_INDF_DOMAIN), 3);
  OC_CHECK_INT(oc_indset_count(&s, OC_INDF_USERNAME), 3);
  OC_CHECK_INT(oc_indset_count(&s, OC_INDF_MD5), 0);
  OC_CHECK_INT(oc_indset_count(&s, 12), 0);
  OC_CHECK_INT(oc_indset_count(&s, -1), 0);
  OC_CHECK_INT(oc_indset_size(&s), 15);
  /* the written text is valid JSON once wrapped in an object */
  char doc[4096];
  snprintf(doc, sizeof(doc), "{\"x\":1%s}", want);
  oc_arena_t a;
  char err[128];
  oc_arena_init(&a, 4096);
  const oc_json_t *j = oc_json_parse(&a, doc, strlen(doc), 8, err, sizeof(err));
  OC_CHECK(j != NULL);
  const oc_json_t *u = oc_json_at(oc_json_get(j, "p_any_usernames"), 1);
  OC_CHECK(u && oc_json_streq(u, "say \"hi\"\\\nok"));
  oc_arena_deinit(&a);
  /* the same value under two fields is kept in both */
  oc_indset_reset(&s);
  oc_indset_scan(&s, OC_IND_USERNAME, "alice@example.com", 17);
  oc_indset_scan(&s, OC_IND_EMAIL, "alice@example.com", 17);
  OC_CHECK_STR(written(&s),
               ",\"p_any_emails\":[\"alice@example.com\"],\"p_any_usernames\":[\"alice@"
               "example.com\"]");
  oc_indset_deinit(&s);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Many values (the heapsort path), duplicates, the value limit, reuse after reset. */
static void test_many_and_limits(void) {
  oc_indset_t s;
  oc_indset_init(&s);
  static char vals[OC_INDSET_MAX_VALUES][32];
  static const char *sorted[OC_INDSET_MAX_VALUES];
  for (int round = 0; round < 3; round++) {
    oc_indset_reset(&s);
    /* pseudo-random order, every value offered twice */
    for (int pass = 0; pass < 2; pass++) {
      for (unsigned i = 0; i < OC_INDSET_MAX_VALUES; i++) {
        unsigned j = (i * 2654435761u + (unsigned)round) % OC_INDSET_MAX_VALUES;
        snprintf(vals[j], sizeof(vals[j]), "u%u-%u", j * 7919u % 100003u, round);
        oc_indset_scan(&s, OC_IND_USERNAME, vals[j], strlen(vals[j]));
      }
    }
    OC_CHECK_INT(oc_indset_count(&s, OC_INDF_USERNAME), OC_INDSET_MAX_VALUES);
    OC_CHECK_INT(oc_indset_dropped(&s), 0);
    /* the set is full: a new value is dropped and counted, a repeat is not */
    oc_indset_scan(&s, OC_IND_USERNAME, "one-more", 8);
    oc_indset_scan(&s, OC_IND_IP, "1.2.3.4", 7);
    oc_indset_scan(&s, OC_IND_USERNAME, vals[5], strlen(vals[5]));
    OC_CHECK_INT(oc_indset_dropped(&s), 2);
    OC_CHECK_INT(oc_indset_size(&s), OC_INDSET_MAX_VALUES);
    /* expected output, built independently */
    for (unsigned i = 0; i < OC_INDSET_MAX_VALUES; i++)
      sorted[i] = vals[i];
    qsort(sorted, OC_INDSET_MAX_VALUES, sizeof(sorted[0]), cmp_str);
    oc_buf_t want;
    oc_buf_init(&want);
    oc_buf_puts(&want, ",\"p_any_usernames\":[");
    for (unsigned i = 0; i < OC_INDSET_MAX_VALUES; i++) {
      if (i) oc_buf_putc(&want, ',');
      oc_buf_appendf(&want, "\"%s\"", sorted[i]);
    }
    oc_buf_putc(&want, ']');
    OC_CHECK_STR(written(&s), want.data);
    oc_buf_deinit(&want);
  }
  /* after a reset the old values are gone (the hash table was cleared) */
  oc_indset_reset(&s);
  OC_CHECK_INT(oc_indset_dropped(&s), 0);
  OC_CHECK_STR(written(&s), "");
  oc_indset_scan(&s, OC_IND_USERNAME, vals[5], strlen(vals[5]));
  oc_indset_scan(&s, OC_IND_USERNAME, vals[5], strlen(vals[5]));
  OC_CHECK_INT(oc_indset_size(&s), 1);
  /* the per-value byte limit */
  oc_indset_reset(&s);
  static char big[OC_INDSET_MAX_VALUE_BYTES + 1];
  memset(big, 'x', sizeof(big));
  oc_indset_scan(&s, OC_IND_USERNAME, big, OC_INDSET_MAX_VALUE_BYTES + 1);
  OC_CHECK_INT(oc_indset_dropped(&s), 1);
  OC_CHECK_INT(oc_indset_size(&s), 0);
  oc_indset_scan(&s, OC_IND_USERNAME, big, OC_INDSET_MAX_VALUE_BYTES);
  OC_CHECK_INT(oc_indset_size(&s), 1);
  size_t len = 0;
  int field = -1;
  const char *v = oc_indset_value(&s, 0, &len, &field);
  OC_CHECK(v && len == OC_INDSET_MAX_VALUE_BYTES && field == OC_INDF_USERNAME);
  OC_CHECK(oc_indset_value(&s, 1, NULL, NULL) == NULL);
  /* values need not be NUL-terminated and are copied */
  oc_indset_reset(&s);
  char tmp[] = "10.1.1.1XYZ";
  oc_indset_scan(&s, OC_IND_IP, tmp, 8);
  memset(tmp, '9', sizeof(tmp) - 1);
  OC_CHECK_STR(written(&s), IPS("10.1.1.1"));
  oc_indset_deinit(&s);
  oc_indset_deinit(&s); /* twice is fine */
}

/* A CloudTrail RunInstances event, shaped as AWS writes it. */
static const char *RUN_INSTANCES =
    "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"AssumedRole\","
    "\"principalId\":\"AROAEXAMPLEID:alice\",\"arn\":\"arn:aws:sts::123456789012:assumed-role/"
    "Admin/alice\",\"accountId\":\"123456789012\",\"accessKeyId\":\"ASIAEXAMPLE\","
    "\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"AROAEXAMPLEID\","
    "\"arn\":\"arn:aws:iam::123456789012:role/Admin\",\"accountId\":\"123456789012\","
    "\"userName\":\"Admin\"},\"attributes\":{\"creationDate\":\"2026-11-01T09:00:00Z\","
    "\"mfaAuthenticated\":\"false\"}}},\"eventTime\":\"2026-11-01T10:00:05Z\","
    "\"eventSource\":\"ec2.amazonaws.com\",\"eventName\":\"RunInstances\",\"awsRegion\":"
    "\"us-east-1\",\"sourceIPAddress\":\"198.51.100.7\",\"userAgent\":\"aws-cli/2.9.13\","
    "\"requestParameters\":{\"instancesSet\":{\"items\":[{\"imageId\":\"ami-0abcdef1234567890\","
    "\"minCount\":1,\"maxCount\":1}]},\"instanceType\":\"t3.micro\",\"tagSpecificationSet\":"
    "{\"items\":[{\"resourceType\":\"instance\",\"tags\":[{\"key\":\"Name\",\"value\":\"web-1\"},"
    "{\"key\":\"env\",\"value\":\"prod\"}]}]},\"iamInstanceProfile\":{\"arn\":"
    "\"arn:aws:iam::123456789012:instance-profile/web\"}},\"responseElements\":{"
    "\"requestId\":\"r-1\",\"reservationId\":\"r-0123456789abcdef0\",\"ownerId\":\"123456789012\","
    "\"instancesSet\":{\"items\":[{\"instanceId\":\"i-0abcdef1234567890\",\"imageId\":"
    "\"ami-0abcdef1234567890\",\"tagSet\":{\"items\":[{\"key\":\"Name\",\"value\":\"web-1\"},"
    "{\"key\":\"team\",\"value\":\"\"}]},\"networkInterfaceSet\":{\"items\":[{"
    "\"networkInterfaceId\":\"eni-1\",\"privateIpAddress\":\"10.0.0.5\"}]}},{\"instanceId\":"
    "\"not-an-instance\"}]}},\"requestID\":\"r-1\",\"eventID\":"
    "\"3c0f8a4e-1b2c-4d5e-8f90-123456789abc\",\"readOnly\":false,\"resources\":[{\"ARN\":"
    "\"arn:aws:ec2:us-east-1:123456789012:instance/i-0fedcba9876543210\",\"accountId\":"
    "\"123456789012\",\"type\":\"AWS::EC2::Instance\"}],\"eventType\":\"AwsApiCall\","
    "\"managementEvent\":true,\"recipientAccountId\":\"210987654321\",\"sharedEventID\":"
    "\"x\",\"vpcEndpointAccountId\":\"not12digits\",\"Tags\":[{\"Key\":\"cost\",\"Value\":"
    "\"42\"},{\"Key\":\"num\",\"Value\":7}],\"TagSet\":[{\"Key\":\"k\"}],\"tags\":\"notalist\","
    "\"refs\":[\"arn:aws:s3:::logs-bucket\",\"arn:\",17,null],\"sourceInstanceId\":"
    "\"i-1a2b3c4d\",\"deep\":[[[{\"vpcEndpointInstanceId\":\"i-deadbeef\"}]]]}";

static void test_walk_cloudtrail(void) {
  oc_arena_t a;
  char err[256];
  oc_arena_init(&a, 16384);
  const oc_json_t *ev =
      oc_json_parse(&a, RUN_INSTANCES, strlen(RUN_INSTANCES), 64, err, sizeof(err));
  OC_CHECK(ev != NULL);
  if (!ev) fprintf(stderr, "%s\n", err);
  oc_indset_t s;
  oc_indset_init(&s);
  if (ev) {
    oc_indset_walk_aws(&s, ev);
    /* the schema's own indicator for sourceIPAddress goes in the same set */
    const oc_json_t *ip = oc_json_get(ev, "sourceIPAddress");
    oc_indset_scan(&s, OC_IND_IP, ip->s, ip->len);
    const char *want =
        ",\"p_any_ip_addresses\":[\"198.51.100.7\"]"
        ",\"p_any_aws_account_ids\":[\"123456789012\",\"210987654321\"]"
        ",\"p_any_aws_instance_ids\":[\"i-0abcdef1234567890\",\"i-0fedcba9876543210\","
        "\"i-1a2b3c4d\",\"i-deadbeef\"]"
        ",\"p_any_aws_arns\":[\"arn:aws:ec2:us-east-1:123456789012:instance/i-0fedcba9876543210\","
        "\"arn:aws:iam::123456789012:instance-profile/web\","
        "\"arn:aws:iam::123456789012:role/Admin\","
        "\"arn:aws:s3:::logs-bucket\","
        "\"arn:aws:sts::123456789012:assumed-role/Admin/alice\"]"
        ",\"p_any_aws_tags\":[\"Name:web-1\",\"cost:42\",\"env:prod\",\"team:\"]";
    OC_CHECK_STR(written(&s), want);
    /* walking again into the same set changes nothing */
    oc_indset_walk_aws(&s, ev);
    OC_CHECK_STR(written(&s), want);
  }
  /* non-object events */
  oc_indset_reset(&s);
  oc_indset_walk_aws(&s, NULL);
  const oc_json_t *str = oc_json_parse(&a, "\"arn:aws:s3:::b\"", 16, 8, err, sizeof(err));
  oc_indset_walk_aws(&s, str);
  OC_CHECK_STR(written(&s), ",\"p_any_aws_arns\":[\"arn:aws:s3:::b\"]");
  oc_indset_deinit(&s);
  oc_arena_deinit(&a);
}

/* The walk stops at its depth limit instead of recursing without bound. */
static void test_walk_depth(void) {
  size_t depth = 400;
  oc_buf_t doc;
  oc_buf_init(&doc);
  for (size_t i = 0; i < depth; i++)
    oc_buf_puts(&doc, "{\"a\":");
  oc_buf_puts(&doc, "\"arn:aws:s3:::deep\"");
  for (size_t i = 0; i < depth; i++)
    oc_buf_putc(&doc, '}');
  oc_arena_t a;
  char err[128];
  oc_arena_init(&a, 65536);
  const oc_json_t *ev = oc_json_parse(&a, doc.data, doc.len, 1000, err, sizeof(err));
  OC_CHECK(ev != NULL);
  oc_indset_t s;
  oc_indset_init(&s);
  oc_indset_walk_aws(&s, ev);
  OC_CHECK_INT(oc_indset_size(&s), 0);
  oc_arena_reset(&a);
  oc_buf_reset(&doc);
  for (size_t i = 0; i < 100; i++)
    oc_buf_puts(&doc, "[");
  oc_buf_puts(&doc, "{\"x\":\"arn:aws:s3:::shallow\"}");
  for (size_t i = 0; i < 100; i++)
    oc_buf_putc(&doc, ']');
  ev = oc_json_parse(&a, doc.data, doc.len, 1000, err, sizeof(err));
  OC_CHECK(ev != NULL);
  oc_indset_walk_aws(&s, ev);
  OC_CHECK_STR(written(&s), ",\"p_any_aws_arns\":[\"arn:aws:s3:::shallow\"]");
  oc_indset_deinit(&s);
  oc_arena_deinit(&a);
  oc_buf_deinit(&doc);
}

OC_TEST_MAIN(OC_TEST(test_kind_names), OC_TEST(test_ip_valid), OC_TEST(test_ip_invalid),
             OC_TEST(test_domain_hostname), OC_TEST(test_url), OC_TEST(test_net_addr),
             OC_TEST(test_hashes), OC_TEST(test_arn), OC_TEST(test_aws_ids_tags),
             OC_TEST(test_email_trace_username), OC_TEST(test_write_exact),
             OC_TEST(test_many_and_limits), OC_TEST(test_walk_cloudtrail), OC_TEST(test_walk_depth))
