/* err.c: names, texts and classes of oc_err_t. */
#include "common/err.h"

#include <stddef.h>

typedef struct {
  const char *name;
  const char *str;
  bool transient;
} oc_err_desc_t;

/* Indexed by -err. */
static const oc_err_desc_t oc_err_descs[] = {
    [0] = {"OC_OK", "success", false},
    [1] = {"OC_ERR_NOMEM", "out of memory", true},
    [2] = {"OC_ERR_INVALID", "invalid input", false},
    [3] = {"OC_ERR_NOT_FOUND", "not found", false},
    [4] = {"OC_ERR_IO", "local I/O error", true},
    [5] = {"OC_ERR_DECODE", "cannot decode", false},
    [6] = {"OC_ERR_LIMIT", "size limit exceeded", false},
    [7] = {"OC_ERR_UNAVAILABLE", "dependency unavailable", true},
    [8] = {"OC_ERR_TIMEOUT", "dependency timed out", true},
    [9] = {"OC_ERR_CONFLICT", "conflict, retry", true},
    [10] = {"OC_ERR_REMOTE", "refused by remote peer", false},
    [11] = {"OC_ERR_INTERNAL", "internal error", false},
    [12] = {"OC_ERR_EOF", "end of stream", false},
};

static const oc_err_desc_t *oc_err_desc(oc_err_t err) {
  long i = -(long)err;
  if (i < 0 || (size_t)i >= sizeof(oc_err_descs) / sizeof(oc_err_descs[0])) return NULL;
  return &oc_err_descs[i];
}

const char *oc_err_str(oc_err_t err) {
  const oc_err_desc_t *d = oc_err_desc(err);
  return d ? d->str : "unknown error";
}

const char *oc_err_name(oc_err_t err) {
  const oc_err_desc_t *d = oc_err_desc(err);
  return d ? d->name : "OC_ERR_UNKNOWN";
}

bool oc_err_is_transient(oc_err_t err) {
  const oc_err_desc_t *d = oc_err_desc(err);
  return d ? d->transient : false;
}

const char *oc_err_class(oc_err_t err) {
  return oc_err_is_transient(err) ? "transient" : "permanent";
}
