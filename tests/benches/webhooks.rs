//! Webhook delivery under load (being written).

fn main() {}
