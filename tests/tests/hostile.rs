//! The hostile area: one test per attack a public, unauthenticated server must survive. Each
//! starts the real server and attacks it over real TCP, then checks it still serves everyone else
//! and lost nothing.

// A crate root's `mod x;` is looked up beside the root (tests/tests/x.rs), not in hostile/.
#[path = "hostile/accounts.rs"]
mod accounts;
#[path = "hostile/disk.rs"]
mod disk;
#[path = "hostile/http.rs"]
mod http;
#[path = "hostile/mime.rs"]
mod mime;
#[path = "hostile/smtp.rs"]
mod smtp;
#[path = "hostile/ws.rs"]
mod ws;
