//! Attacks: disk.
