//! The hostile area: one test per attack a public, unauthenticated server must survive. Each
//! starts the real server and attacks it over real TCP, then checks it still serves everyone else
//! and lost nothing.

mod accounts;
mod disk;
mod http;
mod mime;
mod smtp;
mod ws;
