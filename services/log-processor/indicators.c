/* indicators.c: Panther's indicator scanners and the per-event indicator set (see
 * indicators.h). The scanners follow pantherlog's (ScanIPAddress, ScanHostname, ScanURL,
 * ScanNetworkAddress, ScanARN ...) with stricter validation where Panther lets garbage
 * through (an empty URL host, a non-hex instance id, a bracketed or zoned IPv6 address
 * filed as a domain name). Parsing is hand-written and allocation-free: this runs for
 * every string field an AWS event has. */
#include "services/log-processor/indicators.h"

#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

#define TABLE_SLOTS (2 * OC_INDSET_MAX_VALUES) /* a power of two; load stays <= 1/2 */

static const char *const kind_names[OC_IND__N] = {"ip",
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

static const char *const field_names[OC_INDF__N] = {
    "p_any_ip_addresses",  "p_any_domain_names", "p_any_md5_hashes",      "p_any_sha1_hashes",
    "p_any_sha256_hashes", "p_any_trace_ids",    "p_any_aws_account_ids", "p_any_aws_instance_ids",
    "p_any_aws_arns",      "p_any_aws_tags",     "p_any_emails",          "p_any_usernames"};

/* ,"p_any_ip_addresses":[ and so on, as write() emits them */
#define HEAD(name) \
  { ",\"" name "\":[", sizeof(",\"" name "\":[") - 1 }
static const struct {
  const char *s;
  size_t len;
} field_heads[OC_INDF__N] = {
    HEAD("p_any_ip_addresses"),    HEAD("p_any_domain_names"),     HEAD("p_any_md5_hashes"),
    HEAD("p_any_sha1_hashes"),     HEAD("p_any_sha256_hashes"),    HEAD("p_any_trace_ids"),
    HEAD("p_any_aws_account_ids"), HEAD("p_any_aws_instance_ids"), HEAD("p_any_aws_arns"),
    HEAD("p_any_aws_tags"),        HEAD("p_any_emails"),           HEAD("p_any_usernames")};
#undef HEAD

bool oc_ind_kind_parse(const char *name, size_t len, oc_ind_kind_t *out) {
  for (int k = 0; k < OC_IND__N; k++) {
    if (strlen(kind_names[k]) == len && memcmp(kind_names[k], name, len) == 0) {
      *out = (oc_ind_kind_t)k;
      return true;
    }
  }
  return false;
}

const char *oc_ind_kind_name(oc_ind_kind_t k) {
  return (unsigned)k < OC_IND__N ? kind_names[k] : "?";
}

const char *oc_ind_field_name(oc_ind_field_t f) {
  return (unsigned)f < OC_INDF__N ? field_names[f] : "?";
}

/* ---- the set ----------------------------------------------------------------------- */

void oc_indset_init(oc_indset_t *s) {
  memset(s, 0, sizeof(*s));
  oc_buf_init(&s->bytes);
}

void oc_indset_deinit(oc_indset_t *s) {
  if (!s) return;
  oc_buf_deinit(&s->bytes);
  free(s->vals); /* table and order live in the same block */
  memset(s, 0, sizeof(*s));
}

void oc_indset_reset(oc_indset_t *s) {
  if (s->table) {
    for (uint32_t i = 0; i < s->nvals; i++)
      s->table[s->vals[i].slot] = 0;
  }
  s->nvals = 0;
  memset(s->counts, 0, sizeof(s->counts));
  s->dropped = 0;
  s->oom = false;
  s->bytes.len = 0;
  s->bytes.oom = false; /* a failed growth left the old, still valid block in place */
}

static bool ensure_tables(oc_indset_t *s) {
  if (s->vals) return true;
  size_t vals_sz = OC_INDSET_MAX_VALUES * sizeof(oc_indval_t);
  size_t table_sz = TABLE_SLOTS * sizeof(uint16_t);
  size_t order_sz = OC_INDSET_MAX_VALUES * sizeof(uint16_t);
  char *block = malloc(vals_sz + table_sz + order_sz);
  if (!block) return false;
  s->vals = (oc_indval_t *)(void *)block;
  s->table = (uint16_t *)(void *)(block + vals_sz);
  s->order = (uint16_t *)(void *)(block + vals_sz + table_sz);
  memset(s->table, 0, table_sz);
  return true;
}

static char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* Records v under field f, lower-casing ASCII letters when fold is set. The bytes are
 * appended first (so folding needs no scratch) and taken back when v is a duplicate. */
static void add(oc_indset_t *s, int f, const char *v, size_t len, bool fold) {
  if (len == 0) return;
  if (len > OC_INDSET_MAX_VALUE_BYTES) {
    s->dropped++;
    return;
  }
  if (!ensure_tables(s)) {
    s->oom = true;
    return;
  }
  size_t off = s->bytes.len;
  if (!oc_buf_reserve(&s->bytes, len)) {
    s->oom = true;
    s->bytes.oom = false; /* keep the set usable; the value is lost and reported */
    return;
  }
  char *p = s->bytes.data + off;
  memcpy(p, v, len);
  s->bytes.len += len;
  if (fold) {
    for (size_t i = 0; i < len; i++)
      p[i] = lower(p[i]);
  }
  uint64_t h = oc_hash64(p, len) ^ ((uint64_t)f * 0x9E3779B97F4A7C15ull);
  uint32_t slot = (uint32_t)(h ^ (h >> 32)) & (TABLE_SLOTS - 1);
  for (;;) { /* ends: at most OC_INDSET_MAX_VALUES of the TABLE_SLOTS are ever taken */
    uint16_t e = s->table[slot];
    if (e == 0) break;
    const oc_indval_t *o = &s->vals[e - 1];
    if (o->field == f && o->len == len && memcmp(s->bytes.data + o->off, p, len) == 0) {
      s->bytes.len = off; /* duplicate */
      return;
    }
    slot = (slot + 1) & (TABLE_SLOTS - 1);
  }
  if (s->nvals >= OC_INDSET_MAX_VALUES) { /* full: a new value is dropped, not a repeat */
    s->bytes.len = off;
    s->dropped++;
    return;
  }
  oc_indval_t *nv = &s->vals[s->nvals];
  nv->off = (uint32_t)off;
  nv->len = (uint16_t)len;
  nv->slot = (uint16_t)slot;
  nv->field = (uint8_t)f;
  s->table[slot] = (uint16_t)(s->nvals + 1);
  s->nvals++;
  s->counts[f]++;
}

size_t oc_indset_count(const oc_indset_t *s, int field) {
  return (field >= 0 && field < OC_INDF__N) ? s->counts[field] : 0;
}

const char *oc_indset_value(const oc_indset_t *s, size_t i, size_t *len, int *field) {
  if (i >= s->nvals) return NULL;
  if (len) *len = s->vals[i].len;
  if (field) *field = s->vals[i].field;
  return s->bytes.data + s->vals[i].off;
}

/* ---- lexical helpers --------------------------------------------------------------- */

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

static bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void trim(const char **v, size_t *len) {
  const char *p = *v;
  size_t n = *len;
  while (n && is_space(*p))
    p++, n--;
  while (n && is_space(p[n - 1]))
    n--;
  *v = p;
  *len = n;
}

static const char *memchr_c(const char *p, size_t n, char c) {
  return n ? memchr(p, c, n) : NULL;
}

static size_t count_char(const char *p, size_t n, char c) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    k += p[i] == c;
  return k;
}

static bool all_hex(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!is_hex(p[i])) return false;
  return true;
}

/* ---- IP addresses ------------------------------------------------------------------ */

/* Dotted quad, 0-255 each, no leading zeros (as Go's net.ParseIP since 1.17). */
static bool ipv4_ok(const char *p, size_t n) {
  size_t i = 0;
  for (int part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= n || p[i] != '.') return false;
      i++;
    }
    size_t start = i;
    unsigned v = 0;
    while (i < n && is_digit(p[i]) && i - start < 4)
      v = v * 10 + (unsigned)(p[i++] - '0');
    size_t nd = i - start;
    if (nd == 0 || nd > 3 || v > 255 || (nd > 1 && p[start] == '0')) return false;
  }
  return i == n;
}

/* RFC 4291 text form: 8 groups of 1-4 hex digits, one "::" standing for at least one
 * zero group, optionally ending in a dotted quad that stands for two groups. No zone. */
static bool ipv6_ok(const char *p, size_t n) {
  size_t i = 0;
  int groups = 0;
  bool ellipsis = false;
  if (n < 2) return false;
  if (p[0] == ':') {
    if (p[1] != ':') return false;
    ellipsis = true;
    i = 2;
  }
  while (i < n) {
    size_t start = i;
    while (i < n && is_hex(p[i]))
      i++;
    if (i < n && p[i] == '.') { /* the IPv4 tail ends the address */
      if (!ipv4_ok(p + start, n - start)) return false;
      groups += 2;
      i = n;
      break;
    }
    if (i == start || i - start > 4) return false;
    if (++groups > 8) return false;
    if (i == n) break;
    if (p[i] != ':') return false;
    i++;
    if (i == n) return false; /* a trailing single colon */
    if (p[i] == ':') {
      if (ellipsis) return false;
      ellipsis = true;
      i++;
    }
  }
  return ellipsis ? groups < 8 : groups == 8;
}

/* Records an IP address when v is one; an IPv6 zone ("%eth0", or "%25eth0" as URLs
 * escape it, when url_zone) is validated and dropped, hex digits lower-cased. */
static bool add_ip(oc_indset_t *s, const char *v, size_t len, bool url_zone) {
  if (len == 0) return false;
  if (!memchr_c(v, len, ':')) {
    if (!ipv4_ok(v, len)) return false;
    add(s, OC_INDF_IP, v, len, false);
    return true;
  }
  const char *pct = memchr_c(v, len, '%');
  size_t alen = pct ? (size_t)(pct - v) : len;
  if (pct) {
    size_t zlen = len - alen - 1;
    const char *z = pct + 1;
    if (url_zone) {
      if (zlen < 2 || z[0] != '2' || z[1] != '5') return false;
      z += 2, zlen -= 2;
    }
    if (zlen == 0) return false;
    for (size_t i = 0; i < zlen; i++) {
      unsigned char c = (unsigned char)z[i];
      if (c <= 0x20 || c == 0x7f || c == '%' || c == ']' || c == '[') return false;
    }
  }
  if (!ipv6_ok(v, alen)) return false;
  add(s, OC_INDF_IP, v, alen, true);
  return true;
}

static void scan_ip(oc_indset_t *s, const char *v, size_t len) {
  trim(&v, &len);
  add_ip(s, v, len, false);
}

static void scan_domain(oc_indset_t *s, const char *v, size_t len) {
  trim(&v, &len);
  add(s, OC_INDF_DOMAIN, v, len, false);
}

/* An IP address goes to the IP addresses, anything else to the domain names. */
static void scan_hostname(oc_indset_t *s, const char *v, size_t len) {
  trim(&v, &len);
  if (!add_ip(s, v, len, false)) add(s, OC_INDF_DOMAIN, v, len, false);
}

/* Bytes a URL host never holds unescaped; Go's url.Parse rejects most of them too. */
static bool host_char_ok(char ch) {
  unsigned char c = (unsigned char)ch;
  if (c <= 0x20 || c == 0x7f) return false;
  return !strchr("<>\"{}|\\^`%[]@/?#", c);
}

static bool port_ok(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!is_digit(p[i])) return false;
  return true;
}

/* scheme "://" [userinfo "@"] host [":" port] [path/query/fragment]; the host (a
 * bracketed IPv6 address, an IPv4 address or a name) goes to IPs or domain names. */
static void scan_url(oc_indset_t *s, const char *v, size_t len) {
  trim(&v, &len);
  size_t i = 0;
  if (len == 0 || !is_alpha(v[0])) return;
  while (i < len && (is_alpha(v[i]) || is_digit(v[i]) || v[i] == '+' || v[i] == '-' || v[i] == '.'))
    i++;
  if (len - i < 3 || memcmp(v + i, "://", 3) != 0) return;
  const char *auth = v + i + 3;
  size_t alen = 0, rest = len - i - 3;
  while (alen < rest && auth[alen] != '/' && auth[alen] != '?' && auth[alen] != '#')
    alen++;
  /* userinfo ends at the last '@' of the authority */
  for (size_t k = alen; k > 0; k--) {
    if (auth[k - 1] == '@') {
      auth += k;
      alen -= k;
      break;
    }
  }
  if (alen == 0) return;
  if (auth[0] == '[') {
    const char *close = memchr_c(auth, alen, ']');
    if (!close) return;
    size_t after = alen - (size_t)(close + 1 - auth);
    if (after > 0 && (close[1] != ':' || !port_ok(close + 2, after - 1))) return;
    add_ip(s, auth + 1, (size_t)(close - auth - 1), true);
    return;
  }
  const char *colon = memchr_c(auth, alen, ':');
  size_t hlen = colon ? (size_t)(colon - auth) : alen;
  if (colon && !port_ok(colon + 1, alen - hlen - 1)) return;
  if (hlen == 0) return;
  for (size_t k = 0; k < hlen; k++)
    if (!host_char_ok(auth[k])) return;
  if (!add_ip(s, auth, hlen, false)) add(s, OC_INDF_DOMAIN, auth, hlen, false);
}

/* "host:port", "[v6]:port", "[v6]", a bare IP (v4 or v6) or a host name. */
static void scan_net_addr(oc_indset_t *s, const char *v, size_t len) {
  trim(&v, &len);
  if (len == 0) return;
  if (v[0] == '[') {
    const char *close = memchr_c(v, len, ']');
    if (!close) return;
    size_t after = len - (size_t)(close + 1 - v);
    if (after > 0 && close[1] != ':') return;
    scan_hostname(s, v + 1, (size_t)(close - v - 1));
    return;
  }
  size_t colons = count_char(v, len, ':');
  if (colons == 1) {
    const char *colon = memchr(v, ':', len);
    scan_hostname(s, v, (size_t)(colon - v));
  } else if (colons == 0) {
    scan_hostname(s, v, len);
  } else {
    add_ip(s, v, len, false); /* a bare IPv6 address, or nothing */
  }
}

static void scan_hash(oc_indset_t *s, int field, size_t want, const char *v, size_t len) {
  trim(&v, &len);
  if (len == want && all_hex(v, len)) add(s, field, v, len, true);
}

static bool account_id_ok(const char *v, size_t len) {
  if (len != 12) return false;
  for (size_t i = 0; i < len; i++)
    if (!is_digit(v[i])) return false;
  return true;
}

static bool instance_id_ok(const char *v, size_t len) {
  return (len == 10 || len == 19) && v[0] == 'i' && v[1] == '-' && all_hex(v + 2, len - 2);
}

static void scan_account_id(oc_indset_t *s, const char *v, size_t len) {
  trim(&v, &len);
  if (account_id_ok(v, len)) add(s, OC_INDF_AWS_ACCOUNT_ID, v, len, false);
}

static void scan_instance_id(oc_indset_t *s, const char *v, size_t len) {
  trim(&v, &len);
  if (instance_id_ok(v, len)) add(s, OC_INDF_AWS_INSTANCE_ID, v, len, false);
}

/* arn:partition:service:region:account-id:resource, the resource being "id",
 * "type/id" or "type:id". Partition, service and resource must be non-empty; region
 * and account may be empty (S3, IAM). */
static void scan_arn(oc_indset_t *s, const char *v, size_t len) {
  trim(&v, &len);
  if (len < 4 || memcmp(v, "arn:", 4) != 0) return;
  /* the four colons after "arn:" split the sections; the resource may hold more */
  const char *sec[5];
  size_t sec_len[5];
  const char *p = v + 4, *end = v + len;
  for (int i = 0; i < 4; i++) {
    const char *c = memchr_c(p, (size_t)(end - p), ':');
    if (!c) return;
    sec[i] = p;
    sec_len[i] = (size_t)(c - p);
    p = c + 1;
  }
  sec[4] = p;
  sec_len[4] = (size_t)(end - p);
  if (sec_len[0] == 0 || sec_len[1] == 0 || sec_len[4] == 0) return;
  add(s, OC_INDF_AWS_ARN, v, len, false);
  if (account_id_ok(sec[3], sec_len[3])) add(s, OC_INDF_AWS_ACCOUNT_ID, sec[3], sec_len[3], false);
  /* EC2: arn:aws:ec2:region:account:instance/i-0123456789abcdef0 */
  const char *res = sec[4];
  size_t rlen = sec_len[4];
  if (rlen > 9 && memcmp(res, "instance/", 9) == 0) {
    const char *id = res + rlen;
    while (id > res && id[-1] != '/')
      id--;
    size_t idlen = (size_t)(res + rlen - id);
    if (instance_id_ok(id, idlen)) add(s, OC_INDF_AWS_INSTANCE_ID, id, idlen, false);
  }
}

static void scan_tag(oc_indset_t *s, const char *v, size_t len) {
  trim(&v, &len);
  const char *colon = memchr_c(v, len, ':');
  if (colon && colon > v) add(s, OC_INDF_AWS_TAG, v, len, false);
}

static void scan_email(oc_indset_t *s, const char *v, size_t len) {
  trim(&v, &len);
  const char *at = memchr_c(v, len, '@');
  if (!at || at == v || at == v + len - 1 || count_char(v, len, '@') != 1) return;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)v[i];
    if (c <= 0x20 || c == 0x7f) return;
  }
  add(s, OC_INDF_EMAIL, v, len, false);
}

static void scan_plain(oc_indset_t *s, int field, const char *v, size_t len) {
  trim(&v, &len);
  add(s, field, v, len, false);
}

void oc_indset_scan(oc_indset_t *s, oc_ind_kind_t k, const char *v, size_t len) {
  if (!v) return;
  switch (k) {
    case OC_IND_IP:
      scan_ip(s, v, len);
      break;
    case OC_IND_DOMAIN:
      scan_domain(s, v, len);
      break;
    case OC_IND_HOSTNAME:
      scan_hostname(s, v, len);
      break;
    case OC_IND_URL:
      scan_url(s, v, len);
      break;
    case OC_IND_NET_ADDR:
      scan_net_addr(s, v, len);
      break;
    case OC_IND_MD5:
      scan_hash(s, OC_INDF_MD5, 32, v, len);
      break;
    case OC_IND_SHA1:
      scan_hash(s, OC_INDF_SHA1, 40, v, len);
      break;
    case OC_IND_SHA256:
      scan_hash(s, OC_INDF_SHA256, 64, v, len);
      break;
    case OC_IND_AWS_ARN:
      scan_arn(s, v, len);
      break;
    case OC_IND_AWS_ACCOUNT_ID:
      scan_account_id(s, v, len);
      break;
    case OC_IND_AWS_INSTANCE_ID:
      scan_instance_id(s, v, len);
      break;
    case OC_IND_AWS_TAG:
      scan_tag(s, v, len);
      break;
    case OC_IND_EMAIL:
      scan_email(s, v, len);
      break;
    case OC_IND_TRACE_ID:
      scan_plain(s, OC_INDF_TRACE_ID, v, len);
      break;
    case OC_IND_USERNAME:
      scan_plain(s, OC_INDF_USERNAME, v, len);
      break;
    default:
      break;
  }
}

/* ---- the AWS walk ------------------------------------------------------------------ */

static bool ends_with(const char *k, size_t klen, const char *suffix, size_t slen) {
  return klen >= slen && memcmp(k + klen - slen, suffix, slen) == 0;
}

static bool key_is(const oc_json_t *m, const char *name) {
  size_t n = strlen(name);
  return m->key_len == n && memcmp(m->key, name, n) == 0;
}

/* {"key":"k","value":"v"} or {"Key":"k","Value":"v"} -> "k:v". */
static void add_tag_object(oc_indset_t *s, const oc_json_t *o) {
  if (!o || o->type != OC_JSON_OBJECT) return;
  const oc_json_t *k = oc_json_get(o, "key"), *v = oc_json_get(o, "value");
  if (!k && !v) {
    k = oc_json_get(o, "Key");
    v = oc_json_get(o, "Value");
  }
  if (!oc_json_is_string(k) || !oc_json_is_string(v) || k->len == 0) return;
  size_t n = (size_t)k->len + 1 + v->len;
  if (n > OC_INDSET_MAX_VALUE_BYTES) {
    s->dropped++;
    return;
  }
  char tmp[OC_INDSET_MAX_VALUE_BYTES];
  memcpy(tmp, k->s, k->len);
  tmp[k->len] = ':';
  if (v->len) memcpy(tmp + k->len + 1, v->s, v->len);
  add(s, OC_INDF_AWS_TAG, tmp, n, false);
}

static void add_tags(oc_indset_t *s, const oc_json_t *tags) {
  if (tags->type == OC_JSON_OBJECT) { /* EC2: "tagSet": {"items": [...]} */
    tags = oc_json_get(tags, "items");
    if (!tags) return;
  }
  if (tags->type != OC_JSON_ARRAY) return;
  for (const oc_json_t *e = tags->child; e; e = e->next)
    add_tag_object(s, e);
}

static void walk(oc_indset_t *s, const oc_json_t *v, int depth) {
  if (depth > OC_INDSET_WALK_MAX_DEPTH) return;
  for (const oc_json_t *c = v->child; c; c = c->next) {
    if (c->type == OC_JSON_STRING) {
      if (c->len >= 4 && memcmp(c->s, "arn:", 4) == 0) scan_arn(s, c->s, c->len);
      /* both suffixes end in "Id": test that before comparing */
      if (c->key_len >= 9 && c->key[c->key_len - 1] == 'd' && c->key[c->key_len - 2] == 'I') {
        if (ends_with(c->key, c->key_len, "InstanceId", 10) ||
            ends_with(c->key, c->key_len, "instanceId", 10))
          scan_instance_id(s, c->s, c->len);
        else if (ends_with(c->key, c->key_len, "AccountId", 9) ||
                 ends_with(c->key, c->key_len, "accountId", 9))
          scan_account_id(s, c->s, c->len);
      }
    } else if (c->type == OC_JSON_ARRAY || c->type == OC_JSON_OBJECT) {
      if (c->key &&
          (key_is(c, "tags") || key_is(c, "Tags") || key_is(c, "TagSet") || key_is(c, "tagSet")))
        add_tags(s, c);
      walk(s, c, depth + 1);
    }
  }
}

void oc_indset_walk_aws(oc_indset_t *s, const oc_json_t *ev) {
  if (!ev) return;
  if (ev->type == OC_JSON_STRING) {
    if (ev->len >= 4 && memcmp(ev->s, "arn:", 4) == 0) scan_arn(s, ev->s, ev->len);
    return;
  }
  if (ev->type == OC_JSON_ARRAY || ev->type == OC_JSON_OBJECT) walk(s, ev, 1);
}

/* ---- output ------------------------------------------------------------------------ */

static int val_cmp(const oc_indset_t *s, uint16_t a, uint16_t b) {
  const oc_indval_t *x = &s->vals[a], *y = &s->vals[b];
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(s->bytes.data + x->off, s->bytes.data + y->off, n);
  if (c) return c;
  return (int)x->len - (int)y->len;
}

static void sift_down(const oc_indset_t *s, uint16_t *a, size_t root, size_t n) {
  for (;;) {
    size_t child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && val_cmp(s, a[child], a[child + 1]) < 0) child++;
    if (val_cmp(s, a[root], a[child]) >= 0) return;
    uint16_t t = a[root];
    a[root] = a[child];
    a[child] = t;
    root = child;
  }
}

/* Insertion sort for the usual handful of values, heapsort (no recursion, no worst
 * case) past that. qsort would need a comparator context C11 does not give it. */
static void sort_vals(const oc_indset_t *s, uint16_t *a, size_t n) {
  if (n <= 16) {
    for (size_t i = 1; i < n; i++) {
      uint16_t t = a[i];
      size_t j = i;
      while (j > 0 && val_cmp(s, a[j - 1], t) > 0) {
        a[j] = a[j - 1];
        j--;
      }
      a[j] = t;
    }
    return;
  }
  for (size_t i = n / 2; i-- > 0;)
    sift_down(s, a, i, n);
  for (size_t end = n - 1; end > 0; end--) {
    uint16_t t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift_down(s, a, 0, end);
  }
}

bool oc_indset_write(oc_indset_t *s, oc_buf_t *out) {
  if (s->nvals == 0) return oc_buf_ok(out) && !s->oom;
  /* group by field (counting sort), then sort each group */
  size_t start[OC_INDF__N], fill[OC_INDF__N];
  size_t acc = 0;
  for (int f = 0; f < OC_INDF__N; f++) {
    start[f] = fill[f] = acc;
    acc += s->counts[f];
  }
  for (uint32_t i = 0; i < s->nvals; i++)
    s->order[fill[s->vals[i].field]++] = (uint16_t)i;
  for (int f = 0; f < OC_INDF__N; f++) {
    size_t n = s->counts[f];
    if (n == 0) continue;
    uint16_t *a = s->order + start[f];
    sort_vals(s, a, n);
    oc_buf_append(out, field_heads[f].s, field_heads[f].len);
    for (size_t i = 0; i < n; i++) {
      const oc_indval_t *x = &s->vals[a[i]];
      if (i) oc_buf_putc(out, ',');
      oc_json_write_string(out, s->bytes.data + x->off, x->len);
    }
    oc_buf_putc(out, ']');
  }
  return oc_buf_ok(out) && !s->oom;
}
