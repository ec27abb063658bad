//! Attacks: http.
