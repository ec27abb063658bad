//! The address and password rules of the API, shared so the server and the TUI's forms agree.

/// Longest accepted address, in characters.
pub const MAX_ADDRESS_LEN: usize = 254;
/// Longest accepted local part, in characters.
pub const MAX_LOCAL_LEN: usize = 64;
/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_LEN: usize = 6;
/// Longest accepted password, in characters.
pub const MAX_PASSWORD_LEN: usize = 256;

/// Why an address was refused; `Display` is the human message sent to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("address must look like local@domain")]
    Shape,
    #[error("address must be at most {MAX_ADDRESS_LEN} characters")]
    TooLong,
    #[error("the part before @ must be 1 to {MAX_LOCAL_LEN} characters")]
    LocalLength,
    #[error("the part before @ may hold only letters, digits and . _ - +")]
    LocalChars,
    /// RFC 5321's dot-string: SMTP cannot carry a leading, trailing or doubled dot unquoted.
    #[error("the part before @ may not start or end with a dot, or have two dots in a row")]
    LocalDots,
    #[error("domain {0} is not served here")]
    UnknownDomain(String),
}

/// Why a password was refused; `Display` is the human message sent to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least {MIN_PASSWORD_LEN} characters")]
    TooShort,
    #[error("password must be at most {MAX_PASSWORD_LEN} characters")]
    TooLong,
}

/// Checks that a local part alone is valid (what the TUI's form checks as the user types).
pub fn validate_local_part(local: &str) -> Result<(), AddressError> {
    let len = local.chars().count();
    if len == 0 || len > MAX_LOCAL_LEN {
        return Err(AddressError::LocalLength);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+');
    if !local.chars().all(allowed) {
        return Err(AddressError::LocalChars);
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(AddressError::LocalDots);
    }
    Ok(())
}

/// Validates `local@domain` against the rules and the accepted domains; returns it lower-cased.
pub fn normalize_address<S: AsRef<str>>(address: &str, domains: &[S]) -> Result<String, AddressError> {
    let address = address.trim();
    if address.chars().count() > MAX_ADDRESS_LEN {
        return Err(AddressError::TooLong);
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(AddressError::Shape);
    };
    if domain.is_empty() || local.contains('@') {
        return Err(AddressError::Shape);
    }
    validate_local_part(local)?;
    let domain = domain.to_ascii_lowercase();
    if !domains.iter().any(|d| d.as_ref().eq_ignore_ascii_case(&domain)) {
        return Err(AddressError::UnknownDomain(domain));
    }
    Ok(format!("{}@{}", local.to_ascii_lowercase(), domain))
}

/// Checks a password's length in characters.
pub fn validate_password(password: &str) -> Result<(), PasswordError> {
    match password.chars().count() {
        n if n < MIN_PASSWORD_LEN => Err(PasswordError::TooShort),
        n if n > MAX_PASSWORD_LEN => Err(PasswordError::TooLong),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAINS: &[&str] = &["mail.cx", "example.org"];

    #[test]
    fn addresses_are_lower_cased_and_checked() {
        assert_eq!(
            normalize_address("Demo.X+1@Mail.CX", DOMAINS).unwrap(),
            "demo.x+1@mail.cx"
        );
        assert_eq!(
            normalize_address("a_b-c@example.org", DOMAINS).unwrap(),
            "a_b-c@example.org"
        );
        assert_eq!(normalize_address("demo", DOMAINS), Err(AddressError::Shape));
        assert_eq!(normalize_address("demo@", DOMAINS), Err(AddressError::Shape));
        assert_eq!(
            normalize_address("a@b@mail.cx", DOMAINS),
            Err(AddressError::Shape)
        );
        assert_eq!(
            normalize_address("@mail.cx", DOMAINS),
            Err(AddressError::LocalLength)
        );
        assert_eq!(
            normalize_address("dé@mail.cx", DOMAINS),
            Err(AddressError::LocalChars)
        );
        assert_eq!(
            normalize_address("a b@mail.cx", DOMAINS),
            Err(AddressError::LocalChars)
        );
        for dotted in [
            "a..b@mail.cx",
            ".x@mail.cx",
            "x.@mail.cx",
            ".@mail.cx",
            "...@mail.cx",
        ] {
            assert_eq!(
                normalize_address(dotted, DOMAINS),
                Err(AddressError::LocalDots),
                "{dotted}"
            );
        }
        assert_eq!(validate_local_part("x."), Err(AddressError::LocalDots));
        assert!(validate_local_part("a.b.c").is_ok());
        assert_eq!(
            normalize_address("demo@other.com", DOMAINS),
            Err(AddressError::UnknownDomain("other.com".into()))
        );
        let long_local = "a".repeat(65);
        assert_eq!(
            normalize_address(&format!("{long_local}@mail.cx"), DOMAINS),
            Err(AddressError::LocalLength)
        );
        assert!(normalize_address(&format!("{}@mail.cx", "a".repeat(64)), DOMAINS).is_ok());
        let long = format!("a@{}", "b".repeat(253));
        assert_eq!(normalize_address(&long, DOMAINS), Err(AddressError::TooLong));
    }

    #[test]
    fn passwords_count_characters() {
        assert_eq!(validate_password("12345"), Err(PasswordError::TooShort));
        assert!(validate_password("123456").is_ok());
        assert!(validate_password("ééééé").is_err());
        assert!(validate_password(&"x".repeat(256)).is_ok());
        assert_eq!(validate_password(&"x".repeat(257)), Err(PasswordError::TooLong));
    }
}
