//! [`MetaStore`] over PostgreSQL, so several Coffer nodes share one metadata store.
//!
//! Everything lives in one table of ordered byte keys:
//!
//! ```sql
//! CREATE TABLE coffer_kv (
//!     tree text COLLATE "C" NOT NULL,
//!     k    bytea NOT NULL,
//!     v    bytea NOT NULL,
//!     PRIMARY KEY (tree, k)
//! );
//! ```
//!
//! `bytea` sorts as unsigned bytes (memcmp, then length), which is the order the seam
//! promises, so a range scan is one index range scan. The schema is created by Coffer on first
//! use and versioned in `coffer_schema`: a database written by a newer Coffer is refused, not
//! guessed at. Creation runs under a transaction-scoped advisory lock, so nodes starting
//! together do not race.
//!
//! Commits:
//! - a single write without checks is one statement (an upsert or a delete);
//! - a compare-and-swap of one key is one conditional statement (`UPDATE … WHERE v = $old`,
//!   `INSERT … ON CONFLICT DO NOTHING`, `DELETE … WHERE v = $old`): PostgreSQL re-evaluates
//!   the condition on the newest row version, so it is atomic under read committed;
//! - anything else is a `SERIALIZABLE` transaction that reads the checked keys, locking their
//!   rows (`FOR UPDATE` when the commit writes the row, else `FOR SHARE`: a checked row cannot
//!   change until the commit ends, not even by a single-statement write), then writes.
//!   PostgreSQL's serializable snapshot isolation aborts one of two commits that could not
//!   have run one after the other (including two that both saw a key absent), and the commit
//!   is run again from the start, a bounded number of times. The locks are taken `NOWAIT`:
//!   a commit never waits while holding locks, so commits do not deadlock (PostgreSQL finds a
//!   deadlock only after `deadlock_timeout`, a second); a row another commit holds aborts the
//!   attempt, which is run again after a short random backoff.
//!
//! A commit is durable when it returns (PostgreSQL's `synchronous_commit`, on by default), so
//! [`MetaStore::sync`] has nothing to do. Reads run under read committed: they see every
//! commit that returned before they started.
//!
//! Connections come from a small pool (idle connections are reused; one that failed or timed
//! out mid-call is dropped, not reused); each caches its prepared statements. Every call has a
//! deadline ([`super::super::remote::Remote`]): a database that is down or stops answering
//! gives [`StorageError::Unavailable`] (S3's 503), and the next call connects afresh, so a
//! restarted database is used again without a restart of Coffer.
//!
//! The connection is plain TCP (no TLS): point it at a database on loopback or a private
//! network, or through a TLS-terminating proxy.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

use super::super::remote::Remote;
use super::{Commit, MetaStore, Scan};
use crate::storage::{Result, StorageError};

/// The schema version this build writes and understands.
const SCHEMA_VERSION: i32 = 1;
/// Serializable commits run again at most this many times on a serialization failure.
const COMMIT_ATTEMPTS: u32 = 64;
/// The advisory lock key schema creation holds ("coffer" in ASCII).
const SCHEMA_LOCK: i64 = 0x636f_6666_6572;

const GET: &str = "SELECT v FROM coffer_kv WHERE tree = $1 AND k = $2";
/// A check's read: the row stays as read until the commit ends, also against writers that
/// are not serializable transactions (the single-statement writes and swaps).
const GET_FOR_SHARE: &str = "SELECT v FROM coffer_kv WHERE tree = $1 AND k = $2 FOR SHARE NOWAIT";
const GET_FOR_UPDATE: &str = "SELECT v FROM coffer_kv WHERE tree = $1 AND k = $2 FOR UPDATE NOWAIT";
const PUT: &str = "INSERT INTO coffer_kv (tree, k, v) VALUES ($1, $2, $3) \
                   ON CONFLICT (tree, k) DO UPDATE SET v = EXCLUDED.v";
const DELETE: &str = "DELETE FROM coffer_kv WHERE tree = $1 AND k = $2";
const INSERT_IF_ABSENT: &str =
    "INSERT INTO coffer_kv (tree, k, v) VALUES ($1, $2, $3) ON CONFLICT (tree, k) DO NOTHING";
const SWAP: &str = "UPDATE coffer_kv SET v = $3 WHERE tree = $1 AND k = $2 AND v = $4";
const DELETE_IF: &str = "DELETE FROM coffer_kv WHERE tree = $1 AND k = $2 AND v = $3";
const CLEAR: &str = "DELETE FROM coffer_kv WHERE tree = $1";

/// Settings of a PostgreSQL metadata store.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/database` (or the key=value form).
    pub url: String,
    /// Connections the pool holds at most.
    pub pool_size: usize,
    /// How long one call (connecting included) may take.
    pub deadline: Duration,
}

impl std::fmt::Debug for PgOptions {
    /// Never prints the URL: it carries the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("pool_size", &self.pool_size)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// Runs `$body` on this store's runtime with `$c` a pooled connection, which goes back to the
/// pool only when the body succeeded (see [`Pool::give_back`]).
macro_rules! pooled {
    ($meta:expr, |$c:ident| $body:expr) => {{
        let meta = &$meta;
        meta.remote.block(async {
            let mut lent = meta.pool.lend().await?;
            let $c = &mut lent.conn;
            let r = $body;
            meta.pool.give_back(lent, r.is_ok());
            r
        })
    }};
}

/// The metadata store in one PostgreSQL table; see the module docs.
pub struct PgMeta {
    remote: Remote,
    pool: Pool,
}

impl PgMeta {
    /// Connects, creates or checks the schema, and keeps the connection for the pool. Fails
    /// with a clear error when the URL is malformed, the database cannot be reached or refuses
    /// the credentials, or its schema is newer than this build.
    pub fn connect(opts: &PgOptions) -> Result<PgMeta> {
        let mut config: tokio_postgres::Config = opts.url.parse().map_err(|e| {
            StorageError::Io(format!(
                "the PostgreSQL URL is not valid: {}",
                error_text(&e)
            ))
        })?;
        config
            .connect_timeout(opts.deadline)
            .application_name("coffer");
        let remote = Remote::new("postgres", 2, opts.deadline)?;
        let pool = Pool {
            config,
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(opts.pool_size.max(1)),
            handle: remote.handle().clone(),
        };
        let meta = PgMeta { remote, pool };
        pooled!(meta, |c| ensure_schema(c).await)?;
        Ok(meta)
    }
}

/// One connection and its prepared statements.
struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Conn {
    async fn prepared(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).await.map_err(pg_error)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    async fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let s = self.prepared(sql).await?;
        self.client.execute(&s, params).await.map_err(pg_error)
    }
}

struct Pool {
    config: tokio_postgres::Config,
    idle: Mutex<Vec<Conn>>,
    slots: Semaphore,
    handle: tokio::runtime::Handle,
}

/// A connection lent by the pool, with the pool slot it occupies.
struct Lent<'p> {
    conn: Conn,
    _slot: tokio::sync::SemaphorePermit<'p>,
}

impl Pool {
    async fn lend(&self) -> Result<Lent<'_>> {
        let slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| StorageError::Unavailable("the PostgreSQL pool is closed".into()))?;
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(c) if !c.client.is_closed() => c,
            _ => self.connect().await?,
        };
        Ok(Lent { conn, _slot: slot })
    }

    /// Keeps the connection for the next call only when its call succeeded: a failed one may
    /// be mid-transaction or broken. (A call cut off by its deadline never gets here, so its
    /// connection is dropped too.)
    fn give_back(&self, lent: Lent<'_>, succeeded: bool) {
        if succeeded && !lent.conn.client.is_closed() {
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(lent.conn);
        }
    }

    async fn connect(&self) -> Result<Conn> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(|e| {
            StorageError::Unavailable(format!("connecting to PostgreSQL: {}", error_text(&e)))
        })?;
        self.handle.spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %error_text(&e), "PostgreSQL connection ended");
            }
        });
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }
}

async fn ensure_schema(c: &mut Conn) -> Result<()> {
    let tx = c.client.transaction().await.map_err(pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await
        .map_err(pg_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS coffer_schema (\
             singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), \
             version integer NOT NULL)",
    )
    .await
    .map_err(pg_error)?;
    let found: Option<i32> = tx
        .query_opt("SELECT version FROM coffer_schema", &[])
        .await
        .map_err(pg_error)?
        .map(|r| r.get(0));
    match found {
        None => {
            tx.batch_execute(
                "CREATE TABLE coffer_kv (\
                     tree text COLLATE \"C\" NOT NULL, \
                     k bytea NOT NULL, \
                     v bytea NOT NULL, \
                     PRIMARY KEY (tree, k))",
            )
            .await
            .map_err(pg_error)?;
            tx.execute(
                "INSERT INTO coffer_schema (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )
            .await
            .map_err(pg_error)?;
        }
        Some(v) if v == SCHEMA_VERSION => {}
        Some(v) => {
            return Err(StorageError::Io(format!(
                "the PostgreSQL database holds Coffer schema version {v}; this build knows \
                 version {SCHEMA_VERSION} only (upgrade Coffer)"
            )));
        }
    }
    tx.commit().await.map_err(pg_error)
}

impl MetaStore for PgMeta {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        pooled!(self, |c| get(c, tree, key).await)
    }

    fn scan(&self, tree: &str, scan: &Scan) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        pooled!(self, |c| {
            let (sql, start, end) = scan_sql(scan);
            let limit = i64::try_from(scan.limit).unwrap_or(i64::MAX);
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tree];
            params.extend(start.iter().map(|k| k as &(dyn ToSql + Sync)));
            params.extend(end.iter().map(|k| k as &(dyn ToSql + Sync)));
            params.push(&limit);
            match c.prepared(&sql).await {
                Err(e) => Err(e),
                Ok(st) => c
                    .client
                    .query(&st, &params)
                    .await
                    .map_err(pg_error)
                    .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect()),
            }
        })
    }

    fn commit(&self, commit: &Commit) -> Result<bool> {
        pooled!(self, |c| run_commit(c, commit).await)
    }

    /// Nothing to do: a commit is durable when it returns (see the module docs).
    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn clear_tree(&self, tree: &str) -> Result<()> {
        pooled!(self, |c| c.execute(CLEAR, &[&tree]).await.map(drop))
    }
}

async fn get(c: &mut Conn, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
    let st = c.prepared(GET).await?;
    let row = c
        .client
        .query_opt(&st, &[&tree, &key])
        .await
        .map_err(pg_error)?;
    Ok(row.map(|r| r.get(0)))
}

/// The statement for `scan`'s bounds and direction, with the bound keys it takes after the
/// tree (as `$2` and `$3`, in that order) and the limit last.
fn scan_sql(scan: &Scan) -> (String, Option<&[u8]>, Option<&[u8]>) {
    let mut sql = String::from("SELECT k, v FROM coffer_kv WHERE tree = $1");
    let mut n = 1;
    let start = bound_sql(&scan.start, [">=", ">"], &mut n, &mut sql);
    let end = bound_sql(&scan.end, ["<=", "<"], &mut n, &mut sql);
    let order = if scan.reverse { "DESC" } else { "ASC" };
    sql.push_str(&format!(" ORDER BY k {order} LIMIT ${}", n + 1));
    (sql, start, end)
}

/// Appends the condition for one bound (as parameter `$n+1`) and answers its key.
fn bound_sql<'s>(
    b: &'s Bound<Vec<u8>>,
    [included, excluded]: [&str; 2],
    n: &mut usize,
    sql: &mut String,
) -> Option<&'s [u8]> {
    let (op, key) = match b {
        Bound::Included(k) => (included, k),
        Bound::Excluded(k) => (excluded, k),
        Bound::Unbounded => return None,
    };
    *n += 1;
    sql.push_str(&format!(" AND k {op} ${n}"));
    Some(key.as_slice())
}

async fn run_commit(c: &mut Conn, commit: &Commit) -> Result<bool> {
    match (commit.checks.as_slice(), commit.writes.as_slice()) {
        ([], [w]) => {
            match &w.value {
                Some(v) => c.execute(PUT, &[&w.tree, &w.key, v]).await?,
                None => c.execute(DELETE, &[&w.tree, &w.key]).await?,
            };
            Ok(true)
        }
        ([ch], [w]) if ch.tree == w.tree && ch.key == w.key => {
            let (t, k) = (&w.tree, &w.key);
            let changed = match (&ch.expect, &w.value) {
                (None, Some(v)) => c.execute(INSERT_IF_ABSENT, &[t, k, v]).await?,
                (Some(old), Some(v)) => c.execute(SWAP, &[t, k, v, old]).await?,
                (Some(old), None) => c.execute(DELETE_IF, &[t, k, old]).await?,
                (None, None) => return Ok(get(c, t, k).await?.is_none()),
            };
            Ok(changed == 1)
        }
        _ => serializable_commit(c, commit).await,
    }
}

/// A commit with checks on several keys, as one serializable transaction, run again while
/// PostgreSQL aborts it as a serialization failure (another commit it could not be ordered
/// with landed first; the next attempt sees that commit) or finds a checked row locked.
async fn serializable_commit(c: &mut Conn, commit: &Commit) -> Result<bool> {
    let statements = [
        c.prepared(GET_FOR_SHARE).await?,
        c.prepared(GET_FOR_UPDATE).await?,
        c.prepared(PUT).await?,
        c.prepared(DELETE).await?,
    ];
    let mut attempt = 0;
    loop {
        match commit_once(&c.client, &statements, commit).await {
            Err(e) if retryable(&e) && attempt + 1 < COMMIT_ATTEMPTS => {
                attempt += 1;
                // Back off a little more each time, spread so two retriers part ways.
                let spread = u64::from(rand::random::<u8>() % 8);
                let ms = (1u64 << attempt.min(6)) + spread;
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            Err(e) if retryable(&e) => {
                return Err(StorageError::Unavailable(format!(
                    "a metadata commit conflicted {COMMIT_ATTEMPTS} times in a row"
                )));
            }
            r => return r.map_err(pg_error),
        }
    }
}

/// One attempt, in two round trips: `BEGIN` and every check's locking read are sent
/// together, then (if the checks hold) every write and `COMMIT` together. PostgreSQL runs a
/// connection's statements in order, so pipelining changes no outcome; an error in the first
/// batch leaves the transaction aborted, and it is rolled back before the connection is used
/// again.
async fn commit_once(
    client: &Client,
    [share, update, put, delete]: &[Statement; 4],
    commit: &Commit,
) -> std::result::Result<bool, tokio_postgres::Error> {
    use futures_util::future::join_all;
    let begin = if commit.checks.is_empty() {
        "BEGIN"
    } else {
        "BEGIN ISOLATION LEVEL SERIALIZABLE"
    };
    let reads = commit.checks.iter().map(|ch| {
        // A row the commit writes is locked for update at once: two commits that locked it
        // for share and then both upgraded would conflict every time.
        let written = commit
            .writes
            .iter()
            .any(|w| w.tree == ch.tree && w.key == ch.key);
        let lock = if written { update } else { share };
        async move { client.query_opt(lock, &[&ch.tree, &ch.key]).await }
    });
    let (began, read) = tokio::join!(client.batch_execute(begin), join_all(reads));
    let checked = began.and_then(|()| read.into_iter().collect::<std::result::Result<Vec<_>, _>>());
    let rows = match checked {
        Ok(rows) => rows,
        Err(e) => {
            // The first error is the cause; later statements only saw an aborted transaction.
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(e);
        }
    };
    for (ch, row) in commit.checks.iter().zip(rows) {
        let now: Option<Vec<u8>> = row.map(|r| r.get(0));
        if now != ch.expect {
            client.batch_execute("ROLLBACK").await?;
            return Ok(false);
        }
    }
    let writes = commit.writes.iter().map(|w| async move {
        match &w.value {
            Some(v) => client.execute(put, &[&w.tree, &w.key, v]).await,
            None => client.execute(delete, &[&w.tree, &w.key]).await,
        }
    });
    let (written, committed) = tokio::join!(join_all(writes), client.batch_execute("COMMIT"));
    // After a failed write, PostgreSQL answers COMMIT with a rollback, not an error: the
    // writes' results decide.
    for w in written {
        w?;
    }
    committed?;
    Ok(true)
}

fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::LOCK_NOT_AVAILABLE
    )
}

/// A PostgreSQL error as a storage error: a lost or refused connection is `Unavailable`
/// (retry later), anything the database answered is `Io`.
fn pg_error(e: tokio_postgres::Error) -> StorageError {
    let text = error_text(&e);
    if e.is_closed() || e.code().is_none() {
        StorageError::Unavailable(format!("PostgreSQL: {text}"))
    } else {
        StorageError::Io(format!("PostgreSQL: {text}"))
    }
}

/// The error with its causes (tokio_postgres's `Display` alone says only "db error").
fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::meta::{Meta, tests::conformance};
    use crate::test_services::postgres;

    fn options(url: String) -> PgOptions {
        PgOptions {
            url,
            pool_size: 8,
            deadline: Duration::from_secs(10),
        }
    }

    #[test]
    fn postgres_backend_conforms() {
        let Some(pg) = postgres() else { return };
        let meta = Meta::new(PgMeta::connect(&options(pg.fresh_database())).unwrap());
        conformance(&meta);
    }

    #[test]
    fn a_second_connect_finds_the_schema_and_the_data() {
        let Some(pg) = postgres() else { return };
        let url = pg.fresh_database();
        let a = Meta::new(PgMeta::connect(&options(url.clone())).unwrap());
        a.put("t", b"k", b"v").unwrap();
        let b = Meta::new(PgMeta::connect(&options(url)).unwrap());
        assert_eq!(b.get("t", b"k").unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let Some(pg) = postgres() else { return };
        let url = pg.fresh_database();
        drop(PgMeta::connect(&options(url.clone())).unwrap());
        pg.psql_on(
            &url,
            &format!("UPDATE coffer_schema SET version = {}", SCHEMA_VERSION + 1),
        );
        let e = PgMeta::connect(&options(url)).err().expect("refused");
        assert!(e.to_string().contains("schema version"), "{e}");
    }

    #[test]
    fn bad_urls_and_credentials_are_clear_errors_without_the_password() {
        let Some(pg) = postgres() else { return };
        let e = PgMeta::connect(&options("postgres://coffer@127.0.0.1:notaport/x".into()))
            .err()
            .expect("bad url");
        assert!(e.to_string().contains("URL is not valid"), "{e}");
        let wrong = format!(
            "postgres://coffer:wrong-secret@127.0.0.1:{}/postgres",
            pg.port
        );
        let e = PgMeta::connect(&options(wrong))
            .err()
            .expect("wrong password");
        let text = e.to_string();
        assert!(text.contains("password authentication failed"), "{text}");
        assert!(!text.contains("wrong-secret"), "{text}");
        let nobody = format!(
            "postgres://coffer:x@127.0.0.1:{}/postgres",
            crate::test_services::free_port()
        );
        let e = PgMeta::connect(&options(nobody))
            .err()
            .expect("nothing listening");
        assert!(matches!(e, StorageError::Unavailable(_)), "{e}");
    }
}
