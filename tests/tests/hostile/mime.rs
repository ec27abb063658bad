//! Attacks: mime.
