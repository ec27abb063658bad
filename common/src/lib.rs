//! Shared by the mailcx server, TUI and tests: the JSON wire types of the API contract, the
//! error codes, the address and password rules, and the typed async client.

pub mod client;
pub mod error;
pub mod gate;
pub mod pro;
mod pro_client;
pub mod types;
pub mod v1;
pub mod validate;

pub use client::{Client, ClientError, Subscription};
pub use error::{ErrorBody, ErrorCode};
pub use pro::*;
pub use types::*;
