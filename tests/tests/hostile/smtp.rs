//! Attacks: smtp.
