//! Open inboxes and the `/v1` API end to end, over real TCP: every route and error, the long
//! poll, event streams with replay, open retention, a registered mailbox's precedence, and a
//! third-party mail.cx client from PyPI pointed at this server.

mod long_poll;
mod python;
mod routes;
mod sse;
mod support;
