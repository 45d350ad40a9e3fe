//! The store's schema, as a list of migrations applied in order. SQLite's `user_version` holds
//! how many have run, so a newer tidewatch upgrades an older file at start-up and an older one
//! refuses a file it does not understand instead of corrupting it.
//!
//! A migration is never edited once released: changes are new entries at the end.

pub const MIGRATIONS: &[&str] = &[
    // 1: container state, the audit log, and what each trigger has already sent.
    "
    CREATE TABLE containers (
        watcher       TEXT NOT NULL,
        name          TEXT NOT NULL,
        id            TEXT NOT NULL,
        image         TEXT NOT NULL,
        status        TEXT NOT NULL,
        reason        TEXT,
        update_kind   TEXT,
        update_tag    TEXT,
        update_digest TEXT,
        checked_at    TEXT NOT NULL,
        PRIMARY KEY (watcher, name)
    );
    CREATE TABLE audit (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        at        TEXT NOT NULL,
        watcher   TEXT,
        container TEXT,
        event     TEXT NOT NULL,
        detail    TEXT NOT NULL
    );
    CREATE INDEX audit_by_container ON audit (container, seq);
    CREATE TABLE notified (
        trigger   TEXT NOT NULL,
        watcher   TEXT NOT NULL,
        container TEXT NOT NULL,
        target    TEXT NOT NULL,
        at        TEXT NOT NULL,
        PRIMARY KEY (trigger, watcher, container, target)
    );
    ",
    // 2: the update journal: an update under way, step by step, so that a crash is finished or
    // undone at the next start.
    "
    CREATE TABLE journal (
        watcher TEXT NOT NULL,
        name    TEXT NOT NULL,
        entry   TEXT NOT NULL,
        at      TEXT NOT NULL,
        PRIMARY KEY (watcher, name)
    );
    ",
    // 3: what the API shows of each container beyond its finding: the container as the
    // engine listed it (labels, platform, digests) and the finding as the check reported it, as
    // JSON, so the API answers from the store alone.
    "
    CREATE TABLE views (
        watcher TEXT NOT NULL,
        name    TEXT NOT NULL,
        info    TEXT,
        listed  TEXT,
        PRIMARY KEY (watcher, name)
    );
    ",
    // 4: what a rollback needs and what it leaves. Each applied update (and rollback) records
    // the image the container ran before it, by reference, ID and digest: the rollback's
    // targets. `holds`: the containers whose updates are held back, with who, when and why.
    "
    ALTER TABLE audit ADD COLUMN from_image TEXT;
    ALTER TABLE audit ADD COLUMN from_image_id TEXT;
    ALTER TABLE audit ADD COLUMN from_digest TEXT;
    ALTER TABLE audit ADD COLUMN to_image_id TEXT;
    CREATE TABLE holds (
        watcher TEXT NOT NULL,
        name    TEXT NOT NULL,
        tag     TEXT,
        digest  TEXT,
        by      TEXT NOT NULL,
        at      TEXT NOT NULL,
        reason  TEXT NOT NULL,
        PRIMARY KEY (watcher, name)
    );
    ",
];
