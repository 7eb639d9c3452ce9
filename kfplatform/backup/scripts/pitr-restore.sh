#!/bin/bash
# Restore KFP's and ML Metadata's databases to a point in time (kfplatform/backup/pitr.py;
# docs/backups.md "Point-in-time recovery"): the newest logical backup whose GTID position is at or
# before POINT, then the archived binlogs from that GTID up to POINT.
#  1. Logical backups are `backup.<UTC time>.sql[.gz]` under LOGICAL (mariadb-operator 26.6.0
#     pkg/command/backup.go newBackupFile); each was taken with --master-data=2 --gtid, so it carries
#     `-- SET GLOBAL gtid_slave_pos='<D>-<S>-<N>,...'`: the position of its snapshot.
#  2. The binlog pieces under ARCHIVE (binlog-archive.sh) are ordered by sequence number; duplicates
#     of one session's file keep the longest; a gap between the base and the point is an error.
#  3. Each database is loaded from the base, then the pieces are replayed with
#     mariadb-binlog --do-domain-ids=D --database=DB --start-position=<base GTID> --stop-datetime=POINT.
#     The replayed transactions get the target's own GTIDs (the source's gtid_seq_no lines are
#     dropped), so the target's gtid_strict_mode never sees the source's numbers.
# Environment: ARCHIVE, LOGICAL (mc paths), POINT (UTC, 2026-11-30T22:00:00Z), DATABASES ("mlpipeline
# metadb"), GTID_DOMAIN, TARGET_HOST, TARGET_PORT, TARGET_USER, MYSQL_PWD, WORK, optional CLIENT_ARGS,
# S3_URL/S3_ACCESS_KEY/S3_SECRET_KEY (mc alias `backups`).
set -eu -o pipefail
export TZ=UTC LC_ALL=C
: "${ARCHIVE:?}" "${LOGICAL:?}" "${POINT:?}" "${DATABASES:?}" "${GTID_DOMAIN:?}" "${TARGET_HOST:?}" "${WORK:?}"
TARGET_PORT=${TARGET_PORT:-3306}
TARGET_USER=${TARGET_USER:-root}
CLIENT_ARGS=${CLIENT_ARGS:-}
mkdir -p "$WORK/pieces"
die() { echo "pitr-restore: $*" >&2; exit 1; }
mcq() { mc --no-color --quiet "$@"; }
sql() { mariadb $CLIENT_ARGS -h "$TARGET_HOST" -P "$TARGET_PORT" -u "$TARGET_USER" "$@"; }
if [ -n "${S3_URL:-}" ]; then mcq alias set backups "$S3_URL" "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >/dev/null; fi

case "$POINT" in
  [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z) ;;
  *) die "POINT $POINT: give UTC as YYYY-MM-DDTHH:MM:SSZ" ;;
esac
STOP="${POINT:0:10} ${POINT:11:8}"   # mariadb-binlog reads --stop-datetime in TZ (UTC here)
point_s=$(date -u -d "$STOP" +%s)

# The archived segments, "first last name", by first sequence number (the longest first when two
# start together: a segment re-sent after an upload whose success was not confirmed).
mapfile -t PIECES < <(mcq ls "$ARCHIVE/" | awk '{print $NF}' | awk -F. '
  /^[0-9]+-[0-9]+\./ { split($1, r, "-"); printf "%d %d %s\n", r[1], r[2], $0 }' | sort -k1,1n -k2,2nr)
[ "${#PIECES[@]}" -gt 0 ] || die "no archived binlogs under $ARCHIVE (or the object store did not answer)"

fetch() { [ -f "$WORK/pieces/$1" ] || mcq cp "$ARCHIVE/$1" "$WORK/pieces/$1" >/dev/null; }

# The segments that carry every transaction after sequence $1, in order (into CHAIN); 1 on a gap
# or an overlap (the archive would replay a transaction twice).
chain() {
  local cur=$1 first last name
  CHAIN=()
  for p in "${PIECES[@]}"; do
    read -r first last name <<<"$p"
    [ "$last" -le "$cur" ] && continue
    if [ "$first" -gt $((cur + 1)) ]; then
      GAP="transactions $((cur + 1))..$((first - 1)) of domain $GTID_DOMAIN are not in the archive"
      return 1
    fi
    if [ "${#CHAIN[@]}" -gt 0 ] && [ "$first" -le "$cur" ]; then
      GAP="$name overlaps the segment before it (transactions $first..$cur twice)"
      return 1
    fi
    CHAIN+=("$name"); cur=$last
  done
  return 0
}

# UTC epoch of the domain's transaction $1 in piece $2 (empty if not there).
gtid_time() {
  local stamp
  stamp=$(mariadb-binlog --base64-output=decode-rows "$WORK/pieces/$2" 2>/dev/null | awk -v g="GTID $GTID_DOMAIN-" -v s="$1" '
    !found && /end_log_pos/ && index($0, g) { for (i = 1; i <= NF; i++) if ($i == "GTID") { split($(i + 1), p, "-"); if (p[3] == s) { print $1, $2; found = 1 } } }')
  [ -n "$stamp" ] || return 0
  # `#YYMMDD HH:MM:SS` in TZ (UTC)
  date -u -d "20${stamp:1:2}-${stamp:3:2}-${stamp:5:2} ${stamp#* }" +%s
}

archive_start=$(printf '%s\n' "${PIECES[0]}" | cut -d' ' -f1)
BASE=""; GTID=""; SEQ=""
for b in $(mcq ls "$LOGICAL/" | awk '{print $NF}' | grep -E '^backup\.[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\.sql(\.gz)?$' | sort -r); do
  t=${b#backup.}; t=${t%%Z.sql*}
  [ "$(date -u -d "${t/T/ }" +%s)" -le "$point_s" ] || continue   # named after the point
  mcq cp "$LOGICAL/$b" "$WORK/$b" >/dev/null
  case "$b" in *.gz) gunzip -c "$WORK/$b" >"$WORK/base.sql" ;; *) cp "$WORK/$b" "$WORK/base.sql" ;; esac
  rm -f "$WORK/$b"
  pos=$(grep -m1 -oE "gtid_slave_pos='[^']*'" "$WORK/base.sql" | cut -d"'" -f2) \
    || die "$b has no GTID position (taken without --master-data --gtid?)"
  gtid=$(printf '%s\n' "$pos" | tr ',' '\n' | awk -F- -v d="$GTID_DOMAIN" '$1 == d')
  [ -n "$gtid" ] || die "$b: no GTID of domain $GTID_DOMAIN in '$pos'"
  seq=${gtid##*-}
  [ "$seq" -ge $((archive_start - 1)) ] || die "$b is at $gtid, older than the archive (it starts at sequence $archive_start): no binlogs to replay from it"
  # The backup's name is when its job started; its snapshot came a little later. Its own last
  # transaction must be at or before the point, or the base already holds what the point excludes.
  when=""
  for p in "${PIECES[@]}"; do
    read -r first last name <<<"$p"
    if [ "$first" -le "$seq" ] && [ "$last" -ge "$seq" ]; then fetch "$name"; when=$(gtid_time "$seq" "$name"); break; fi
  done
  if [ -n "$when" ] && [ "$when" -ge "$point_s" ]; then echo "pitr-restore: $b holds $gtid, committed after the point; trying an older backup" >&2; continue; fi
  BASE=$b; GTID=$gtid; SEQ=$seq; break
done
[ -n "$BASE" ] || die "no logical backup under $LOGICAL before $POINT"
chain "$SEQ" || die "cannot roll $BASE forward: $GAP (nothing was changed)"
FILES=()
for name in "${CHAIN[@]}"; do fetch "$name"; FILES+=("$WORK/pieces/$name"); done
echo "pitr-restore: base $BASE at $GTID; replaying ${#FILES[@]} archived binlog file(s) up to $POINT"
if [ "${#CHAIN[@]}" -gt 0 ]; then
  # Transactions after the archive's newest one are not here: say when that was (an idle cluster, or
  # an archiver that had stopped: its alerts say which).
  newest=$(printf '%s\n' "${PIECES[@]}" | awk -v n="${CHAIN[-1]}" '$3 == n { print $2 }')
  at=$(gtid_time "$newest" "${CHAIN[-1]}")
  [ -n "$at" ] && echo "pitr-restore: the archive's newest transaction ($GTID_DOMAIN-*-$newest) was at $(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ)"
fi

for db in $DATABASES; do sql -e "DROP DATABASE IF EXISTS \`$db\`"; done
sql <"$WORK/base.sql"
for db in $DATABASES; do
  [ "${#FILES[@]}" -gt 0 ] || break
  mariadb-binlog --do-domain-ids="$GTID_DOMAIN" --database="$db" --start-position="$GTID" --stop-datetime="$STOP" "${FILES[@]}" \
    | sed -E '/SET @@session\.(gtid_seq_no|gtid_domain_id|server_id)=/Id' | sql
done
echo "pitr-restore: done: $DATABASES at $POINT (base $BASE, from $GTID)"
