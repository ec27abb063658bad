//! mailcx: the terminal mailbox manager for a mailcx server.

pub mod field;
pub mod format;
pub mod keys;
pub mod saved;
pub mod text;
pub mod theme;

// Re-exported so tests and benches name the same key and terminal types the app uses.
pub use crossterm;
pub use ratatui;
