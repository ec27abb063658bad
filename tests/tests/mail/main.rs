//! Mail in and out: the SMTP receiver at the protocol level, the real-world corpus, retention over
//! real time, and WebSocket pushes of new mail. One test binary for the area, so the harness and the
//! server are linked once instead of once per file.

mod corpus;
mod plus;
mod retention;
mod smtp;
mod websocket;
