/* timeutil.h: timestamps as int64 microseconds since the Unix epoch, UTC. */
#ifndef OC_TIMEUTIL_H
#define OC_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int64_t oc_now_us(void);       /* wall clock */
int64_t oc_monotonic_us(void); /* for durations and timeouts */
/* RFC 3339 / ISO 8601: "2026-11-28T16:37:40Z", fractional seconds up to 9 digits,
 * "+02:00" offsets, 'T' or ' ' separator. false when malformed. No allocation. */
bool oc_time_parse_rfc3339(const char *s, size_t n, int64_t *out_us);
/* Panther's lake format "2026-11-28 16:37:40.123456000" (29 chars + NUL). */
void oc_time_format_panther(int64_t us, char out[32]);
/* RFC 3339 with microseconds and Z: "2026-11-28T16:37:40.123456Z". */
void oc_time_format_rfc3339(int64_t us, char out[32]);
/* Breaks us into UTC fields (for lake partitions). */
void oc_time_utc_fields(int64_t us, int *year, int *month, int *day, int *hour);

#endif
