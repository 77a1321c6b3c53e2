/* redis.h: a Redis connection (hiredis) that reconnects. Connection failures and
 * timeouts are OC_ERR_UNAVAILABLE; an error reply is OC_ERR_INVALID. Not thread-safe. */
#ifndef OC_REDIS_H
#define OC_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "common/err.h"

typedef struct oc_redis oc_redis_t;

/* url: redis://host:port[/db] or host:port. Does not connect. NULL on a bad URL. */
oc_redis_t *oc_redis_new(const char *url, char *errstr, size_t errstr_size);
void oc_redis_destroy(oc_redis_t *r);
oc_err_t oc_redis_connect(oc_redis_t *r, char *errstr, size_t errstr_size);
/* The live hiredis context, or NULL (for subscribers that read pushed messages). */
redisContext *oc_redis_context(oc_redis_t *r);
/* Runs a command (hiredis format). On success *reply holds the reply (caller
 * freeReplyObject()s it; reply may be NULL to discard). */
oc_err_t oc_redis_cmd(oc_redis_t *r, redisReply **reply, char *errstr, size_t errstr_size,
                      const char *fmt, ...);
oc_err_t oc_redis_cmdargv(oc_redis_t *r, redisReply **reply, int argc, const char **argv,
                          const size_t *argvlen, char *errstr, size_t errstr_size);

#endif
