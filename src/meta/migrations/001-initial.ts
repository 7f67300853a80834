/**
 * Schema version 1: the op log (the truth), the materialised tree derived from it, and local state.
 */
import type { Migration } from './index.js'

export const initial: Migration = {
  version: 1,
  description: 'op log, materialised tree (inodes, dentries, stripes, xattrs), authors, local state',
  sql: `
CREATE TABLE ops(
  author TEXT NOT NULL,
  seq INTEGER NOT NULL,
  hlc INTEGER NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  sig BLOB,
  PRIMARY KEY(author, seq)
) WITHOUT ROWID;
CREATE INDEX ops_order ON ops(hlc, author, seq);

CREATE TABLE authors(
  author TEXT PRIMARY KEY,
  public_key BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE inodes(
  ino INTEGER PRIMARY KEY,
  node TEXT NOT NULL,
  type TEXT NOT NULL,
  mode INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  gid INTEGER NOT NULL,
  nlink INTEGER NOT NULL,
  size INTEGER NOT NULL,
  rdev INTEGER NOT NULL,
  atime_s INTEGER NOT NULL, atime_n INTEGER NOT NULL,
  mtime_s INTEGER NOT NULL, mtime_n INTEGER NOT NULL,
  ctime_s INTEGER NOT NULL, ctime_n INTEGER NOT NULL,
  parent INTEGER NOT NULL,
  entries INTEGER NOT NULL,
  stripe_size INTEGER NOT NULL,
  target TEXT
);
CREATE UNIQUE INDEX inodes_node ON inodes(node);
CREATE INDEX inodes_orphans ON inodes(nlink) WHERE nlink = 0;

CREATE TABLE dentries(
  parent INTEGER NOT NULL,
  name TEXT NOT NULL,
  ino INTEGER NOT NULL,
  type TEXT NOT NULL,
  cookie INTEGER NOT NULL,
  PRIMARY KEY(parent, name)
) WITHOUT ROWID;
CREATE UNIQUE INDEX dentries_cookie ON dentries(parent, cookie);
CREATE INDEX dentries_ino ON dentries(ino);

CREATE TABLE stripes(
  ino INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  length INTEGER NOT NULL,
  id TEXT NOT NULL,
  k INTEGER NOT NULL,
  n INTEGER NOT NULL,
  codec INTEGER NOT NULL,
  fragments TEXT NOT NULL,
  holders TEXT NOT NULL,
  PRIMARY KEY(ino, idx)
) WITHOUT ROWID;

CREATE TABLE xattrs(
  ino INTEGER NOT NULL,
  name TEXT NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY(ino, name)
) WITHOUT ROWID;

CREATE TABLE state(
  id INTEGER PRIMARY KEY CHECK(id = 1),
  next_ino INTEGER NOT NULL,
  next_cookie INTEGER NOT NULL,
  files INTEGER NOT NULL,
  dirs INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  ops INTEGER NOT NULL
);
INSERT INTO state(id, next_ino, next_cookie, files, dirs, bytes, ops) VALUES(1, 2, 1, 0, 0, 0, 0);
`
}
