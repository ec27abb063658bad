//! The Pro area: Pro users made by the operator's commands, sign-in, API tokens, a Pro user's
//! mailboxes, custom domains checked against a real DNS server, webhooks delivered to a real
//! receiver, and isolation between Pro users. All over real TCP against the real server.

mod accounts;
mod domains;
mod isolation;
mod tokens;
mod webhooks;
