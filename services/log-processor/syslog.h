/* syslog.h: the native parsers of the Syslog.RFC5424 and Syslog.RFC3164 log types. Each
 * turns one line into a JSON object with Panther's member names, so the rest of the
 * log-processor (schema validation, normalization, detections) treats it like any JSON
 * event:
 *   RFC 5424: priority, facility, severity, version, timestamp, hostname, appname, procid,
 *             msgid, structured_data {SD-ID: {param: value}}, message
 *   RFC 3164: priority, facility, severity, timestamp, hostname, appname, procid, message
 * Numbers are OC_JSON_NUMBER nodes; absent ("-" / NILVALUE) fields are omitted. */
#ifndef OC_PROC_SYSLOG_H
#define OC_PROC_SYSLOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/json.h"

/* Limits beyond which a line is rejected. */
#define OC_SYSLOG_MAX_SD_ELEMENTS 64
#define OC_SYSLOG_MAX_SD_PARAMS 64

/* RFC 5424: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
 * STRUCTURED-DATA [SP MSG]. The header is checked against the RFC's grammar (PRI 0..191,
 * printable ASCII fields within the RFC's lengths, an RFC 3339 timestamp, kept as
 * written); SD param values are unescaped (\" \\ \]); a UTF-8 BOM before MSG is dropped.
 * A repeated SD-ID is an error; a repeated param name keeps the last value.
 * The tree is allocated from a; strings point into line where no unescaping was needed,
 * so line must outlive the tree. Returns NULL and writes a reason with the byte offset
 * into errstr when the line is not RFC 5424 syslog. No other allocation; thread-safe. */
oc_json_t *oc_syslog_parse_rfc5424(oc_arena_t *a, const char *line, size_t len, char *errstr,
                                   size_t errstr_size);

/* RFC 3164 (BSD syslog): <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG, read as real senders
 * write it: a day padded with a space or not, fractional seconds, an RFC 3339 timestamp in
 * place of the BSD one, no hostname, a tag without a PID or without the colon. The
 * timestamp becomes RFC 3339 text in UTC ("2026-11-28T16:37:40.000000Z"); the BSD form has
 * no year, so it takes the year of ref_us (normally the time the line was received), or
 * the year before when that would put it more than a day after ref_us.
 * Same ownership, errors and threading as oc_syslog_parse_rfc5424. */
oc_json_t *oc_syslog_parse_rfc3164(oc_arena_t *a, const char *line, size_t len, int64_t ref_us,
                                   char *errstr, size_t errstr_size);

#endif
