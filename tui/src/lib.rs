//! mailcx: the terminal mailbox manager for a mailcx server.
//!
//! The app is a plain state machine: [`App`] holds the state, every change goes through
//! [`Action`], screens render, handle keys and list their key hints, and network calls run as
//! tokio tasks that send an [`Action`] back over a channel. [`run::run_loop`] drives it from
//! terminal events; [`testing::Harness`] drives it from tests.

pub mod action;
pub mod app;
pub mod cli;
pub mod config;
pub mod embedded;
pub mod extract;
pub mod field;
pub mod format;
pub mod headers;
pub mod keys;
pub mod launch;
pub mod live;
pub mod net;
pub mod origin;
pub mod outside;
pub mod popup;
pub mod pro;
pub mod run;
pub mod saved;
pub mod screens;
pub mod status;
pub mod testing;
pub mod text;
pub mod theme;
pub mod watch;

pub use action::{Action, LiveEvent, Reply};
pub use app::{App, ServerInfo, Settings};
pub use cli::Cli;
pub use launch::run;

// Re-exported so tests and benches name the same key and terminal types the app uses.
pub use crossterm;
pub use ratatui;
