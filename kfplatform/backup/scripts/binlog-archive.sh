#!/bin/bash
# Galera binlog archiver (kfplatform/backup/pitr.py; docs/backups.md "Point-in-time recovery").
#
# Streams the cluster's binary logs as a replication client (mariadb-binlog --read-from-remote-server
# --raw --stop-never), by GTID, and copies them to the backups bucket with mc. Every object holds
# whole transactions of the cluster's GTID domain and is named
#     <first seq>-<last seq>.<session>.<server binlog file>     (seqs zero-padded to 20 digits)
# so the restore orders the pieces by sequence number and sees a gap at once.
#  - Segments, never rewritten: every round uploads what arrived since the last upload, up to the
#    last complete transaction, as a valid binlog file (the file's format description event, then
#    those events). The bucket is versioned: an object replaced every round would pile up old
#    versions; a segment is written once. The archive trails the cluster by about one round.
#  - Resume: a new session (start, lost connection, node gone) starts after the highest sequence
#    number in the bucket, on the next host of BINLOG_HOSTS: with wsrep_gtid_mode every node
#    writes the same GTIDs, so any node continues where another stopped; nothing archived is
#    fetched twice and nothing after it is skipped (a purged position is an error, retried, alerted).
#  - Health: the file HEALTHY is touched after a round in which everything the server had one round
#    earlier was in the bucket; the pod's readiness probe reads its age (the lag alert).
# Environment: BINLOG_HOSTS ("host[:port] ..."), BINLOG_USER, PASSWORD_FILE (re-read at every
# session, so a rotated password is used at the next reconnection) or MYSQL_PWD, GTID_DOMAIN, GTID_SERVER_ID,
# ARCHIVE (mc target, e.g. backups/kfp-backups/galera/binlog), INTERVAL (seconds), WORK (a writable
# directory), optional CLIENT_ARGS (TLS options), SLAVE_ID, RETRY_SECONDS, PRUNE_OLDER_THAN (the
# archive's retention, e.g. 720h: older objects are removed at most hourly), and S3_URL/S3_ACCESS_KEY/S3_SECRET_KEY
# (mc alias `backups`; without S3_URL the alias must already exist).
set -u -o pipefail
export TZ=UTC LC_ALL=C
: "${BINLOG_HOSTS:?}" "${BINLOG_USER:?}" "${GTID_DOMAIN:?}" "${GTID_SERVER_ID:?}" "${ARCHIVE:?}" "${INTERVAL:?}" "${WORK:?}"
CLIENT_ARGS=${CLIENT_ARGS:-}
SLAVE_ID=${SLAVE_ID:-4000}
RETRY=${RETRY_SECONDS:-5}   # pause before the next host after a failure
STALL=${STALL_SECONDS:-600}  # a session without a caught-up round for this long is dropped and reopened
HEALTHY="$WORK/healthy"
mkdir -p "$WORK"

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" >&2; }
mcq() { mc --no-color --quiet "$@"; }

if [ -n "${S3_URL:-}" ]; then
  mcq alias set backups "$S3_URL" "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >/dev/null || { log "mc alias set failed"; exit 1; }
fi

pad() { printf '%020d' "$((10#$1))"; }

# "first last end" of the complete transactions of a local binlog file whose GTID event starts at
# or after byte $2: the first and last sequence number of the domain's, and the byte offset just
# after the last complete one (any domain). Offsets are the local file's (`# at`), not the server's
# end_log_pos: a session started by GTID writes its first file from the middle of the server's.
scan() {
  local r
  r=$(mariadb-binlog --base64-output=decode-rows "$1" 2>/dev/null | awk -v d="$GTID_DOMAIN" -v from="$2" '
    function done_() {
      open = 0; term = hdr
      if (gd == d) { if (first == "") first = gs; last = gs }
    }
    /^# at [0-9]+$/ { at = $3 + 0; next }
    /end_log_pos/ && /GTID [0-9]+-[0-9]+-[0-9]+/ {
      if (at < from) { open = 0; next }
      for (i = 1; i <= NF; i++) if ($i == "GTID") g = $(i + 1)
      split(g, p, "-"); open = 1; trans = ($0 ~ / trans/); gd = p[1]; gs = p[3]; next
    }
    /end_log_pos/ { hdr = at; if (open && !trans) done_(); next }   # a DDL group: one event after its GTID
    /^COMMIT\/\*!\*\/;$/ { if (open && trans) done_(); next }
    END { if (term != "") print (first == "" ? "-" : first), (last == "" ? "-" : last), term }')
  [ -n "$r" ] || return 0
  local first last term
  read -r first last term <<<"$r"
  echo "$first $last $((term + $(evlen "$1" "$term")))"
}

evlen() {  # length of the event at byte $2 of file $1 (event header: 4-byte length at offset 9)
  od -An -t u4 -j $(($2 + 9)) -N 4 "$1" | tr -d ' '
}

# Bytes [$2, $3) of binlog file $1 as a binlog file of their own, into $WORK/segment.
segment() {
  if [ "$2" -eq 0 ]; then
    head -c "$3" "$1" >"$WORK/segment"
  else
    head -c $((4 + $(evlen "$1" 4))) "$1" >"$WORK/segment"   # magic + format description event
    dd if="$1" of="$WORK/segment" bs=1M iflag=skip_bytes,count_bytes skip="$2" count=$(($3 - $2)) \
      oflag=append conv=notrunc status=none
  fi
}

# Highest sequence number in the bucket (0 when empty). Objects: <first>-<last>.<session>.<file>.
archived_seq() {
  local names
  names=$(mcq ls "$ARCHIVE/") || return 1
  printf '%s\n' "$names" | awk '{print $NF}' | awk -F'[-.]' '/^[0-9]+-[0-9]+\./ { if ($2 + 0 > m) m = $2 + 0 } END { print m + 0 }'
}

server_seq() {  # the domain's newest sequence number on host $1 (empty if none yet)
  local h=${1%%:*} p=${1##*:}
  [ "$p" = "$1" ] && p=3306
  mariadb $CLIENT_ARGS -h "$h" -P "$p" -u "$BINLOG_USER" -N -B -e 'SELECT @@GLOBAL.gtid_binlog_pos' 2>/dev/null \
    | tr ',' '\n' | awk -F- -v d="$GTID_DOMAIN" '$1 == d { print $3 }'
}

# Upload what arrived since the last round: for each local file, the complete transactions after
# DONE[file] as one segment; a file the server rotated away from (not the newest) goes to its end
# and is then removed locally. $2=final: the session ended.
upload_round() {
  local dir=$1 final=$2 files newest f r first last end from name
  mapfile -t files < <(ls "$dir" 2>/dev/null | grep -v '^\.' | sort)
  [ "${#files[@]}" -eq 0 ] && return 0
  newest=${files[-1]}
  for f in "${files[@]}"; do
    from=${DONE[$f]:-0}
    r=$(scan "$dir/$f" "$from")
    if [ -n "$r" ]; then
      read -r first last end <<<"$r"
      if [ "$f" != "$newest" ]; then end=$(stat -c %s "$dir/$f"); fi   # closed: to its end (Rotate)
      if [ "$first" != - ]; then
        name="$(pad "$first")-$(pad "$last").$SESSION.$f"
        segment "$dir/$f" "$from" "$end" || return 1
        mcq cp "$WORK/segment" "$ARCHIVE/$name" >/dev/null || return 1
        ARCHIVED=$((10#$last))
      fi
      DONE[$f]=$end
    fi
    if [ "$f" != "$newest" ]; then rm -f "$dir/$f"; unset "DONE[$f]"; fi
  done
  [ "$final" = final ] && DONE=()
  return 0
}

# Retention: `mc rm --recursive --force --older-than` (cmd/rm-main.go at the pinned mc release).
PRUNED=0
prune() {
  [ -n "${PRUNE_OLDER_THAN:-}" ] || return 0
  [ $(( $(date +%s) - PRUNED )) -ge 3600 ] || return 0
  mcq rm --recursive --force --older-than "$PRUNE_OLDER_THAN" "$ARCHIVE/" >/dev/null && PRUNED=$(date +%s) || log "pruning failed"
}

declare -A DONE=()
read -r -a HOSTS <<<"$BINLOG_HOSTS"
STOP=0
PID=""
trap 'STOP=1; [ -n "$PID" ] && kill "$PID" 2>/dev/null' TERM INT
i=0
n=0
while [ "$STOP" = 0 ]; do
  host=${HOSTS[$((i % ${#HOSTS[@]}))]}
  i=$((i + 1))
  h=${host%%:*}; p=${host##*:}; [ "$p" = "$host" ] && p=3306
  if [ -n "${PASSWORD_FILE:-}" ]; then MYSQL_PWD=$(cat "$PASSWORD_FILE") || { log "cannot read $PASSWORD_FILE"; sleep "$RETRY"; continue; }; export MYSQL_PWD; fi
  if ! ARCHIVED=$(archived_seq); then
    log "cannot list $ARCHIVE; retrying"; sleep "$RETRY"; continue
  fi
  if [ "$ARCHIVED" = 0 ]; then
    # An empty archive starts at the server's current position: older history is in the backups.
    start=$(server_seq "$host")
    if [ -z "$start" ]; then log "$host: no GTID of domain $GTID_DOMAIN yet (or unreachable); next host"; sleep "$RETRY"; continue; fi
  else
    start=$ARCHIVED
  fi
  ARCHIVED=$start   # everything up to here is in the bucket (or, for a new archive, in the backups)
  n=$((n + 1))
  # Unique per pod and connection (the pod's name, a random number, a counter): the restore tells
  # pieces of one session's file from another's by it. No '.' (the name's separator).
  SESSION="$(date -u +%Y%m%dT%H%M%SZ)-$(printf '%s' "${HOSTNAME:-pod}" | tr -c 'a-z0-9-' '-')-$RANDOM-$n-${h%%.*}"
  dir="$WORK/$SESSION"
  mkdir -p "$dir"
  log "session $SESSION: streaming from $host after GTID $GTID_DOMAIN-$GTID_SERVER_ID-$start"
  (cd "$dir" && exec mariadb-binlog $CLIENT_ARGS --read-from-remote-server --host="$h" --port="$p" --user="$BINLOG_USER" \
      --raw --stop-never --stop-never-slave-server-id="$SLAVE_ID" \
      --start-position="$GTID_DOMAIN-$GTID_SERVER_ID-$start" placeholder) &
  PID=$!
  seen=""   # the server's position one round ago
  last_ok=$(date +%s)
  while [ "$STOP" = 0 ] && kill -0 "$PID" 2>/dev/null; do
    sleep "$INTERVAL" & wait $! 2>/dev/null
    kill -0 "$PID" 2>/dev/null || break
    now=$(server_seq "$host")
    prune
    if upload_round "$dir" open; then
      if [ -n "$seen" ] && [ "$ARCHIVED" -ge "$seen" ]; then touch "$HEALTHY"; last_ok=$(date +%s); fi
      seen=${now:-$seen}
    else
      log "upload failed; retrying next round"
    fi
    if [ $(( $(date +%s) - last_ok )) -gt "$STALL" ]; then
      # A silent connection (a node that vanished without closing it) or a store that refuses us:
      # start over from what the bucket holds, on the next host.
      log "session $SESSION made no progress for ${STALL}s; reconnecting"
      break
    fi
  done
  kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null
  PID=""
  # The session ended (stop, lost connection, node gone): keep what arrived whole, then resume.
  upload_round "$dir" final || log "final upload of $SESSION failed; the next session re-reads it"
  rm -rf "$dir"
  [ "$STOP" = 0 ] && { log "session $SESSION ended; reconnecting"; sleep "$RETRY"; }
done
log "stopped"
