#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Real programs that need the file-system calls of issues 11 and 12, each
# compared with the same program run natively: SQLite (static, Debian's
# libsqlite3.a), two Keeps sharing one database, busybox mkdir -p / ln /
# readlink / ls -l, sash -cp (creat), ldconfig -p on a cache in a volume
# (file-backed mmap). On kvm with both channel paths, and on nil.
set -eu
. "$(dirname "$0")/lib.sh"

BB=${KEEP_BUSYBOX:-/bin/busybox}
SQL=$WL/wl_sqlite
if why=$(backend_status kvm); then
  backends="kvm/direct kvm/bounce nil/direct"
  backend_status nil >/dev/null || backends="kvm/direct kvm/bounce"
else
  echo "# SKIP kvm: $why; running the tools on nil only"
  why_nil=$(backend_status nil) || skip_all "neither kvm ($why) nor nil ($why_nil) can run here"
  backends="nil/direct"
fi

cat >"$TMP/test.sql" <<'SQL'
PRAGMA journal_mode;
CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER);
INSERT INTO people(name, age) VALUES ('alice', 31), ('bob', 27), ('carol', 45);
BEGIN;
UPDATE people SET age = age + 1 WHERE name = 'bob';
INSERT INTO people(name, age) SELECT name || '-jr', age - 20 FROM people;
COMMIT;
BEGIN;
DELETE FROM people WHERE age < 10;
ROLLBACK;
CREATE INDEX people_age ON people(age);
SELECT id, name, age FROM people ORDER BY age;
SELECT count(*), sum(age) FROM people;
PRAGMA integrity_check;
SQL
printf 'PRAGMA locking_mode=EXCLUSIVE;\nPRAGMA journal_mode=WAL;\nCREATE TABLE x(a);\nINSERT INTO x VALUES (1), (2);\nSELECT count(*) FROM x;\nPRAGMA integrity_check;\n' >"$TMP/walx.sql"
printf 'PRAGMA journal_mode=WAL;\nCREATE TABLE x(a);\n' >"$TMP/wal.sql"
count_sql() { printf 'SELECT count(*), count(DISTINCT tag) FROM t;\nPRAGMA integrity_check;\n' >"$1"; }

native=$TMP/native
mkdir -p "$native"
if [ -x "$SQL" ]; then
  "$SQL" "$native/test.db" script "$TMP/test.sql" >"$TMP/sqlite.native"
fi

for bc in $backends; do
  b=${bc%/*}
  c=${bc#*/}
  P="[$b/$c]"
  vol=$TMP/vol-$b-$c
  rm -rf "$vol"
  mkdir -p "$vol"
  k() { "$KEEP" run --backend "$b" --channel "$c" --volume "$vol:/data" "$@"; }

  if [ -x "$SQL" ]; then
    cp "$TMP/test.sql" "$TMP/walx.sql" "$TMP/wal.sql" "$vol/"
    expect_status 0 "$P SQLite runs a script on /data/test.db (rollback journal)" \
      k "$SQL" /data/test.db script /data/test.sql
    check "$P   its output equals the native run's" cmp -s "$TMP/sqlite.native" "$TMP/out"
    check "$P   the host's copy of the database is the same table" bash -c \
      "'$SQL' '$vol/test.db' script /dev/stdin <<<'SELECT count(*) FROM people;' | grep -qx 6"
    # Two Keeps insert at the same time: SQLite's POSIX locks are host locks.
    "$KEEP" run --backend "$b" --channel "$c" --volume "$vol:/data" "$SQL" /data/shared.db \
      insert 150 first >"$TMP/ins1.out" 2>&1 &
    p1=$!
    "$KEEP" run --backend "$b" --channel "$c" --volume "$vol:/data" "$SQL" /data/shared.db \
      insert 150 second >"$TMP/ins2.out" 2>&1 &
    p2=$!
    s1=0 s2=0
    wait $p1 || s1=$?
    wait $p2 || s2=$?
    check "$P two Keeps insert 150 rows each into one database at once (exit $s1, $s2)" \
      test "$s1" -eq 0 -a "$s2" -eq 0
    sed 's/^/#   /' "$TMP/ins1.out" "$TMP/ins2.out" | head -5
    count_sql "$vol/count.sql"
    expect_status 0 "$P   then the database holds both writers' rows" \
      k "$SQL" /data/shared.db script /data/count.sql
    check "$P   300 rows from 2 writers, integrity_check ok" bash -c \
      "[ \"\$(tr '\n' ' ' <'$TMP/out')\" = '300|2 ok ' ]"
    expect_status 0 "$P SQLite WAL with locking_mode=EXCLUSIVE (no shared -shm mapping needed)" \
      k "$SQL" /data/walx.db script /data/walx.sql
    check "$P   rows and integrity_check" bash -c "[ \"\$(tr '\n' ' ' <'$TMP/out')\" = 'exclusive wal 2 ok ' ]"
    if [ "$b" = kvm ]; then
      # docs/KEEP.md, "Memory": MAP_SHARED writable is ENODEV, so shared-memory WAL cannot start.
      expect_status 1 "$P SQLite WAL in shared locking mode is refused (no MAP_SHARED -shm)" \
        k "$SQL" /data/wal.db script /data/wal.sql
      check "$P   SQLite says disk I/O error" err_has 'disk I/O error'
    fi
  else
    ok 0 "$P # SKIP SQLite: libsqlite3.a missing (Debian package libsqlite3-dev)"
  fi

  if [ -x "$BB" ]; then
    printf 'alice\nbob\n' >"$vol/people.txt"
    expect_status 0 "$P busybox mkdir -p /data/a/b/c" k "$BB" mkdir -p /data/a/b/c
    check "$P   the host sees a/b/c" test -d "$vol/a/b/c"
    expect_status 0 "$P busybox mkdir -p of an existing path" k "$BB" mkdir -p /data/a/b
    expect_status 0 "$P busybox ln -s people.txt /data/plink" k "$BB" ln -s people.txt /data/plink
    check "$P   the host sees the symlink" bash -c "[ \"\$(readlink '$vol/plink')\" = people.txt ]"
    expect_status 0 "$P busybox readlink" k "$BB" readlink /data/plink
    check "$P   prints the target" out_has '^people.txt$'
    expect_status 0 "$P busybox ls -l of the link" k "$BB" ls -l /data/plink
    check "$P   shows it pointing at people.txt" out_has '^l.* /data/plink -> people.txt$'
    expect_status 0 "$P busybox cat through the link" k "$BB" cat /data/plink
    check "$P   the file's bytes" cmp -s "$TMP/out" "$vol/people.txt"
    expect_status 0 "$P busybox ln (hard link)" k "$BB" ln /data/people.txt /data/hlink
    check "$P   one inode, two names" bash -c \
      "[ \"\$(stat -c %i '$vol/people.txt')\" = \"\$(stat -c %i '$vol/hlink')\" ]"
    if [ "$b" = kvm ]; then
      expect_status 0 "$P busybox ln -s /etc/passwd /data/out (a link may name a path outside)" \
        k "$BB" ln -s /etc/passwd /data/out
      expect_status 1 "$P   but reading through it fails" k "$BB" cat /data/out
      check "$P   and shows none of the host's /etc/passwd" bash -c "! grep -q root: '$TMP/out'"
    fi
  fi

  if [ -x /usr/bin/sash ] && file -L /usr/bin/sash | grep -q 'statically linked'; then
    expect_status 0 "$P sash -c '-cp people.txt copy.txt' (creat)" \
      k /usr/bin/sash -c '-cp /data/people.txt /data/copy.txt'
    check "$P   the copy has the bytes" cmp -s "$vol/people.txt" "$vol/copy.txt"
    seq 1 2000 >"$vol/nums.txt"
    expect_status 0 "$P sash -gzip" k /usr/bin/sash -c '-gzip /data/nums.txt'
    check "$P   the host's gzip accepts it" gzip -t "$vol/nums.txt.gz"
    expect_status 0 "$P sash -tar cf" k /usr/bin/sash -c '-tar cf /data/a.tar /data/nums.txt.gz'
    check "$P   the host's tar lists the member" bash -c \
      "tar tf '$vol/a.tar' 2>/dev/null | grep -qxE '/?data/nums.txt.gz'"
  else
    ok 0 "$P # SKIP sash: /usr/bin/sash missing or not static (Debian package sash)"
  fi

  if [ -r /etc/ld.so.cache ] && file -L /sbin/ldconfig | grep -q 'static'; then
    cp /etc/ld.so.cache "$vol/ld.so.cache"
    /sbin/ldconfig -p -C "$vol/ld.so.cache" | sed 1d >"$TMP/ld.native"
    expect_status 0 "$P ldconfig -p -C /data/ld.so.cache (file-backed mmap)" \
      k /sbin/ldconfig -p -C /data/ld.so.cache
    check "$P   lists what the native run lists" bash -c "sed 1d '$TMP/out' | cmp -s - '$TMP/ld.native'"
  else
    ok 0 "$P # SKIP ldconfig: /sbin/ldconfig is not a static program here"
  fi
done
done_testing
