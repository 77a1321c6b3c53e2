/* packstore.h: Panther packs kept in Postgres (migrations/0002_rule_packs.sql) and the
 * notice that tells engines they changed.
 *
 * Storing (`ocelot rules upload`): every rule and scheduled rule (table rules, kind
 * python), data model (data_models) and global helper (global_helpers) of a loaded pack
 * is upserted with its .yml text, its Python file, its path inside the pack and a digest
 * of all of that; an item whose digest did not change keeps its version, a changed one
 * gets version + 1 and a row in pack_item_versions; items of the pack that are gone from
 * the upload are deleted; the packs row gets a new version when anything changed. One
 * transaction.
 *
 * Loading (the engine): oc_packstore_materialize() writes the stored items back as a
 * pack directory (<dir>/<pack id>/<path in the pack>), which the ordinary pack loader
 * (pack.h, pyscan.h) reads; so a stored pack loads exactly as the directory it came
 * from, and rule versions (hashes of the files) are the same.
 *
 * Notice: oc_packstore_notify() publishes the pack id on OC_PACKSTORE_CHANNEL; an
 * engine's watch (a second Redis connection in subscribe mode) reports it. Not
 * thread-safe. */
#ifndef OC_RULES_PACKSTORE_H
#define OC_RULES_PACKSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/pg.h"
#include "common/redis.h"
#include "services/rules-engine/pack.h"

#define OC_PACKSTORE_CHANNEL "ocelot:rules-changed"
#define OC_PACKSTORE_MAX_PY (4 * 1024 * 1024) /* bytes of one Python file */
#define OC_PACKSTORE_MAX_ID 128

typedef struct oc_packstore_stats {
  size_t items;     /* rules, data models and globals in the upload */
  size_t created;   /* new ids */
  size_t updated;   /* new versions of existing ids */
  size_t unchanged; /* same digest: no new version */
  size_t removed;   /* stored items of the pack no longer in it */
  long long pack_version;
  bool pack_changed;
} oc_packstore_stats_t;

/* True when id can name a pack: 1..128 of [A-Za-z0-9._-], not starting with '.'. */
bool oc_packstore_id_ok(const char *id);

/* Stores pack (loaded with oc_pack_load_dir(pack, root)) as pack_id. The pack must have
 * no load messages (the caller refuses such a pack). OC_ERR_UNAVAILABLE when Postgres
 * is down; OC_ERR_INVALID with the reason for an item that cannot be stored (a file
 * outside root, too large, not UTF-8). */
oc_err_t oc_packstore_put(oc_pg_t *pg, const oc_pack_t *pack, const char *root, const char *pack_id,
                          oc_packstore_stats_t *st, char *errstr, size_t errstr_size);

/* A text that changes whenever a stored pack changes (or the tables are edited). */
oc_err_t oc_packstore_fingerprint(oc_pg_t *pg, char *out, size_t out_size, char *errstr,
                                  size_t errstr_size);

/* Writes every stored item under dir (created; must be empty or absent). *nitems gets
 * the number of items written. A row with an unsafe path is skipped and counted in
 * *nskipped (logged by the caller). */
oc_err_t oc_packstore_materialize(oc_pg_t *pg, const char *dir, size_t *nitems, size_t *nskipped,
                                  char *errstr, size_t errstr_size);
/* The ids of every stored rule, data model and global (the engine leaves items of
 * OCELOT_RULES_PACK_DIR with these ids out: the stored version wins). Caller frees. */
oc_err_t oc_packstore_ids(oc_pg_t *pg, char ***ids, size_t *nids, char *errstr, size_t errstr_size);
void oc_packstore_ids_free(char **ids, size_t nids);

/* Copies the regular, non-hidden files under src into dst (created), except the files
 * whose paths (as src/...) are in skip. Depth and size limits as pack.h. */
bool oc_packstore_copy_dir(const char *src, const char *dst, const char *const *skip, size_t nskip,
                           char *errstr, size_t errstr_size);
/* Removes a directory tree this module wrote (best effort; accepts NULL). */
void oc_packstore_remove_dir(const char *dir);
/* Names, sizes and mtimes of every file under dir, hashed; 0 when dir is unreadable. */
uint64_t oc_packstore_dir_fingerprint(const char *dir);

/* Publishes pack_id on OC_PACKSTORE_CHANNEL; *receivers gets the subscriber count. */
oc_err_t oc_packstore_notify(oc_redis_t *redis, const char *pack_id, long long *receivers,
                             char *errstr, size_t errstr_size);

typedef struct oc_packstore_watch oc_packstore_watch_t;
/* A subscriber to OC_PACKSTORE_CHANNEL at redis_url; does not connect yet. */
oc_packstore_watch_t *oc_packstore_watch_new(const char *redis_url, char *errstr,
                                             size_t errstr_size);
void oc_packstore_watch_destroy(oc_packstore_watch_t *w); /* accepts NULL */
/* Non-blocking. Subscribes when not subscribed. *changed is true when a notice arrived
 * or the subscription was just (re)made (a notice may have been missed meanwhile).
 * OC_ERR_UNAVAILABLE while Redis is unreachable (retried at the next poll, at most once
 * a second). */
oc_err_t oc_packstore_watch_poll(oc_packstore_watch_t *w, bool *changed, char *errstr,
                                 size_t errstr_size);

#endif
