/* outputs.c: parsing webhook output configs and caching the outputs table. */
#include "services/alert-delivery/outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/arena.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timeutil.h"

#define OC_OUTPUT_JSON_DEPTH 16

static char *oc_output_strndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

static bool oc_output_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Headers Ocelot sets itself (or libcurl must own); an output may not override them. */
static bool oc_output_reserved(const char *name, size_t len) {
  static const char *const reserved[] = {
      "content-type",      "idempotency-key", "x-ocelot-alert-id", "content-length", "host",
      "transfer-encoding", "expect",          "connection"};
  for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
    if (strlen(reserved[i]) == len && strncasecmp(reserved[i], name, len) == 0) return true;
  return false;
}

void oc_output_deinit(oc_output_t *o) {
  if (!o) return;
  free(o->id);
  free(o->name);
  free(o->type);
  free(o->url);
  for (size_t i = 0; i < o->nheaders; i++) {
    free(o->headers[i].name);
    free(o->headers[i].value);
    free(o->headers[i].line);
  }
  free(o->headers);
  memset(o, 0, sizeof(*o));
}

oc_err_t oc_output_parse(oc_output_t *out, const char *id, const char *type, const char *name,
                         bool enabled, const char *config, size_t config_len, char *errstr,
                         size_t errstr_size) {
  oc_arena_t a;
  char jerr[256];
  const oc_json_t *root, *v;
  oc_err_t err = OC_ERR_INVALID;

  memset(out, 0, sizeof(*out));
  oc_arena_init(&a, 16 * 1024);
  out->id = strdup(id ? id : "");
  out->name = strdup(name ? name : "");
  out->type = strdup(type ? type : "");
  out->enabled = enabled;
  out->timeout_ms = OC_OUTPUT_DEFAULT_TIMEOUT_MS;
  if (!out->id || !out->name || !out->type) goto oom;
  if (strcmp(out->type, "webhook") != 0) {
    snprintf(errstr, errstr_size, "unsupported output type \"%s\"", out->type);
    goto out;
  }
  if (config_len > OC_OUTPUT_MAX_CONFIG) {
    snprintf(errstr, errstr_size, "config is %zu bytes (the limit is %d)", config_len,
             OC_OUTPUT_MAX_CONFIG);
    goto out;
  }
  root = oc_json_parse(&a, config ? config : "", config ? config_len : 0, OC_OUTPUT_JSON_DEPTH,
                       jerr, sizeof(jerr));
  if (!root) {
    snprintf(errstr, errstr_size, "config is not JSON: %s", jerr);
    goto out;
  }
  if (root->type != OC_JSON_OBJECT) {
    snprintf(errstr, errstr_size, "config is not a JSON object");
    goto out;
  }

  v = oc_json_get(root, "url");
  if (!oc_json_is_string(v) || v->len == 0) {
    snprintf(errstr, errstr_size, "config has no \"url\" string");
    goto out;
  }
  if (v->len > OC_OUTPUT_MAX_URL) {
    snprintf(errstr, errstr_size, "url is %u bytes (the limit is %d)", v->len, OC_OUTPUT_MAX_URL);
    goto out;
  }
  if (!(v->len > 7 && strncasecmp(v->s, "http://", 7) == 0) &&
      !(v->len > 8 && strncasecmp(v->s, "https://", 8) == 0)) {
    snprintf(errstr, errstr_size, "url \"%.*s\" is not http:// or https://",
             (int)(v->len > 200 ? 200 : v->len), v->s);
    goto out;
  }
  for (uint32_t i = 0; i < v->len; i++) {
    if ((unsigned char)v->s[i] <= 0x20 || v->s[i] == 0x7f) {
      snprintf(errstr, errstr_size, "url contains a space or control character");
      goto out;
    }
  }
  out->url = oc_output_strndup(v->s, v->len);
  if (!out->url) goto oom;

  v = oc_json_get(root, "timeout_ms");
  if (v && v->type != OC_JSON_NULL) {
    int64_t ms;
    if (!oc_json_int64(v, &ms) || ms < 1 || ms > OC_OUTPUT_MAX_TIMEOUT_MS) {
      snprintf(errstr, errstr_size, "timeout_ms must be an integer from 1 to %d",
               OC_OUTPUT_MAX_TIMEOUT_MS);
      goto out;
    }
    out->timeout_ms = (long)ms;
  }

  v = oc_json_get(root, "headers");
  if (v && v->type != OC_JSON_NULL) {
    if (v->type != OC_JSON_OBJECT) {
      snprintf(errstr, errstr_size, "headers must be an object of strings");
      goto out;
    }
    if (v->len > OC_OUTPUT_MAX_HEADERS) {
      snprintf(errstr, errstr_size, "%u headers (the limit is %d)", v->len, OC_OUTPUT_MAX_HEADERS);
      goto out;
    }
    out->headers = calloc(v->len ? v->len : 1, sizeof(*out->headers));
    if (!out->headers) goto oom;
    for (const oc_json_t *h = v->child; h; h = h->next) {
      oc_output_header_t *oh;
      if (h->key_len == 0) {
        snprintf(errstr, errstr_size, "a header has an empty name");
        goto out;
      }
      for (uint32_t i = 0; i < h->key_len; i++) {
        if (!oc_output_token_char(h->key[i])) {
          snprintf(errstr, errstr_size, "header name \"%.*s\" is not a valid token",
                   (int)(h->key_len > 100 ? 100 : h->key_len), h->key);
          goto out;
        }
      }
      if (oc_output_reserved(h->key, h->key_len)) {
        snprintf(errstr, errstr_size, "header \"%.*s\" is set by Ocelot and cannot be configured",
                 (int)h->key_len, h->key);
        goto out;
      }
      if (!oc_json_is_string(h)) {
        snprintf(errstr, errstr_size, "header \"%.*s\" must be a string", (int)h->key_len, h->key);
        goto out;
      }
      if (h->len > OC_OUTPUT_MAX_HEADER) {
        snprintf(errstr, errstr_size, "header \"%.*s\" is over %d bytes", (int)h->key_len, h->key,
                 OC_OUTPUT_MAX_HEADER);
        goto out;
      }
      for (uint32_t i = 0; i < h->len; i++) {
        unsigned char c = (unsigned char)h->s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
          snprintf(errstr, errstr_size, "header \"%.*s\" contains a control character",
                   (int)h->key_len, h->key);
          goto out;
        }
      }
      oh = &out->headers[out->nheaders++];
      oh->name = oc_output_strndup(h->key, h->key_len);
      oh->value = oc_output_strndup(h->s, h->len);
      oh->line = malloc((size_t)h->key_len + 2 + h->len + 1);
      if (!oh->name || !oh->value || !oh->line) goto oom;
      /* "Name;" is libcurl's way to send a header with an empty value. */
      if (h->len == 0)
        snprintf(oh->line, (size_t)h->key_len + 3 + h->len, "%s;", oh->name);
      else
        snprintf(oh->line, (size_t)h->key_len + 3 + h->len, "%s: %s", oh->name, oh->value);
    }
  }
  err = OC_OK;
  goto out;
oom:
  snprintf(errstr, errstr_size, "out of memory");
  err = OC_ERR_NOMEM;
out:
  oc_arena_deinit(&a);
  return err;
}

void oc_outputs_init(oc_outputs_t *set) {
  memset(set, 0, sizeof(*set));
}

static void oc_outputs_free(oc_output_t *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    oc_output_deinit(&v[i]);
  free(v);
}

void oc_outputs_deinit(oc_outputs_t *set) {
  if (!set) return;
  oc_outputs_free(set->v, set->n);
  memset(set, 0, sizeof(*set));
}

oc_err_t oc_outputs_load(oc_outputs_t *set, oc_pg_t *pg, char *errstr, size_t errstr_size) {
  PGresult *res = NULL;
  oc_output_t *v = NULL;
  size_t n = 0;
  int rows;
  char sql[160];
  oc_err_t err;

  snprintf(sql, sizeof(sql),
           "SELECT id, type, name, enabled, config::text FROM outputs ORDER BY id LIMIT %d",
           OC_OUTPUTS_MAX);
  err = oc_pg_exec(pg, &res, sql, 0, NULL, errstr, errstr_size);
  if (err) return err;
  rows = PQntuples(res);
  v = calloc(rows ? (size_t)rows : 1, sizeof(*v));
  if (!v) {
    PQclear(res);
    snprintf(errstr, errstr_size, "out of memory");
    return OC_ERR_NOMEM;
  }
  for (int i = 0; i < rows; i++) {
    char perr[256];
    const char *id = PQgetvalue(res, i, 0);
    oc_err_t perr_code =
        oc_output_parse(&v[n], id, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                        strcmp(PQgetvalue(res, i, 3), "t") == 0, PQgetvalue(res, i, 4),
                        (size_t)PQgetlength(res, i, 4), perr, sizeof(perr));
    if (perr_code == OC_ERR_NOMEM) {
      oc_output_deinit(&v[n]);
      oc_outputs_free(v, n);
      PQclear(res);
      snprintf(errstr, errstr_size, "out of memory");
      return OC_ERR_NOMEM;
    }
    if (perr_code) {
      oc_log_kv(OC_LOG_WARN, "output ignored: its config is invalid", "output", id, "error", perr,
                NULL);
      oc_output_deinit(&v[n]);
      continue;
    }
    n++;
  }
  PQclear(res);
  oc_outputs_free(set->v, set->n);
  set->v = v;
  set->n = n;
  set->loaded = true;
  set->loaded_at_us = oc_monotonic_us();
  return OC_OK;
}

const oc_output_t *oc_outputs_find(const oc_outputs_t *set, const char *id) {
  for (size_t i = 0; i < set->n; i++)
    if (strcmp(set->v[i].id, id) == 0) return &set->v[i];
  return NULL;
}
