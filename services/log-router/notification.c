/* notification.c: input-notifications decoding (see notification.h). */
#include "services/log-router/notification.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/timeutil.h"

static void *oc_notif_pb_alloc(void *data, size_t size) {
  return oc_arena_alloc(data, size ? size : 1);
}
static void oc_notif_pb_free(void *data, void *ptr) {}

static int oc_hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *oc_notif_url_decode(oc_arena_t *a, const char *s, size_t n, char *errstr,
                          size_t errstr_size) {
  char *out = oc_arena_alloc(a, n + 1), *o = out;
  if (!out) {
    snprintf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '+') {
      *o++ = ' ';
    } else if (s[i] == '%') {
      int hi = i + 2 < n ? oc_hexval(s[i + 1]) : -1, lo = i + 2 < n ? oc_hexval(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        snprintf(errstr, errstr_size, "invalid percent-encoding at byte %zu of key \"%.200s\"", i,
                 s);
        return NULL;
      }
      if (hi == 0 && lo == 0) {
        snprintf(errstr, errstr_size, "key \"%.200s\" encodes a NUL byte", s);
        return NULL;
      }
      *o++ = (char)(hi * 16 + lo);
      i += 2;
    } else {
      *o++ = s[i];
    }
  }
  *o = '\0';
  return out;
}

/* Appends one notification to out (capacity OC_NOTIF_MAX_RECORDS). */
static oc_err_t oc_notif_push(oc_arena_t *a, oc_notif_list_t *out,
                              Ocelot__V1__ObjectNotification *on, char *errstr,
                              size_t errstr_size) {
  if (out->n >= OC_NOTIF_MAX_RECORDS) {
    snprintf(errstr, errstr_size, "more than %d objects in one notification", OC_NOTIF_MAX_RECORDS);
    return OC_ERR_DECODE;
  }
  if (!out->v) {
    out->v = oc_arena_alloc(a, OC_NOTIF_MAX_RECORDS * sizeof(*out->v));
    if (!out->v) return OC_ERR_NOMEM;
  }
  out->v[out->n++] = on;
  return OC_OK;
}

static bool oc_notif_names_ok(const char *bucket, size_t blen, const char *key, size_t klen,
                              char *errstr, size_t errstr_size) {
  if (blen == 0 || blen > OC_NOTIF_BUCKET_MAX || memchr(bucket, '\0', blen)) {
    snprintf(errstr, errstr_size, "invalid bucket name (%zu bytes; expected 1..%d)", blen,
             OC_NOTIF_BUCKET_MAX);
    return false;
  }
  if (klen == 0 || klen > OC_NOTIF_KEY_MAX || memchr(key, '\0', klen)) {
    snprintf(errstr, errstr_size, "invalid object key (%zu bytes; expected 1..%d)", klen,
             OC_NOTIF_KEY_MAX);
    return false;
  }
  return true;
}

/* A string member as an arena string; "" when absent or not a string. */
static char *oc_notif_str(oc_arena_t *a, const oc_json_t *v) {
  if (!oc_json_is_string(v)) return oc_arena_strdup(a, "");
  return oc_arena_strndup(a, v->s, v->len);
}

/* One object from the members of an S3 record or an EventBridge detail. */
static oc_err_t oc_notif_object(oc_arena_t *a, const oc_json_t *bucket_name,
                                const oc_json_t *object, bool url_encoded,
                                const oc_json_t *event_time, int64_t received_at_us,
                                oc_notif_list_t *out, size_t index, char *errstr,
                                size_t errstr_size) {
  Ocelot__V1__ObjectNotification *on;
  const oc_json_t *key = oc_json_get(object, "key"), *v;
  char why[300];
  int64_t i64;
  if (!oc_json_is_string(bucket_name) || !oc_json_is_string(key)) {
    snprintf(errstr, errstr_size, "record %zu has no bucket name or object key", index);
    return OC_ERR_DECODE;
  }
  on = oc_arena_alloc(a, sizeof(*on));
  if (!on) return OC_ERR_NOMEM;
  ocelot__v1__object_notification__init(on);
  on->bucket = oc_arena_strndup(a, bucket_name->s, bucket_name->len);
  on->key = url_encoded ? oc_notif_url_decode(a, key->s, key->len, why, sizeof(why))
                        : oc_arena_strndup(a, key->s, key->len);
  if (!on->bucket || (!on->key && !url_encoded)) return OC_ERR_NOMEM;
  if (!on->key) {
    snprintf(errstr, errstr_size, "record %zu: %s", index, why);
    return OC_ERR_DECODE;
  }
  if (!oc_notif_names_ok(on->bucket, bucket_name->len, on->key,
                         url_encoded ? strlen(on->key) : key->len, why, sizeof(why))) {
    snprintf(errstr, errstr_size, "record %zu: %s", index, why);
    return OC_ERR_DECODE;
  }
  if ((v = oc_json_get(object, "size")) && oc_json_int64(v, &i64) && i64 >= 0)
    on->size = (uint64_t)i64;
  v = oc_json_get(object, "eTag");
  if (!v) v = oc_json_get(object, "etag");
  if (!oc_json_is_string(v) || v->len == 0) v = oc_json_get(object, "versionId");
  on->etag = oc_notif_str(a, v);
  if (!on->etag) return OC_ERR_NOMEM;
  if (oc_json_is_string(event_time) && oc_time_parse_rfc3339(event_time->s, event_time->len, &i64))
    on->mtime_us = i64;
  on->received_at_us = received_at_us;
  return oc_notif_push(a, out, on, errstr, errstr_size);
}

static bool oc_notif_prefix(const oc_json_t *v, const char *prefix) {
  size_t n = strlen(prefix);
  return oc_json_is_string(v) && v->len >= n && memcmp(v->s, prefix, n) == 0;
}

static oc_err_t oc_notif_json(oc_arena_t *a, const char *text, size_t len, int64_t received_at_us,
                              int wrap_depth, oc_notif_list_t *out, char *errstr,
                              size_t errstr_size) {
  char perr[256];
  const oc_json_t *root, *records, *v;
  oc_err_t err;
  size_t i = 0;
  root = oc_json_parse(a, text, len, OC_NOTIF_JSON_DEPTH, perr, sizeof(perr));
  if (!root) {
    snprintf(errstr, errstr_size, "invalid S3 event notification JSON: %s", perr);
    return OC_ERR_DECODE;
  }
  if (root->type != OC_JSON_OBJECT) {
    snprintf(errstr, errstr_size, "invalid S3 event notification: not a JSON object");
    return OC_ERR_DECODE;
  }
  records = oc_json_get(root, "Records");
  if (records) {
    if (records->type != OC_JSON_ARRAY) {
      snprintf(errstr, errstr_size, "invalid S3 event notification: \"Records\" is not an array");
      return OC_ERR_DECODE;
    }
    for (const oc_json_t *rec = records->child; rec; rec = rec->next, i++) {
      const oc_json_t *s3 = oc_json_get(rec, "s3"), *name = oc_json_get(rec, "eventName");
      /* only new objects carry logs; removals, restores and the like are not routed */
      if (name && !oc_notif_prefix(name, "ObjectCreated:")) continue;
      if (!s3 || s3->type != OC_JSON_OBJECT) {
        snprintf(errstr, errstr_size, "record %zu of the S3 event notification has no \"s3\"", i);
        return OC_ERR_DECODE;
      }
      err = oc_notif_object(a, oc_json_path(s3, "bucket.name"), oc_json_get(s3, "object"), true,
                            oc_json_get(rec, "eventTime"), received_at_us, out, i, errstr,
                            errstr_size);
      if (err) return err;
    }
    return OC_OK;
  }
  /* SNS: the S3 notification is the Message string. */
  v = oc_json_get(root, "Message");
  if (oc_json_streq(oc_json_get(root, "Type"), "Notification") && oc_json_is_string(v) &&
      wrap_depth == 0)
    return oc_notif_json(a, v->s, v->len, received_at_us, 1, out, errstr, errstr_size);
  /* EventBridge */
  v = oc_json_get(root, "detail");
  if (oc_json_streq(oc_json_get(root, "source"), "aws.s3") && v && v->type == OC_JSON_OBJECT) {
    if (!oc_json_streq(oc_json_get(root, "detail-type"), "Object Created")) return OC_OK;
    return oc_notif_object(a, oc_json_path(v, "bucket.name"), oc_json_get(v, "object"), false,
                           oc_json_get(root, "time"), received_at_us, out, 0, errstr, errstr_size);
  }
  if (oc_json_streq(oc_json_get(root, "Event"), "s3:TestEvent")) return OC_OK;
  snprintf(errstr, errstr_size, "invalid S3 event notification: no \"Records\"");
  return OC_ERR_DECODE;
}

oc_err_t oc_notif_decode(oc_arena_t *a, const void *value, size_t len, int64_t received_at_us,
                         oc_notif_list_t *out, char *errstr, size_t errstr_size) {
  const char *p = value;
  size_t i = 0;
  ProtobufCAllocator alloc = {oc_notif_pb_alloc, oc_notif_pb_free, a};
  Ocelot__V1__ObjectNotification *on;
  out->v = NULL;
  out->n = 0;
  if (!value || len == 0) {
    snprintf(errstr, errstr_size, "empty notification");
    return OC_ERR_DECODE;
  }
  while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
    i++;
  /* A protobuf ObjectNotification never starts with '{' (field 15, a group). */
  if (i < len && p[i] == '{')
    return oc_notif_json(a, p, len, received_at_us, 0, out, errstr, errstr_size);
  on = ocelot__v1__object_notification__unpack(&alloc, len, value);
  if (!on) {
    snprintf(errstr, errstr_size,
             "could not decode the notification (%zu bytes): neither an ObjectNotification nor "
             "S3 event JSON",
             len);
    return OC_ERR_DECODE;
  }
  if (!oc_notif_names_ok(on->bucket, strlen(on->bucket), on->key, strlen(on->key), errstr,
                         errstr_size))
    return OC_ERR_DECODE;
  if (on->received_at_us == 0) on->received_at_us = received_at_us;
  return oc_notif_push(a, out, on, errstr, errstr_size);
}
