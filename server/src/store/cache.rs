//! What the server remembers of rows read on every request (the caller's mailbox, a Pro token),
//! kept exact: an entry is used only while no write has happened since it was read. Writes of
//! this server bump a generation; the operator's commands (`mailcx-server user ...`), which write
//! from another process, replace a marker file beside the database, whose change bumps it too.

use std::collections::HashMap;
use std::hash::Hash;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Entries kept in one cache at most; past that it starts over.
const MAX_ENTRIES: usize = 100_000;

/// Rows by key, each with the generation it was read at.
pub struct Cache<K, V> {
    entries: Mutex<HashMap<K, (u64, V)>>,
}

impl<K: Eq + Hash, V: Clone> Default for Cache<K, V> {
    fn default() -> Self {
        Cache {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    /// The value read at `generation`, if it was.
    pub fn get(&self, key: &K, generation: u64) -> Option<V> {
        let entries = self.entries.lock().expect("cache lock");
        match entries.get(key) {
            Some((seen, value)) if *seen == generation => Some(value.clone()),
            _ => None,
        }
    }

    /// Remembers `value` as read at `generation` (read before the query ran).
    pub fn put(&self, key: K, generation: u64, value: V) {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (generation, value));
    }
}

/// The generation of what is written: bumped by this server's writes and by a changed marker.
pub struct Generation {
    counter: AtomicU64,
    /// Moved on by every write except mail being stored: what decides where mail goes (which
    /// addresses and domains exist, and whose they are) is exact while this holds.
    directory: AtomicU64,
    marker: PathBuf,
    /// The marker file as last seen (inode and modification time), or nothing.
    seen: Mutex<Option<(u64, i64, i64)>>,
    /// Files renamed into the marker's directory, as inotify reports them: the marker is
    /// replaced by a rename, so while none is reported there is nothing to stat. `None` where
    /// inotify is not available; then the marker is looked at every time.
    renames: Option<rustix::fd::OwnedFd>,
}

impl Generation {
    /// Follows the marker beside the database at `db`.
    pub fn new(db: &Path) -> Generation {
        let marker = marker_path(db);
        // Watching first: a rename after this is reported, so nothing falls between.
        let renames = watch_renames(&marker);
        let seen = Mutex::new(stat(&marker));
        Generation {
            counter: AtomicU64::new(0),
            directory: AtomicU64::new(0),
            marker,
            seen,
            renames,
        }
    }

    /// Moves the generation on (a write of this server), the directory's too.
    pub fn bump(&self) {
        self.directory.fetch_add(1, Ordering::Release);
        self.counter.fetch_add(1, Ordering::Release);
    }

    /// Moves the directory's generation on alone.
    pub fn bump_directory(&self) {
        self.directory.fetch_add(1, Ordering::Release);
    }

    /// Moves the generation on for a write that only stored mail: the directory stays.
    pub fn bump_mail(&self) {
        self.counter.fetch_add(1, Ordering::Release);
    }

    /// The current generation, moved on first if another process changed the database.
    pub fn current(&self) -> u64 {
        self.follow_marker();
        self.counter.load(Ordering::Acquire)
    }

    /// The current generation of the directory (see `directory`), moved on first if another
    /// process changed the database.
    pub fn directory(&self) -> u64 {
        self.follow_marker();
        self.directory.load(Ordering::Acquire)
    }

    /// Bumps the generation when another process replaced the marker since the last look.
    fn follow_marker(&self) {
        // Under the lock: a caller that finds the report taken by another waits for its bump.
        let mut seen = self.seen.lock().expect("marker lock");
        if self.renames.as_ref().is_none_or(reported) {
            let now = stat(&self.marker);
            if *seen != now {
                *seen = now;
                self.bump();
            }
        }
    }
}

/// An inotify descriptor reporting files renamed into `marker`'s directory, if there is one.
fn watch_renames(marker: &Path) -> Option<rustix::fd::OwnedFd> {
    use rustix::fs::inotify;
    let dir = match marker.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK).ok()?;
    inotify::add_watch(&fd, dir, inotify::WatchFlags::MOVED_TO).ok()?;
    Some(fd)
}

/// Whether inotify reported anything since it was last asked (reading the reports away). An
/// error counts as a report: the marker is then looked at, never missed.
fn reported(fd: &rustix::fd::OwnedFd) -> bool {
    let mut buffer = [0u8; 4096];
    let mut any = false;
    loop {
        match rustix::io::read(fd, &mut buffer) {
            Ok(0) => return any,
            Ok(_) => any = true,
            Err(rustix::io::Errno::AGAIN) => return any,
            Err(_) => return true,
        }
    }
}

fn marker_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".changed");
    PathBuf::from(name)
}

fn stat(marker: &Path) -> Option<(u64, i64, i64)> {
    let meta = std::fs::metadata(marker).ok()?;
    Some((meta.ino(), meta.mtime(), meta.mtime_nsec()))
}

/// Tells a server running on the database at `db` that another process changed it: replaces the
/// marker file (a new file each time, so the change shows however coarse the clock).
pub fn mark_changed(db: &Path) -> std::io::Result<()> {
    let marker = marker_path(db);
    let mut temporary = marker.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, b"")?;
    std::fs::rename(&temporary, &marker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_marker_moves_the_generation_and_stales_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let generation = Generation::new(&db);
        let cache: Cache<u32, &str> = Cache::default();
        let at = generation.current();
        cache.put(1, at, "one");
        assert_eq!(cache.get(&1, generation.current()), Some("one"));
        mark_changed(&db).unwrap();
        assert_eq!(cache.get(&1, generation.current()), None);
        let at = generation.current();
        cache.put(1, at, "uno");
        mark_changed(&db).unwrap();
        assert_eq!(
            cache.get(&1, generation.current()),
            None,
            "a second change shows too"
        );
        generation.bump();
        assert!(generation.current() > at);
        let still = generation.current();
        assert_eq!(generation.current(), still, "nothing changed, nothing moves");
    }

    #[test]
    fn without_inotify_the_marker_is_looked_at_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let generation = Generation {
            renames: None,
            ..Generation::new(&db)
        };
        let at = generation.current();
        assert_eq!(generation.current(), at);
        mark_changed(&db).unwrap();
        assert!(generation.current() > at);
    }
}
