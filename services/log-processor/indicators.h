/* indicators.h: Panther's indicator fields (p_any_ip_addresses, p_any_domain_names, ...)
 * for one event. Scanners (named in a log type's schema as `indicators: [ip, url, ...]`)
 * turn one string value into zero or more indicator values; the AWS walk finds ARNs,
 * account ids, instance ids and tags anywhere in an AWS event. The values collect in a
 * per-event set that deduplicates them and writes the arrays sorted, empty ones omitted.
 *
 * Normalization (what the arrays hold):
 *  - IP addresses as written, except that IPv6 hex digits are lower-cased and an IPv6
 *    zone ("%eth0", or "%25eth0" inside a URL) is dropped: "FE80::1%eth0" -> "fe80::1".
 *    IPv4-mapped IPv6 ("::ffff:1.2.3.4") stays as written.
 *  - md5/sha1/sha256 hashes lower-cased (so "ABC.." and "abc.." are one value).
 *  - everything else as written, minus leading and trailing ASCII whitespace.
 *
 * A set is reused across events by one thread: oc_indset_reset() costs O(values held) and
 * once the set has warmed up (its byte buffer grown to the largest event) scanning does
 * not allocate. Not thread-safe; one set per thread. */
#ifndef OC_PROC_INDICATORS_H
#define OC_PROC_INDICATORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/json.h"

/* Scanners, by the names a schema uses. */
typedef enum {
  OC_IND_IP = 0,          /* "ip" */
  OC_IND_DOMAIN,          /* "domain" */
  OC_IND_HOSTNAME,        /* "hostname": an IP or a domain name */
  OC_IND_URL,             /* "url": the host of scheme://[userinfo@]host[:port]/... */
  OC_IND_NET_ADDR,        /* "net_addr": host:port, [v6]:port, host or IP */
  OC_IND_MD5,             /* "md5": 32 hex digits */
  OC_IND_SHA1,            /* "sha1": 40 hex digits */
  OC_IND_SHA256,          /* "sha256": 64 hex digits */
  OC_IND_AWS_ARN,         /* "aws_arn": the ARN, its account id and EC2 instance id */
  OC_IND_AWS_ACCOUNT_ID,  /* "aws_account_id": 12 digits */
  OC_IND_AWS_INSTANCE_ID, /* "aws_instance_id": "i-" + 8 or 17 hex digits */
  OC_IND_AWS_TAG,         /* "aws_tag": "key:value" with a non-empty key */
  OC_IND_EMAIL,           /* "email": one '@' with non-empty sides, no whitespace */
  OC_IND_TRACE_ID,        /* "trace_id" */
  OC_IND_USERNAME,        /* "username" */
  OC_IND__N
} oc_ind_kind_t;

/* Output arrays, in the order oc_indset_write() emits them. */
typedef enum {
  OC_INDF_IP = 0,          /* p_any_ip_addresses */
  OC_INDF_DOMAIN,          /* p_any_domain_names */
  OC_INDF_MD5,             /* p_any_md5_hashes */
  OC_INDF_SHA1,            /* p_any_sha1_hashes */
  OC_INDF_SHA256,          /* p_any_sha256_hashes */
  OC_INDF_TRACE_ID,        /* p_any_trace_ids */
  OC_INDF_AWS_ACCOUNT_ID,  /* p_any_aws_account_ids */
  OC_INDF_AWS_INSTANCE_ID, /* p_any_aws_instance_ids */
  OC_INDF_AWS_ARN,         /* p_any_aws_arns */
  OC_INDF_AWS_TAG,         /* p_any_aws_tags */
  OC_INDF_EMAIL,           /* p_any_emails */
  OC_INDF_USERNAME,        /* p_any_usernames */
  OC_INDF__N
} oc_ind_field_t;

#define OC_INDSET_MAX_VALUES 1024      /* distinct values per event; more are dropped */
#define OC_INDSET_MAX_VALUE_BYTES 2048 /* bytes per value; longer ones are dropped */
#define OC_INDSET_WALK_MAX_DEPTH 128   /* the AWS walk does not descend deeper */

/* "ip" -> OC_IND_IP ...; false for an unknown name (exact, case-sensitive). */
bool oc_ind_kind_parse(const char *name, size_t len, oc_ind_kind_t *out);
/* The schema name of k, "?" when out of range. */
const char *oc_ind_kind_name(oc_ind_kind_t k);
/* "p_any_ip_addresses" ...; "?" when out of range. */
const char *oc_ind_field_name(oc_ind_field_t f);

typedef struct oc_indval {
  uint32_t off;  /* into bytes.data */
  uint16_t len;  /* <= OC_INDSET_MAX_VALUE_BYTES */
  uint16_t slot; /* its slot in the hash table, cleared on reset */
  uint8_t field; /* oc_ind_field_t */
} oc_indval_t;

/* Embed it; all members are private. */
typedef struct oc_indset {
  oc_buf_t bytes;    /* the values, back to back (not NUL-separated) */
  oc_indval_t *vals; /* OC_INDSET_MAX_VALUES entries, allocated on first use */
  uint16_t *table;   /* open addressing, 2 * OC_INDSET_MAX_VALUES slots of index + 1 */
  uint16_t *order;   /* scratch for oc_indset_write() */
  uint32_t nvals;
  uint32_t counts[OC_INDF__N];
  uint64_t dropped; /* values refused for the limits since the last reset */
  bool oom;         /* an allocation failed since the last reset: values were lost */
} oc_indset_t;

/* init never allocates and cannot fail; deinit frees everything and accepts a zeroed or
 * half-used set. */
void oc_indset_init(oc_indset_t *s);
void oc_indset_deinit(oc_indset_t *s);
/* Empties the set for the next event (keeps its memory); clears dropped and oom. */
void oc_indset_reset(oc_indset_t *s);

/* Applies scanner k to one string value. v need not be NUL-terminated and is not kept
 * (the set copies what it records). Values that are not valid for the scanner add
 * nothing. An unknown k adds nothing. */
void oc_indset_scan(oc_indset_t *s, oc_ind_kind_t k, const char *v, size_t len);

/* The AWS walk over a whole event (any JSON value, any depth up to
 * OC_INDSET_WALK_MAX_DEPTH):
 *  - every string value that starts with "arn:" goes through the aws_arn scanner;
 *  - a string member whose key ends in "InstanceId"/"instanceId" through aws_instance_id,
 *    one ending in "AccountId"/"accountId" through aws_account_id;
 *  - a member named tags/Tags/TagSet/tagSet holding an array of {"key":..,"value":..}
 *    or {"Key":..,"Value":..} objects (or, as EC2 writes it, {"items":[...]} of them)
 *    adds "key:value" for every element whose key and value are strings. */
void oc_indset_walk_aws(oc_indset_t *s, const oc_json_t *ev);

/* Appends, for every non-empty array in oc_ind_field_t order,
 *   ,"p_any_ip_addresses":["1.2.3.4","5.6.7.8"]
 * (a leading comma, values sorted bytewise with a shorter prefix first, each value once,
 * escaped with oc_json_write_string). Appends nothing for an empty set. Sorts the set's
 * scratch index, hence not const; the set is unchanged otherwise and may be written again.
 * Returns false when out ran out of memory or the set did during scanning (some values
 * were lost); what was appended is then incomplete. */
bool oc_indset_write(oc_indset_t *s, oc_buf_t *out);

/* Number of distinct values in one output array (0 for an out-of-range field). */
size_t oc_indset_count(const oc_indset_t *s, int field);
/* Total distinct values held. */
static inline size_t oc_indset_size(const oc_indset_t *s) {
  return s->nvals;
}
/* Values refused since the last reset because the set was full or a value too long. */
static inline uint64_t oc_indset_dropped(const oc_indset_t *s) {
  return s->dropped;
}
/* Value i (0 <= i < oc_indset_size) in insertion order, for tests and debugging: len
 * bytes, not NUL-terminated, valid until the next scan or reset; NULL when out of range. */
const char *oc_indset_value(const oc_indset_t *s, size_t i, size_t *len, int *field);

#endif
