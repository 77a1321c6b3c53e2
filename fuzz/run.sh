#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined) and runs
# one of them for a number of seconds. Not part of CI.
#   fuzz/run.sh [seconds] [target]      e.g. fuzz/run.sh 300 json
# Needs the Debian packages clang and libclang-rt-14-dev (libFuzzer's runtime).
# Corpus, crashes and build output go to $OC_FUZZ_DIR (default build-fuzz/ in the tree).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
TARGET=${2:-json}
WORK=${OC_FUZZ_DIR:-$PWD/build-fuzz}
CC=${CC_FUZZ:-clang}

if ! command -v "$CC" >/dev/null 2>&1; then
  echo "fuzz/run.sh: $CC not found; install the Debian packages clang libclang-rt-14-dev" >&2
  exit 2
fi

case "$TARGET" in
  json) SRCS=(fuzz/fuzz_json.c common/json.c common/arena.c common/buf.c common/timeutil.c) ;;
  textparse) SRCS=(fuzz/fuzz_textparse.c services/log-processor/textparse.c
      services/log-processor/csvparse.c services/log-processor/fastmatch.c
      services/log-processor/regexparse.c common/json.c common/arena.c common/buf.c
      -lpcre2-8 -lpthread) ;;
  syslog) SRCS=(fuzz/fuzz_syslog.c services/log-processor/syslog.c common/timefmt.c common/json.c common/arena.c common/buf.c common/timeutil.c) ;;
  timefmt) SRCS=(fuzz/fuzz_timefmt.c common/timefmt.c common/timeutil.c) ;;
  schema) SRCS=(-I/usr/include/postgresql fuzz/fuzz_schema.c services/log-processor/classify.c
      services/log-processor/schema.c services/log-processor/logtypes.c
      services/log-processor/indicators.c services/log-processor/normalize.c
      services/log-processor/syslog.c services/log-processor/textparse.c
      services/log-processor/csvparse.c services/log-processor/fastmatch.c
      services/log-processor/regexparse.c common/json.c common/arena.c common/buf.c
      common/timeutil.c common/timefmt.c common/hash.c common/log.c common/pg.c common/err.c
      -lpcre2-8 -lyaml -lxxhash -lpq -lpthread) ;;
  all)
    # every target in turn, SECONDS_TO_RUN each
    for t in json syslog timefmt textparse schema; do "$0" "$SECONDS_TO_RUN" "$t" || exit 1; done
    exit 0 ;;
  *) echo "fuzz/run.sh: unknown target \"$TARGET\" (known: json syslog timefmt textparse schema all)" >&2; exit 2 ;;
esac

mkdir -p "$WORK/corpus/$TARGET" "$WORK/crashes/$TARGET"
BIN="$WORK/fuzz_$TARGET"
"$CC" -g -O1 -std=c11 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -fno-omit-frame-pointer "${SRCS[@]}" -lm -o "$BIN"

# Seed an empty corpus of the line parsers with the golden sample lines of the managed
# log types (every parser kind), one line a file.
if [ "$TARGET" != json ] && [ -z "$(ls -A "$WORK/corpus/$TARGET")" ]; then
  i=0
  for f in tests/golden/logtypes/*/input.log; do
    while IFS= read -r line; do
      printf '%s' "$line" > "$WORK/corpus/$TARGET/golden$i"
      i=$((i + 1))
    done < "$f"
  done
fi
# Seed an empty corpus with a few documents covering every value type and escape.
if [ -z "$(ls -A "$WORK/corpus/$TARGET")" ]; then
  i=0
  while IFS= read -r line; do
    printf '%s' "$line" > "$WORK/corpus/$TARGET/seed$i.json"
    i=$((i + 1))
  done <<'SEEDS'
{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/r/s","sessionContext":{"attributes":{"mfaAuthenticated":"false","creationDate":"2026-11-28T16:37:40Z"}}},"readOnly":true,"resources":[{"ARN":"arn:aws:s3:::b","type":"AWS::S3::Bucket"}],"n":-1.5e3,"z":null}
["\u00e9\ud83d\ude00\n\t\"\\\/",0,-0,1e-7,true,false,null,[],{}]
{"Records":[{"s3":{"bucket":{"name":"b"},"object":{"key":"k/x.json.gz","size":12}}}]}
"plain string with \u0000 and caf\u00e9"
[[[[[[[[[[1]]]]]]]]]]
2026-11-28T16:37:40.123456789+02:00
SEEDS
fi

cat > "$WORK/json.dict" <<'DICT'
"{"
"}"
"["
"]"
":"
","
"\""
"\\u"
"\\ud83d\\ude00"
"\\ud800"
"\\n"
"true"
"false"
"null"
"-0"
"1e+9"
"0.5"
"\xc3\xa9"
"\xe2\x82\xac"
"\xf0\x9f\x98\x80"
"\xed\xa0\x80"
"\xc0\x80"
DICT

echo "fuzzing $TARGET for ${SECONDS_TO_RUN}s; corpus $WORK/corpus/$TARGET" >&2
exec "$BIN" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -dict="$WORK/json.dict" \
  -artifact_prefix="$WORK/crashes/$TARGET/" -print_final_stats=1 "$WORK/corpus/$TARGET"
