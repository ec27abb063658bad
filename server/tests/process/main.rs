//! The real `mailcx-server` executable as a separate process: flags, logs, SIGTERM, and SIGKILL in
//! the middle of a mail stream. They live in the server package because only its own integration
//! tests get `CARGO_BIN_EXE_mailcx-server`, the binary Cargo built for this very test run.

mod admin;
mod binary;
mod durability;
mod support;
mod webhooks;
