/* pycache.h: `panther_detection_helpers.caching` for Python rules: counters, string sets
 * and dictionaries with expiry, as Panther's helper library offers them over its
 * DynamoDB kv-store, here kept in Redis (hiredis, common/redis.h) or, for `ocelot test`
 * without Redis, in an in-process store with the same semantics.
 *
 * Functions (Panther's signatures): get_counter(key, force_ttl_check=False),
 * increment_counter(key, val=1, epoch_seconds=90 days), reset_counter(key),
 * set_key_expiration(key, epoch_seconds), get_string_set(key, force_ttl_check=False),
 * put_string_set(key, val, epoch_seconds=None), add_to_string_set(key, val,
 * epoch_seconds=90 days), remove_from_string_set(key, val, epoch_seconds=90 days),
 * reset_string_set(key), put_dictionary(key, val, epoch_seconds=None),
 * get_dictionary(key, force_ttl_check=False), evaluate_threshold(key, threshold=10,
 * expiry_seconds=3600). epoch_seconds is read as Panther reads it: a str or float is
 * made an int; None (where the default is not None: "not given") is now + 90 days;
 * a value below 1,000,000,000 is relative to now; otherwise absolute epoch seconds.
 * increment/add/remove with epoch_seconds=None leave the expiry as it is.
 *
 * Redis layout: the counter of key K is the string "ocelot:kv:c:K" (INCRBY, EXPIREAT),
 * its string set the Redis set "ocelot:kv:s:K", its dictionary "ocelot:kv:d:K" (JSON);
 * set_key_expiration applies to all three, like the one TTL of Panther's item. Each
 * helper is one round trip (a Lua script where it takes several commands).
 *
 * Redis unavailable: the call raises CacheUnavailableError (alias
 * OcelotCacheUnavailableError; a BaseException, so a rule's `except Exception` does not
 * swallow it), calls in the next 0.5 s fail without a round trip, and
 * oc_pycache_unavailable() reports it. The live engine then treats the whole file as a
 * transient failure and the runtime retries the batch (a rule error would be wrong: the
 * rule is fine). With rules in a worker process the flag is the child's, so the engine
 * also looks for rule-error groups of that class. Counters incremented before the
 * failure are incremented again on the retry (at-least-once).
 *
 * Limits: keys of 1..2048 bytes; at most 10,000 strings per call and 64 KiB per string;
 * replies of at most 1,000,000 elements; the in-process store holds at most 1,000,000
 * keys. Not thread-safe: the rule host's thread only. */
#ifndef OC_RULES_PYCACHE_H
#define OC_RULES_PYCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/redis.h"

#define OC_PYCACHE_PREFIX "ocelot:kv:"
/* Class name of the exception a helper raises when Redis is unavailable. A rule worker
 * process (crash isolation) cannot set this process's flag, so the engine also treats a
 * rule-error group with this dedup (the class name) as the outage. */
#define OC_PYCACHE_UNAVAILABLE "OcelotCacheUnavailableError"

/* Backs the helpers with the Redis at url (a connection of their own, made again in a
 * forked child so a rule worker never shares the parent's socket), or with the
 * in-process store when url is NULL or "". May be called before or after install.
 * false with the reason on a bad URL. */
bool oc_pycache_use_redis(const char *url, char *errstr, size_t errstr_size);
/* Makes `panther_detection_helpers.caching` importable in the started rule host
 * (pyhost.h); call it before the pack's rules are loaded. Installing again replaces the
 * modules (and empties the in-process store). false with a reason on a Python failure. */
bool oc_pycache_install(char *errstr, size_t errstr_size);
/* Forgets an earlier Redis failure (call before each file). */
void oc_pycache_begin(void);
/* True when a helper failed because Redis was unavailable since oc_pycache_begin();
 * errstr gets the first reason. */
bool oc_pycache_unavailable(char *errstr, size_t errstr_size);
/* Redis commands sent by the helpers since start (for metrics). */
unsigned long oc_pycache_calls(void);

#endif
