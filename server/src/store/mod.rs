//! All SQL of the server. One writer thread owns the write connection and commits queued writes
//! together (group commit: one fsync for many callers); reads run on a few reader threads, each
//! with its own read-only connection. Every SQLite call runs on these threads (or, at start-up,
//! on Tokio's blocking pool), never on an async worker.

pub mod accounts;
mod cache;
pub use cache::Cache;
pub mod domains;
pub mod messages;
mod migrations;
pub mod open;
pub mod pro;
pub mod settings;
mod space;
pub mod webhooks;

use std::fs::{File, TryLockError};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode as SqliteCode, OpenFlags};
use tokio::sync::oneshot;
use uuid::Uuid;

use self::accounts::Account;
use self::cache::Generation;
pub use self::cache::mark_changed;
use self::pro::{ProUser, StoredToken};
use self::space::Space;

/// How many queued writes one transaction takes at most.
const MAX_GROUP: usize = 512;
/// How long a reader looks for the next read before it sleeps.
const READER_LINGER: Duration = Duration::from_micros(50);
/// Reads queued for one reader before the next reader is woken.
const READER_SPILL: usize = 8;
/// Reader threads, each with its own read-only connection: one per core, 2 to 4.
fn reader_count() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4)
}
/// How long a statement waits for a lock held by another process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Stored messages waiting for the search index that make the next group index them; fewer
/// wait for the writer to be idle a moment (`BACKGROUND_IDLE`) or for a search.
const INDEX_BATCH: usize = 256;
/// How long after a failed move into the search index the writer tries again.
const INDEX_RETRY: Duration = Duration::from_secs(1);
/// How long the writer must have had nothing else to do before background writes run alone.
const BACKGROUND_IDLE: Duration = Duration::from_millis(2);
/// A group of this many writes or more means writers are queueing up: mail is arriving as
/// fast as it can be stored (two at once happen at any rate).
const CROWDED_GROUP: usize = 4;
/// Longest a background write waits for an idle writer; then it joins the next group.
const BACKGROUND_MAX_WAIT: Duration = Duration::from_secs(1);
/// How long the checkpointer lets commits gather before moving their pages into the database.
#[cfg(not(test))]
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// Tests see the WAL start over many times within a few megabytes.
#[cfg(test)]
const CHECKPOINT_EVERY: Duration = Duration::from_millis(20);
/// A WAL larger than this is made to start over from its beginning (`restart_wal`), so it does
/// not grow without bound.
#[cfg(not(test))]
const WAL_RESTART_BYTES: i64 = 32 << 20;
#[cfg(test)]
const WAL_RESTART_BYTES: i64 = 1 << 20;
/// What SQLite truncates the WAL file back to when it starts over (`journal_size_limit`).
const WAL_SIZE_LIMIT: i64 = 64 << 20;
/// Longest the writer waits for readers to let go of the WAL when it makes the WAL start over.
const RESTART_WAIT: Duration = Duration::from_millis(100);
/// How long the writer ignores requests to start the WAL over after readers kept it from doing
/// so: at most `RESTART_WAIT` of every `RESTART_BACKOFF` goes to waiting for them.
const RESTART_BACKOFF: Duration = Duration::from_secs(1);

/// What the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a row with that key already exists")]
    Conflict,
    #[error(
        "the database file {path} was written by a newer mailcx (schema {found}, this build knows up to {known})"
    )]
    NewerSchema { path: PathBuf, found: i64, known: i64 },
    #[error("the database file {0} is locked by another process")]
    Locked(PathBuf),
    #[error("the database file {0} is in use by another mailcx server")]
    InUse(PathBuf),
    #[error("cannot open the database file {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("the store is closed")]
    Closed,
    #[error("the write transaction did not commit: {0}")]
    CommitFailed(String),
    #[error("the disk is full")]
    DiskFull,
    #[error("a store task panicked")]
    Panicked,
}

impl StoreError {
    /// Maps a unique-key violation to `Conflict`; anything else (other constraints too) stays.
    pub fn from_insert(error: rusqlite::Error) -> StoreError {
        let unique = matches!(
            &error,
            rusqlite::Error::SqliteFailure(e, _)
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        );
        if unique {
            StoreError::Conflict
        } else {
            StoreError::Sqlite(error)
        }
    }
}

impl StoreError {
    /// Whether the write failed for want of disk room (or of room under the database's limit).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::DiskFull => true,
            StoreError::Sqlite(e) => e.sqlite_error_code() == Some(SqliteCode::DiskFull),
            _ => false,
        }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A queued write: runs inside the group's transaction, then learns whether the group committed.
trait WriteJob: Send {
    /// Runs the job; true when it failed for want of disk room.
    fn run(&mut self, conn: &Connection) -> bool;
    fn finish(self: Box<Self>, committed: Result<(), GroupFailure>);
    /// Whether the job only stores mail (see `Store::write_mail`).
    fn mail_only(&self) -> bool;
}

/// Why a group did not commit.
#[derive(Clone)]
struct GroupFailure {
    reason: String,
    disk_full: bool,
}

struct Job<F, R> {
    f: Option<F>,
    result: Option<StoreResult<R>>,
    reply: oneshot::Sender<StoreResult<R>>,
    mail_only: bool,
}

impl<F, R> WriteJob for Job<F, R>
where
    F: FnOnce(&Connection) -> StoreResult<R> + Send,
    R: Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let f = self.f.take().expect("a job runs once");
        // A savepoint per job: one failing job rolls back alone, the group still commits.
        let result = match conn.execute_batch("SAVEPOINT job") {
            Err(e) => Err(StoreError::Sqlite(e)),
            Ok(()) => {
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(conn)))
                    .unwrap_or(Err(StoreError::Panicked));
                // Some errors (disk full, I/O) make SQLite roll back the whole transaction;
                // then there is no savepoint left to end, and the group fails as a whole.
                if conn.is_autocommit() {
                    result
                } else {
                    let end = if result.is_ok() {
                        "RELEASE job"
                    } else {
                        "ROLLBACK TO job; RELEASE job"
                    };
                    conn.execute_batch(end).map_err(StoreError::Sqlite).and(result)
                }
            }
        };
        let disk_full = result.as_ref().is_err_and(StoreError::is_disk_full);
        self.result = Some(result);
        disk_full
    }

    fn finish(self: Box<Self>, committed: Result<(), GroupFailure>) {
        let result = match committed {
            Ok(()) => self.result.unwrap_or(Err(StoreError::Closed)),
            Err(failure) if failure.disk_full => Err(StoreError::DiskFull),
            Err(failure) => Err(StoreError::CommitFailed(failure.reason)),
        };
        let _ = self.reply.send(result);
    }

    fn mail_only(&self) -> bool {
        self.mail_only
    }
}

enum Command {
    Write(Box<dyn WriteJob>),
    /// A write that waits for the writer to be idle (see `Store::write_in_background`).
    Background(Box<dyn WriteJob>),
    Close,
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    writer: mpsc::Sender<Command>,
    readers: Arc<[Reader]>,
    threads: Arc<Mutex<Threads>>,
    /// Bumped after every write transaction, before its writers are answered.
    /// Moves on with every write, here or from another process: what the caches check.
    generation: Arc<Generation>,
    /// When the writer last committed a crowded group (see `Store::crowded`).
    crowded: Arc<Crowded>,
    /// Stored messages whose rows wait for the search index (`messages::index_deferred`).
    unindexed: Arc<AtomicUsize>,
    /// Accounts as last read: lets the token check on every request skip the database.
    accounts: Arc<Cache<Uuid, Option<Account>>>,
    /// Pro credentials as last read, by token hash.
    pro_tokens: Arc<Cache<[u8; 32], Option<StoredToken>>>,
    /// Pro users as last read.
    pro_users: Arc<Cache<Uuid, Option<ProUser>>>,
    /// The mailbox of each RCPT address as last read, at the directory's generation.
    recipients: Arc<Cache<String, Option<Account>>>,
    /// Verified custom domains (id, owner) as last read, at the directory's generation.
    verified_domains: Arc<Cache<String, Option<(Uuid, Uuid)>>>,
    space: Arc<Space>,
}

/// One reader thread's queue and how many reads wait in it.
struct Reader {
    queue: mpsc::Sender<ReadCommand>,
    pending: AtomicUsize,
}

/// A queued read: runs on a reader thread's connection and sends its own answer.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

enum ReadCommand {
    Read(ReadJob),
    Stop,
}

/// The store's own threads, joined on close, and its hold on the database file.
struct Threads {
    writer: Option<JoinHandle<()>>,
    checkpointer: Option<JoinHandle<()>>,
    readers: Vec<JoinHandle<()>>,
    /// The lock file that keeps a second server off this database while this one runs.
    lock: Option<File>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// Blocking: call it from a blocking context.
    pub fn open(path: &Path) -> StoreResult<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        }
        let lock = lock_database(path)?;
        let space = Arc::new(Space::open(path));
        let mut conn = open_connection(path, false)?;
        migrations::run(&mut conn, path)?;
        // Checkpoints run on their own thread so a commit never waits for one.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        messages::defer_indexing(&conn)?;
        if messages::index_was_waiting(&conn)? {
            // Index rows wait in memory: mail stored before the process died may lack them.
            let missed = messages::index_missed(&conn, |raw| crate::mail::summarize(raw).search_text)?;
            if missed > 0 {
                tracing::warn!("indexed {missed} messages for search that the last stop left out");
            }
        }
        let checkpoint_conn = open_connection(path, false)?;
        let spawn_error = |e: std::io::Error| StoreError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let (writer, commands) = mpsc::channel();
        let (sender, committed) = mpsc::channel();
        let asked = Arc::new(AtomicBool::new(false));
        let restart = Arc::new(AtomicBool::new(false));
        let commits = CommitNotice {
            sender,
            asked: asked.clone(),
            restart: restart.clone(),
        };
        let generation = Arc::new(Generation::new(path));
        let bumps = generation.clone();
        let crowded = Arc::new(Crowded::default());
        let writer_crowded = crowded.clone();
        let writer_space = space.clone();
        let unindexed = Arc::new(AtomicUsize::new(0));
        let writer_unindexed = unindexed.clone();
        let writer_thread = std::thread::Builder::new()
            .name("mailcx-store-writer".into())
            .spawn(move || {
                writer_loop(
                    conn,
                    commands,
                    commits,
                    bumps,
                    writer_space,
                    &writer_crowded,
                    &writer_unindexed,
                )
            })
            .map_err(spawn_error)?;
        let checkpoint_space = space.clone();
        let checkpointer = std::thread::Builder::new()
            .name("mailcx-store-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoint_conn, committed, &asked, &restart, &checkpoint_space))
            .map_err(spawn_error)?;
        let mut readers = Vec::new();
        let mut reader_threads = Vec::new();
        for n in 0..reader_count() {
            let conn = open_connection(path, true)?;
            let (queue, reads) = mpsc::channel();
            let thread = std::thread::Builder::new()
                .name(format!("mailcx-store-reader-{n}"))
                .spawn(move || reader_loop(conn, reads))
                .map_err(spawn_error)?;
            readers.push(Reader {
                queue,
                pending: AtomicUsize::new(0),
            });
            reader_threads.push(thread);
        }
        let readers: Arc<[Reader]> = readers.into();
        Ok(Store {
            writer,
            readers,
            threads: Arc::new(Mutex::new(Threads {
                writer: Some(writer_thread),
                checkpointer: Some(checkpointer),
                readers: reader_threads,
                lock: Some(lock),
            })),
            generation,
            crowded,
            unindexed,
            accounts: Arc::default(),
            pro_tokens: Arc::default(),
            pro_users: Arc::default(),
            recipients: Arc::default(),
            verified_domains: Arc::default(),
            space,
        })
    }

    /// Whether `bytes` of new mail may be stored. Always, unless a write found the disk full;
    /// then only what fits in the database's free pages or in the disk's room beyond the
    /// reserve (twice over: the WAL holds a copy until it is checkpointed).
    pub async fn room_for(&self, bytes: u64) -> StoreResult<bool> {
        if !self.space.is_short() {
            return Ok(true);
        }
        let space = self.space.clone();
        self.read(move |conn| {
            let disk = space.free_beyond_reserve().unwrap_or(0);
            if !space.is_short() {
                return Ok(true);
            }
            let free_pages: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let free = disk.saturating_add((free_pages * page_size) as u64);
            Ok(free >= bytes.saturating_mul(2))
        })
        .await
    }

    /// Runs `f` on one of the reader threads' connections.
    pub async fn read<R, F>(&self, f: F) -> StoreResult<R>
    where
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        // The first reader with room in its queue, else the least busy: a steady load keeps one
        // thread busy (no wake-ups between reads), and a slow read spills the rest to others.
        let (index, reader) = self
            .readers
            .iter()
            .enumerate()
            .find(|(_, r)| r.pending.load(Ordering::Relaxed) < READER_SPILL)
            .or_else(|| {
                self.readers
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, r)| r.pending.load(Ordering::Relaxed))
            })
            .expect("a store has readers");
        reader.pending.fetch_add(1, Ordering::Relaxed);
        let readers = self.readers.clone();
        let (reply, result) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let answer = f(conn);
            readers[index].pending.fetch_sub(1, Ordering::Relaxed);
            let _ = reply.send(answer);
        });
        reader
            .queue
            .send(ReadCommand::Read(job))
            .map_err(|_| StoreError::Closed)?;
        // No answer means the job panicked (logged by its thread) or the store closed first.
        result.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` in a write transaction; resolves once that transaction is durably committed.
    pub async fn write<R, F>(&self, f: F) -> StoreResult<R>
    where
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        self.queue_write(f, Command::Write, false).await
    }

    /// Like `write`, for a write that only stores mail (messages, their mailboxes' room used,
    /// their webhook events): it leaves which addresses and domains exist, and whose they are,
    /// as they were, so what SMTP remembers of recipients stays good (`Store::recipient`).
    pub async fn write_mail<R, F>(&self, f: F) -> StoreResult<R>
    where
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        self.queue_write(f, Command::Write, true).await
    }

    /// Moves mail still waiting for the search index into it, so that a search that follows
    /// sees every message acknowledged before it.
    pub async fn index_waiting_mail(&self) -> StoreResult<()> {
        if self.unindexed.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        self.write_mail(|conn| Ok(messages::index_deferred(conn)?)).await
    }

    /// Whether writes have been crowding in (groups of `CROWDED_GROUP` or more) within `window`:
    /// mail is arriving as fast as it can be stored, and work that can wait should.
    pub fn crowded(&self, window: Duration) -> bool {
        self.crowded.within(window)
    }

    /// Like `write`, for work that may wait while mail is being stored (a log, an outbox's
    /// bookkeeping): it runs when the writer has been idle a moment, or joins the next group
    /// after at most `BACKGROUND_MAX_WAIT`, so a burst of mail is never slowed by it.
    pub async fn write_in_background<R, F>(&self, f: F) -> StoreResult<R>
    where
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        self.queue_write(f, Command::Background, false).await
    }

    /// Queues `f` for the writer as `command` says; resolves with its result once committed.
    async fn queue_write<R, F>(
        &self,
        f: F,
        command: fn(Box<dyn WriteJob>) -> Command,
        mail_only: bool,
    ) -> StoreResult<R>
    where
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        let job = Job {
            f: Some(f),
            result: None,
            reply,
            mail_only,
        };
        self.writer
            .send(command(Box::new(job)))
            .map_err(|_| StoreError::Closed)?;
        result.await.map_err(|_| StoreError::Closed)?
    }

    /// Commits what is queued, stops the writer and closes the database. Blocking.
    pub fn close(&self) {
        let _ = self.writer.send(Command::Close);
        let mut threads = self.threads.lock().expect("store threads lock");
        // The writer commits what is queued first; its exit then lets the checkpointer empty the WAL.
        if let Some(writer) = threads.writer.take() {
            let _ = writer.join();
        }
        if let Some(checkpointer) = threads.checkpointer.take() {
            let _ = checkpointer.join();
        }
        for reader in self.readers.iter() {
            let _ = reader.queue.send(ReadCommand::Stop);
        }
        for reader in threads.readers.drain(..) {
            let _ = reader.join();
        }
        threads.lock.take();
    }

    /// The account with this id: from memory when nothing was written since it was read.
    pub async fn account(&self, id: Uuid) -> StoreResult<Option<Account>> {
        let generation = self.generation.current();
        self.remembered(&self.accounts, generation, id, |conn, id| {
            accounts::by_id(conn, *id)
        })
        .await
    }

    /// The live Pro token with this hash and its stored hash, from memory when nothing was
    /// written since it was read (a revocation is a write: it shows on the next request).
    pub async fn pro_token(&self, hash: [u8; 32]) -> StoreResult<Option<StoredToken>> {
        let generation = self.generation.current();
        self.remembered(&self.pro_tokens, generation, hash, |conn, hash| {
            pro::token_by_hash(conn, hash)
        })
        .await
    }

    /// The generation of what is written now: a value remembered at it (`Cache`) is exact while
    /// this stays the same. Read it before the query whose result is remembered.
    pub fn generation(&self) -> u64 {
        self.generation.current()
    }

    /// The mailbox mail for `address` goes to (`accounts::for_recipient`), from memory while
    /// no mailbox or domain changed since it was read: RCPT asks it for every message. Mail
    /// stored since may make its room used lag behind; that changes no RCPT answer while the
    /// mailbox has room for the largest message, and a delivery that leaves less than that
    /// makes every answer stale (`recipients_changed`). The delivery checks room again when it
    /// stores.
    pub async fn recipient(&self, address: &str) -> StoreResult<Option<Account>> {
        let generation = self.generation.directory();
        self.remembered(
            &self.recipients,
            generation,
            address.to_string(),
            |conn, address| accounts::for_recipient(conn, address),
        )
        .await
    }

    /// Makes what `recipient` remembers stale: mail just stored left a mailbox short of room.
    /// A generation, not a removal, so that a lookup read before the commit and remembered
    /// after this is stale too.
    pub fn recipients_changed(&self) {
        self.generation.bump_directory();
    }

    /// The verified custom domain `domain` as (id, owner) (`domains::verified_owner`), from
    /// memory while no mailbox or domain changed since it was read.
    pub async fn verified_domain(&self, domain: &str) -> StoreResult<Option<(Uuid, Uuid)>> {
        let generation = self.generation.directory();
        self.remembered(
            &self.verified_domains,
            generation,
            domain.to_string(),
            |conn, domain| domains::verified_owner(conn, domain),
        )
        .await
    }

    /// The Pro user with this id, from memory when nothing was written since it was read.
    pub async fn pro_user(&self, id: Uuid) -> StoreResult<Option<ProUser>> {
        let generation = self.generation.current();
        self.remembered(&self.pro_users, generation, id, |conn, id| pro::user(conn, *id))
            .await
    }

    /// `key`'s value in `cache` if it was read at `generation` (taken before the query: a
    /// write that lands meanwhile makes the entry stale at once), else read by `query` for
    /// `key` and remembered.
    async fn remembered<K, V, F>(
        &self,
        cache: &Cache<K, V>,
        generation: u64,
        key: K,
        query: F,
    ) -> StoreResult<V>
    where
        K: Eq + std::hash::Hash + Clone + Send + 'static,
        V: Clone + Send + 'static,
        F: FnOnce(&Connection, &K) -> StoreResult<V> + Send + 'static,
    {
        if let Some(found) = cache.get(&key, generation) {
            return Ok(found);
        }
        let lookup = key.clone();
        let found = self.read(move |conn| query(conn, &lookup)).await?;
        cache.put(key, generation, found.clone());
        Ok(found)
    }
}

/// Opens the database for the operator's commands, beside a server that may be running on it
/// (no lock file; SQLite's own locking and the busy timeout keep the two apart), bringing its
/// schema up to date. Blocking.
pub fn open_for_admin(path: &Path) -> StoreResult<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    let mut conn = open_connection(path, false)?;
    migrations::run(&mut conn, path)?;
    Ok(conn)
}

/// Takes `<db>.lock`, so a second server cannot open the same database while this one runs (its
/// caches would not see the other's writes). The operator's commands do not take it: they mark
/// their changes with `mark_changed`.
fn lock_database(path: &Path) -> StoreResult<File> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let open_error = |e: std::io::Error| StoreError::Open {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)
        .map_err(open_error)?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(TryLockError::WouldBlock) => Err(StoreError::InUse(path.to_path_buf())),
        Err(TryLockError::Error(e)) => Err(open_error(e)),
    }
}

/// Opens one connection with the pragmas every connection needs.
fn open_connection(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let open_error = |e: rusqlite::Error| classify_open_error(path, e);
    let conn = Connection::open_with_flags(path, flags).map_err(open_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    if !read_only {
        // WAL lets readers run beside the writer; FULL makes every commit durable.
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                reason: format!("journal mode is {mode}, not wal"),
            });
        }
    }
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
        .map_err(open_error)?;
    Ok(conn)
}

/// Turns an error met while opening into the one clear line start-up prints.
fn classify_open_error(path: &Path, error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(SqliteCode::DatabaseBusy | SqliteCode::DatabaseLocked) => StoreError::Locked(path.to_path_buf()),
        _ => StoreError::Open {
            path: path.to_path_buf(),
            reason: error.to_string(),
        },
    }
}

/// The writer thread: takes one job, then whatever else is queued, and commits them together.
///
/// It never waits for more: jobs that arrive during a commit form the next group. (Waiting up to
/// 500 µs for as many jobs as the last group had made groups larger, but left the writer idle
/// while 8 SMTP sessions came back: 15 to 24% less ingest.) Background jobs wait for a moment
/// with nothing else queued, or ride along with the next group once they have waited
/// `BACKGROUND_MAX_WAIT`.
fn writer_loop(
    conn: Connection,
    commands: mpsc::Receiver<Command>,
    commits: CommitNotice,
    generation: Arc<Generation>,
    space: Arc<Space>,
    crowded: &Crowded,
    unindexed: &AtomicUsize,
) {
    let mut batch: Vec<Box<dyn WriteJob>> = Vec::new();
    let mut background: Vec<Box<dyn WriteJob>> = Vec::new();
    let mut background_since = Instant::now();
    let mut closing = false;
    let mut wait = IndexWait {
        count: unindexed,
        retry_at: Instant::now(),
    };
    let mut restart_after = Instant::now();
    let mut commit = |batch: &mut Vec<Box<dyn WriteJob>>, index: bool, wait: &mut IndexWait| {
        if commits.restart.swap(false, Ordering::AcqRel)
            && Instant::now() >= restart_after
            && !restart_wal(&conn)
        {
            restart_after = Instant::now() + RESTART_BACKOFF;
        }
        let (committed, disk_full) = commit_group(&conn, batch, &generation, index, wait);
        if index && !committed {
            wait.retry_at = Instant::now() + INDEX_RETRY;
        }
        if disk_full {
            space.disk_full();
        }
        // After a full disk too: a checkpoint lets the WAL start over in the room it has.
        if committed || disk_full {
            commits.send();
        }
    };
    while !closing {
        let waiting = wait.count.load(Ordering::Acquire) > 0;
        let first = if background.is_empty() && !waiting {
            commands.recv().map_err(|_| ())
        } else {
            // Idle a moment: the background writes go, and the index rows unless the last
            // move failed a moment ago.
            let idle = if background.is_empty() {
                BACKGROUND_IDLE.max(wait.retry_at.saturating_duration_since(Instant::now()))
            } else {
                BACKGROUND_IDLE
            };
            match commands.recv_timeout(idle) {
                Ok(command) => Ok(command),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let index = waiting && Instant::now() >= wait.retry_at;
                    commit(&mut background, index, &mut wait);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => Err(()),
            }
        };
        match first {
            Ok(Command::Write(job)) => batch.push(job),
            Ok(Command::Background(job)) => {
                if background.is_empty() {
                    background_since = Instant::now();
                }
                background.push(job);
                continue;
            }
            Ok(Command::Close) | Err(()) => break,
        }
        while batch.len() < MAX_GROUP {
            let next = match commands.try_recv() {
                Ok(command) => Ok(command),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => Err(()),
            };
            match next {
                Ok(Command::Write(job)) => batch.push(job),
                Ok(Command::Background(job)) => {
                    if background.is_empty() {
                        background_since = Instant::now();
                    }
                    background.push(job);
                }
                Ok(Command::Close) | Err(()) => {
                    closing = true;
                    break;
                }
            }
        }
        if batch.len() >= CROWDED_GROUP {
            crowded.now();
        }
        if !background.is_empty() && background_since.elapsed() >= BACKGROUND_MAX_WAIT {
            batch.append(&mut background);
        }
        let index = wait.count.load(Ordering::Acquire) >= INDEX_BATCH && Instant::now() >= wait.retry_at;
        commit(&mut batch, index, &mut wait);
    }
    // Closing: what waits in the background, and for the search index, is committed too.
    if !background.is_empty() || wait.count.load(Ordering::Acquire) > 0 {
        commit(&mut background, true, &mut wait);
    }
    if let Err((_, e)) = conn.close() {
        tracing::error!("closing the database: {e}");
    }
}

/// Bytes `range` of the `raw` blob of row `seq` of `contents`, read without loading the rest,
/// if row `seq` of `summaries` is still the one with `id` (a deleted row's `seq` may name
/// another's bytes: checked in the same transaction as the read); `None` once it is gone.
fn blob_piece(
    conn: &Connection,
    summaries: &'static str,
    contents: &'static str,
    seq: i64,
    id: Uuid,
    range: std::ops::Range<usize>,
) -> StoreResult<Option<Vec<u8>>> {
    let tx = conn.unchecked_transaction()?;
    let same = tx
        .prepare_cached(&format!("SELECT 1 FROM {summaries} WHERE seq = ?1 AND id = ?2"))?
        .exists(rusqlite::params![seq, id.to_string()])?;
    if !same {
        return Ok(None);
    }
    let blob = tx.blob_open(rusqlite::MAIN_DB, contents, "raw", seq, true)?;
    let end = range.end.min(blob.len());
    let mut piece = vec![0; end.saturating_sub(range.start)];
    blob.read_at_exact(&mut piece, range.start)?;
    drop(blob);
    tx.finish()?;
    Ok(Some(piece))
}

/// When the writer last took crowded groups, as milliseconds since it started: the last
/// `CROWDED_RUN`, newest first. One crowded group is chance (a few writers that happened to
/// come at once); several within a moment are a flood.
#[derive(Default)]
struct Crowded {
    start: std::sync::OnceLock<Instant>,
    last_ms: Mutex<[u64; CROWDED_RUN]>,
}

/// Crowded groups that must fall within the window for the writer to count as crowded.
const CROWDED_RUN: usize = 3;

impl Crowded {
    fn elapsed_ms(&self) -> u64 {
        self.start.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
    }

    fn now(&self) {
        let now = self.elapsed_ms();
        let mut last = self.last_ms.lock().expect("crowded lock");
        last.rotate_right(1);
        last[0] = now;
    }

    fn within(&self, window: Duration) -> bool {
        let oldest = self.last_ms.lock().expect("crowded lock")[CROWDED_RUN - 1];
        oldest != 0 && self.elapsed_ms().saturating_sub(oldest) <= window.as_millis() as u64
    }
}

/// Runs the jobs in one transaction, with the mail waiting for the search index when `index`,
/// and tells each the outcome; returns whether it committed and whether anything found the disk
/// full. The generation, and the count of mail waiting for the index, move on before anyone is
/// answered, so no cached read can outlive the write and a search sees the mail it must index.
fn commit_group(
    conn: &Connection,
    batch: &mut Vec<Box<dyn WriteJob>>,
    generation: &Generation,
    index: bool,
    wait: &mut IndexWait,
) -> (bool, bool) {
    let mut disk_full = false;
    let failure = |e: rusqlite::Error| GroupFailure {
        disk_full: e.sqlite_error_code() == Some(SqliteCode::DiskFull),
        reason: e.to_string(),
    };
    let committed = match conn.execute_batch("BEGIN IMMEDIATE") {
        Err(e) => Err(failure(e)),
        Ok(()) => {
            let mut rolled_back = false;
            for job in batch.iter_mut() {
                disk_full |= job.run(conn);
                // Outside a transaction now, a later job would autocommit on its own while
                // every job is told the group failed: stop here instead.
                if conn.is_autocommit() {
                    rolled_back = true;
                    break;
                }
            }
            if rolled_back {
                Err(GroupFailure {
                    reason: "SQLite rolled the transaction back".to_string(),
                    disk_full,
                })
            } else {
                // The database notes whether rows wait exactly when the count says so.
                let noted = wait.count.load(Ordering::Acquire) > 0;
                end_group(conn, index, noted).map_err(|e| {
                    let _ = conn.execute_batch("ROLLBACK");
                    failure(e)
                })
            }
        }
    };
    if let Err(failure) = &committed {
        disk_full |= failure.disk_full;
        tracing::error!("write transaction failed: {}", failure.reason);
    }
    // Rolled back with a failed group: counted again then.
    let waiting = match &committed {
        Ok(waiting) => *waiting,
        Err(_) => messages::waiting_for_index(conn).unwrap_or(INDEX_BATCH),
    };
    wait.count.store(waiting, Ordering::Release);
    let committed = committed.map(|_| ());
    if committed.is_ok() && batch.iter().all(|job| job.mail_only()) {
        generation.bump_mail();
    } else {
        generation.bump();
    }
    for job in batch.drain(..) {
        job.finish(committed.clone());
    }
    (committed.is_ok(), disk_full)
}

/// Ends a group's transaction: moves the index rows waiting in memory into the search index
/// when `index` (outside the jobs' savepoints: one FTS5 flush for them all), notes whether
/// rows still wait when that changes from what is `noted`, and commits. Returns how many wait.
fn end_group(conn: &Connection, index: bool, noted: bool) -> rusqlite::Result<usize> {
    if index {
        messages::index_deferred(conn)?;
    }
    let waiting = messages::waiting_for_index(conn)?;
    if (waiting > 0) != noted {
        messages::note_index_waiting(conn, waiting > 0)?;
    }
    conn.execute_batch("COMMIT")?;
    Ok(waiting)
}

/// The writer's account of the index rows waiting in memory (`messages::index_deferred`).
struct IndexWait<'a> {
    /// How many wait: what `Store::index_waiting_mail` and the writer look at. The database
    /// notes that some wait (`messages::note_index_waiting`) exactly when this is not 0.
    count: &'a AtomicUsize,
    /// No move into the index before this: the last one failed (a full disk, say).
    retry_at: Instant,
}

/// Tells the checkpointer that something was committed: once per checkpoint, however many
/// commits come before it, so a stream of commits does not wake it once each. The checkpointer
/// answers through `restart` when the WAL has to start over.
struct CommitNotice {
    sender: mpsc::Sender<()>,
    /// Set when told, cleared by the checkpointer just before it checkpoints.
    asked: Arc<AtomicBool>,
    /// Set by the checkpointer when the WAL has grown past `WAL_RESTART_BYTES` (or the disk is
    /// short); the writer clears it and makes the WAL start over before its next commit.
    restart: Arc<AtomicBool>,
}

impl CommitNotice {
    fn send(&self) {
        if !self.asked.swap(true, Ordering::AcqRel) {
            let _ = self.sender.send(());
        }
    }
}

/// Makes the WAL start over from its beginning, between two commits; returns whether it did. The
/// writer does this itself: while commits follow each other without a pause, a checkpoint on
/// another connection never finds the WAL free to start over, and it grew past a gigabyte.
/// Waits at most `RESTART_WAIT` for readers still using the WAL.
fn restart_wal(conn: &Connection) -> bool {
    let _ = conn.busy_timeout(RESTART_WAIT);
    // Readers holding on are not an error: the first column says so.
    let busy = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
    let _ = conn.busy_timeout(BUSY_TIMEOUT);
    let why = match busy {
        Ok(0) => return true,
        Ok(_) => format!("readers held it for {RESTART_WAIT:?}"),
        Err(e) => e.to_string(),
    };
    tracing::warn!(
        "the WAL could not start over ({why}); trying again in {RESTART_BACKOFF:?} at the earliest"
    );
    false
}

/// Moves committed pages from the WAL into the database file, a moment after commits, until the
/// writer is gone. With nothing committed it sleeps: an idle server never wakes. Once the WAL
/// passes `WAL_RESTART_BYTES`, or the disk is short of room, it asks the writer to make the WAL
/// start over (`restart_wal`), so it stays bounded under any load of writes (readers that keep
/// it in use hold it back: the writer tries again a moment later).
fn checkpoint_loop(
    conn: Connection,
    committed: mpsc::Receiver<()>,
    asked: &AtomicBool,
    restart: &AtomicBool,
    space: &Space,
) {
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap_or(4096);
    while committed.recv().is_ok() {
        // Let further commits gather so one checkpoint covers them all.
        let deadline = Instant::now() + CHECKPOINT_EVERY;
        let mut writer_gone = false;
        loop {
            match committed.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(()) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    writer_gone = true;
                    break;
                }
            }
        }
        // Cleared first: a commit from now on asks for the next checkpoint; one before it is
        // covered by this one.
        asked.store(false, Ordering::Release);
        // PASSIVE copies what it can without holding anyone up. Busy readers, or commits
        // without a pause, keep the WAL from starting over, though: once it holds more than the
        // limit (or the disk is short), the writer makes it start over before its next commit.
        let passive = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
        let too_big = match passive {
            Ok(frames) => frames.saturating_mul(page_size) > WAL_RESTART_BYTES || space.is_short(),
            Err(e) => {
                tracing::warn!("checkpoint failed: {e}");
                space.is_short()
            }
        };
        if too_big {
            restart.store(true, Ordering::Release);
        }
        if writer_gone {
            break;
        }
    }
    // The last one empties the WAL, so a clean stop leaves just the database file.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

/// A reader thread: runs queued reads on its connection until told to stop.
fn reader_loop(conn: Connection, reads: mpsc::Receiver<ReadCommand>) {
    let mut back_to_back = false;
    loop {
        let Ok((command, quick)) = next_read(&reads, back_to_back) else {
            return;
        };
        back_to_back = quick;
        match command {
            ReadCommand::Read(job) => {
                if std::panic::catch_unwind(AssertUnwindSafe(|| job(&conn))).is_err() {
                    tracing::error!("a store read panicked");
                }
            }
            ReadCommand::Stop => return,
        }
    }
}

/// The next read, and whether it came within `READER_LINGER`. When reads have been coming
/// back to back, the reader looks for the next one briefly before sleeping, since a sleeping
/// reader costs every read a wake-up; when they come further apart it sleeps at once and
/// leaves the CPU to others.
fn next_read(
    reads: &mpsc::Receiver<ReadCommand>,
    linger: bool,
) -> Result<(ReadCommand, bool), mpsc::RecvError> {
    let started = Instant::now();
    loop {
        match reads.try_recv() {
            Ok(command) => return Ok((command, true)),
            Err(mpsc::TryRecvError::Disconnected) => return Err(mpsc::RecvError),
            Err(mpsc::TryRecvError::Empty) if linger && started.elapsed() < READER_LINGER => {
                std::hint::spin_loop()
            }
            Err(mpsc::TryRecvError::Empty) => break,
        }
    }
    let command = reads.recv()?;
    Ok((command, started.elapsed() < READER_LINGER))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rusqlite::OptionalExtension;

    use super::*;

    /// Whether the settings row `key` exists.
    async fn stored(store: &Store, key: &'static str) -> bool {
        store
            .read(move |conn| {
                let row = conn.query_row("SELECT 1 FROM settings WHERE key = ?1", [key], |_| Ok(()));
                Ok(row.optional()?.is_some())
            })
            .await
            .unwrap()
    }

    fn insert_setting(key: &'static str) -> impl FnOnce(&Connection) -> StoreResult<()> {
        move |conn| {
            conn.execute("INSERT INTO settings (key, value) VALUES (?1, x'00')", [key])?;
            Ok(())
        }
    }

    #[test]
    fn a_wal_a_reader_still_uses_does_not_start_over_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let writer = open_connection(&path, false).unwrap();
        writer
            .execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        let reader = open_connection(&path, true).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let seen: i64 = reader
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seen, 1);
        // Committed after the reader's snapshot: the WAL must keep what the reader sees.
        writer.execute_batch("INSERT INTO t VALUES (2)").unwrap();
        let started = Instant::now();
        assert!(!restart_wal(&writer), "a reader still uses the WAL");
        assert!(
            started.elapsed() < BUSY_TIMEOUT,
            "it waited RESTART_WAIT, not the busy timeout"
        );
        reader.execute_batch("COMMIT").unwrap();
        assert!(restart_wal(&writer));
        let count: i64 = writer
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_commits_without_a_pause() {
        const WRITERS: usize = 4;
        const JOBS: usize = 128;
        const BYTES: i64 = 256 << 10;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db")).unwrap();
        store
            .write(|conn| Ok(conn.execute_batch("CREATE TABLE filler (bytes BLOB NOT NULL)")?))
            .await
            .unwrap();
        let wal = dir.path().join("store.db-wal");
        let largest = Arc::new(std::sync::atomic::AtomicU64::new(0));
        // Each writer sends its next job as soon as the last is answered: the writer always
        // has the next group waiting, and the checkpointer never finds it away.
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let (store, wal, largest) = (store.clone(), wal.clone(), largest.clone());
                tokio::spawn(async move {
                    for _ in 0..JOBS {
                        store
                            .write(|conn| {
                                conn.execute("INSERT INTO filler (bytes) VALUES (zeroblob(?1))", [BYTES])?;
                                Ok(())
                            })
                            .await
                            .unwrap();
                        let len = std::fs::metadata(&wal).map_or(0, |m| m.len());
                        largest.fetch_max(len, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let written = (WRITERS * JOBS) as u64 * BYTES as u64;
        let largest = largest.load(Ordering::Relaxed);
        assert!(
            largest < written / 2,
            "the WAL reached {largest} bytes while {written} were written"
        );
        store.close();
    }

    /// Holds the writer busy while five writers queue up, so they commit as one group.
    async fn crowded_group(store: &Store, round: usize) {
        let (started, running) = tokio::sync::oneshot::channel();
        let busy = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .write(move |_| {
                        let _ = started.send(());
                        std::thread::sleep(Duration::from_millis(200));
                        Ok(())
                    })
                    .await
            }
        });
        // The writer is inside the busy job: whoever comes now waits for it, all together.
        running.await.unwrap();
        const KEYS: [[&str; 5]; CROWDED_RUN] = [
            ["a", "b", "c", "d", "e"],
            ["f", "g", "h", "i", "j"],
            ["k", "l", "m", "n", "o"],
        ];
        let crowd: Vec<_> = KEYS[round]
            .into_iter()
            .map(|key| {
                tokio::spawn({
                    let store = store.clone();
                    async move { store.write(insert_setting(key)).await }
                })
            })
            .collect();
        busy.await.unwrap().unwrap();
        for write in crowd {
            write.await.unwrap().unwrap();
        }
    }

    /// Stores one message for mailbox `account` with `word` in its text; returns its id.
    async fn store_mail(store: &Store, account: Uuid, word: &'static str) -> Uuid {
        let id = Uuid::now_v7();
        store
            .write_mail(move |conn| {
                let copy = messages::NewMessage {
                    id,
                    account_id: account,
                    address: "a@mail.cx",
                    sender: "s@example.org",
                    from: "S <s@example.org>",
                    subject: "hello",
                    preview_text: word,
                    search_text: word,
                    raw: b"Subject: hello\r\n\r\nbody",
                    created_at: 1,
                    expires_at: None,
                };
                messages::deliver_all(conn, &[copy]).map(|_| ())
            })
            .await
            .unwrap();
        id
    }

    async fn found(store: &Store, account: Uuid, word: &str) -> usize {
        store.index_waiting_mail().await.unwrap();
        let matching = messages::search_expression(word).unwrap();
        store
            .read(move |conn| messages::search(conn, account, &matching, 1, 0))
            .await
            .unwrap()
            .len()
    }

    #[tokio::test]
    async fn mail_waiting_for_the_index_is_indexed_by_a_search_or_a_full_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db")).unwrap();
        let account = Uuid::new_v4();
        let id = account.to_string();
        store
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO accounts (id, address, password_hash, quota, created_at)
                     VALUES (?1, 'a@mail.cx', 'h', 1000000, 0)",
                    [id],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        // One deleted while its index row still waits: nothing of it is left to find.
        let gone = store_mail(&store, account, "quince").await;
        let deleted = store
            .write(move |conn| messages::delete(conn, account, gone, 0))
            .await
            .unwrap();
        assert!(matches!(deleted, messages::Lookup::Found(())));
        assert_eq!(found(&store, account, "quince").await, 0);
        // Enough to be indexed in a group of their own, and then some.
        for _ in 0..INDEX_BATCH + 3 {
            store_mail(&store, account, "damson").await;
        }
        // Read before the search: the writer may index what waits at any moment (when idle).
        let waiting = store.unindexed.load(Ordering::Acquire);
        let matching = messages::search_expression("damson").unwrap();
        let all = store
            .read(move |conn| {
                let mut page = 1;
                let mut total = 0;
                loop {
                    let got = messages::search(conn, account, &matching, page, 0)?.len();
                    total += got;
                    if got == 0 {
                        return Ok(total);
                    }
                    page += 1;
                }
            })
            .await
            .unwrap();
        assert!(
            waiting <= INDEX_BATCH && all + waiting >= INDEX_BATCH + 3,
            "a full batch is indexed without a search: {all} found, {waiting} waiting"
        );
        store.index_waiting_mail().await.unwrap();
        assert_eq!(store.unindexed.load(Ordering::Acquire), 0);

        // The database notes while rows wait, for the next start should the process die.
        let db = dir.path().join("store.db");
        let other = open_connection(&db, false).unwrap();
        assert!(!messages::index_was_waiting(&other).unwrap());
        let newest = store_mail(&store, account, "medlar").await;
        assert!(messages::index_was_waiting(&other).unwrap());
        // Another process (the operator's commands) deletes it while its row waits, and the
        // next message takes its seq: nothing of the deleted one is found, the new one is.
        other
            .execute("DELETE FROM messages WHERE id = ?1", [newest.to_string()])
            .unwrap();
        store_mail(&store, account, "sloe").await;
        assert_eq!(found(&store, account, "medlar").await, 0);
        assert_eq!(found(&store, account, "sloe").await, 1);
        assert!(!messages::index_was_waiting(&other).unwrap());
    }

    #[tokio::test]
    async fn background_writes_wait_for_a_quiet_writer_and_crowds_are_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db")).unwrap();
        assert!(!store.crowded(Duration::from_secs(3600)));
        // Alone, a background write is committed as soon as the writer is idle.
        store.write_in_background(insert_setting("quiet")).await.unwrap();
        assert!(stored(&store, "quiet").await);
        assert!(
            !store.crowded(Duration::from_secs(3600)),
            "one write at a time is no crowd"
        );

        // Writers queueing up behind a busy writer are committed as one group. One such group
        // is chance; a run of them within the window is a crowd.
        let background = tokio::spawn({
            let store = store.clone();
            async move { store.write_in_background(insert_setting("later")).await }
        });
        for round in 0..CROWDED_RUN {
            assert!(!store.crowded(Duration::from_secs(3600)), "round {round}");
            crowded_group(&store, round).await;
        }
        assert!(store.crowded(Duration::from_secs(3600)));
        assert!(!store.crowded(Duration::ZERO), "the window counts");
        // The background write was not lost in the crowd: it follows once the writer is idle.
        tokio::time::timeout(Duration::from_secs(10), background)
            .await
            .expect("the background write is committed")
            .unwrap()
            .unwrap();
        assert!(stored(&store, "later").await);
        store.close();
    }

    #[tokio::test]
    async fn every_job_learns_truthfully_whether_its_write_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.db")).unwrap();
        // Keep the writer busy so the next three jobs are committed as one group.
        let busy = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .write(|_| {
                        std::thread::sleep(Duration::from_millis(200));
                        Ok(())
                    })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let insert = |key: &'static str| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(move |conn| {
                        conn.execute("INSERT INTO settings (key, value) VALUES (?1, x'00')", [key])?;
                        Ok(())
                    })
                    .await
            })
        };
        let first = insert("first");
        // A disk that fills up: SQLite rolls back the whole transaction, not just this job.
        let full = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .write(|conn| {
                        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                        conn.pragma_update(None, "max_page_count", pages)?;
                        let result = conn.execute(
                            "INSERT INTO settings (key, value) VALUES ('full', zeroblob(1000000))",
                            [],
                        );
                        conn.pragma_update(None, "max_page_count", 1_073_741_823i64)?;
                        result?;
                        Ok(())
                    })
                    .await
            }
        });
        let last = insert("last");
        busy.await.unwrap().unwrap();
        let (first, full, last) = (first.await.unwrap(), full.await.unwrap(), last.await.unwrap());
        assert!(full.is_err());
        assert!(!stored(&store, "full").await);
        assert_eq!(first.is_ok(), stored(&store, "first").await, "first: {first:?}");
        assert_eq!(last.is_ok(), stored(&store, "last").await, "last: {last:?}");
        // The writer goes on after a failed group.
        store
            .write(|conn| Ok(conn.execute("INSERT INTO settings VALUES ('after', x'00')", [])?))
            .await
            .unwrap();
        assert!(stored(&store, "after").await);
        store.close();
    }
}
