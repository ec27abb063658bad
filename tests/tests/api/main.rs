//! The HTTP API end to end: accounts and domains, every error answer, messages read over HTTP, and
//! what survives a restart. One test binary for the area, so the harness and the server are linked
//! once instead of once per file.

mod accounts;
mod counts;
mod http_errors;
mod messages;
mod persistence;
mod search;
