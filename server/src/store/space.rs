//! Disk room kept in hand. A reserve file beside the database is given up the moment a write
//! finds the disk full, so deletes and checkpoints (which need a little room themselves) still
//! run; new mail is then taken only where it fits without eating into that room, and the reserve
//! is taken back once the disk has room again.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Size of the reserve file.
pub const RESERVE_BYTES: u64 = 8 << 20;
/// Room beyond the reserve the disk must have before the reserve is taken back.
const MARGIN: u64 = 1 << 20;

/// The reserve file and whether the store is short of room (the reserve is given up).
pub struct Space {
    reserve: PathBuf,
    dir: PathBuf,
    short: AtomicBool,
}

impl Space {
    /// Takes the reserve beside the database at `db`; a disk already too full to hold it starts
    /// out short.
    pub fn open(db: &Path) -> Space {
        let mut reserve = db.as_os_str().to_owned();
        reserve.push(".reserve");
        let dir = match db.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let space = Space {
            reserve: PathBuf::from(reserve),
            dir,
            short: AtomicBool::new(false),
        };
        if let Err(e) = space.take_reserve() {
            tracing::warn!("no room for the {} MiB disk reserve: {e}", RESERVE_BYTES >> 20);
            space.short.store(true, Ordering::Release);
        }
        space
    }

    /// Whether the reserve is given up: new mail must fit in what is free beyond it.
    pub fn is_short(&self) -> bool {
        self.short.load(Ordering::Acquire)
    }

    /// A write found the disk full: gives up the reserve, once.
    pub fn disk_full(&self) {
        if !self.short.swap(true, Ordering::AcqRel) {
            let _ = std::fs::remove_file(&self.reserve);
            tracing::error!(
                "the disk is full: mail is refused with 452 until there is room; released the {} MiB reserve so deletes still work",
                RESERVE_BYTES >> 20
            );
        }
    }

    /// Bytes free on the disk beyond the reserve's share; takes the reserve back (and stops
    /// being short) when there is room for it. `None` when the disk cannot be asked.
    pub fn free_beyond_reserve(&self) -> Option<u64> {
        let free = self.disk_free()?;
        if self.is_short() && free >= RESERVE_BYTES + MARGIN && self.take_reserve().is_ok() {
            self.short.store(false, Ordering::Release);
            tracing::info!("the disk has room again: mail is accepted");
            return self.disk_free();
        }
        Some(free.saturating_sub(RESERVE_BYTES))
    }

    fn disk_free(&self) -> Option<u64> {
        let stat = rustix::fs::statvfs(&self.dir).ok()?;
        Some(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    /// Allocates the reserve file's blocks for real (zeros written where the filesystem cannot
    /// allocate without writing).
    fn take_reserve(&self) -> std::io::Result<()> {
        if std::fs::metadata(&self.reserve).is_ok_and(|m| m.len() >= RESERVE_BYTES) {
            return Ok(());
        }
        let taken = (|| {
            let mut file = File::create(&self.reserve)?;
            let allocated =
                rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, RESERVE_BYTES);
            if allocated.is_err() {
                let zeros = vec![0u8; 1 << 20];
                for _ in 0..RESERVE_BYTES >> 20 {
                    file.write_all(&zeros)?;
                }
            }
            file.sync_all()
        })();
        if taken.is_err() {
            let _ = std::fs::remove_file(&self.reserve);
        }
        taken
    }
}
