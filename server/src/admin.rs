//! The operator's commands: `mailcx-server user add|list|remove|passwd|limits`. They work on the
//! database directly, beside a server that may be running on it, and mark each change so that
//! server sees it on its next request.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use mailcx_common::timestamp;
use mailcx_common::validate::validate_password;
use rusqlite::Connection;
use uuid::Uuid;

use crate::auth::{hash_password_now, unix_now};
use crate::config::UserCommand;
use crate::store::pro::{self, Limits, ProUser};
use crate::store::{self, accounts, mark_changed, messages};

/// Mailboxes (and messages of each) removed per transaction by `user remove`.
const BATCH: u32 = 200;

/// Runs one `user` command on the database at `db`. Blocking.
pub fn run(db: &Path, command: &UserCommand) -> anyhow::Result<()> {
    let conn = store::open_for_admin(db).with_context(|| format!("opening {}", db.display()))?;
    match command {
        UserCommand::Add { email } => add(&conn, db, email),
        UserCommand::List => list(&conn),
        UserCommand::Remove { email, yes } => remove(&conn, db, email, *yes),
        UserCommand::Passwd { email } => passwd(&conn, db, email),
        UserCommand::Limits {
            email,
            mailboxes,
            domains,
            tokens,
        } => limits(&conn, db, email, *mailboxes, *domains, *tokens),
    }
}

fn add(conn: &Connection, db: &Path, email: &str) -> anyhow::Result<()> {
    let password = read_new_password()?;
    let email = insert_user(conn, db, email, &password)?;
    println!("added Pro user {email}");
    Ok(())
}

/// Adds a Pro user to the database at `db` (a server may be running on it); returns the email
/// as stored. Blocking. What `user add` does, for the terminal app and tests too.
pub fn add_user(db: &Path, email: &str, password: &str) -> anyhow::Result<String> {
    let conn = store::open_for_admin(db).with_context(|| format!("opening {}", db.display()))?;
    insert_user(&conn, db, email, password)
}

fn insert_user(conn: &Connection, db: &Path, email: &str, password: &str) -> anyhow::Result<String> {
    let email = normalize_email(email)?;
    validate_password(password).map_err(|e| anyhow!("{e}"))?;
    let hash = hash_password_now(password).map_err(|e| anyhow!("hashing the password: {e}"))?;
    match pro::insert_user(conn, Uuid::new_v4(), &email, &hash, unix_now() as i64) {
        Ok(()) => {}
        Err(store::StoreError::Conflict) => bail!("a Pro user {email} exists already"),
        Err(e) => return Err(e.into()),
    }
    mark_changed(db)?;
    Ok(email)
}

fn list(conn: &Connection) -> anyhow::Result<()> {
    let users = pro::list_users(conn)?;
    if users.is_empty() {
        println!("no Pro users");
        return Ok(());
    }
    let width = users.iter().map(|u| u.user.email.len()).max().unwrap_or(5).max(5);
    println!(
        "{:width$}  {:>9}  {:>7}  {:>6}  CREATED",
        "EMAIL", "MAILBOXES", "DOMAINS", "TOKENS"
    );
    for summary in users {
        println!(
            "{:width$}  {:>9}  {:>7}  {:>6}  {}",
            summary.user.email,
            format!("{}/{}", summary.mailboxes, summary.user.limits.mailboxes),
            format!("{}/{}", summary.domains, summary.user.limits.domains),
            format!("{}/{}", summary.tokens, summary.user.limits.tokens),
            timestamp(summary.user.created_at).format("%Y-%m-%dT%H:%M:%SZ"),
        );
    }
    Ok(())
}

fn remove(conn: &Connection, db: &Path, email: &str, yes: bool) -> anyhow::Result<()> {
    let user = find(conn, email)?;
    if !yes
        && !confirm(&format!(
            "Remove Pro user {} with all their mailboxes and mail?",
            user.email
        ))?
    {
        bail!("not removed");
    }
    // Their credentials die first, so they stop working on the server's next request.
    {
        let tx = conn.unchecked_transaction()?;
        pro::revoke_all(&tx, user.id, unix_now() as i64)?;
        tx.commit()?;
    }
    mark_changed(db)?;
    let mut removed = 0;
    loop {
        let tx = conn.unchecked_transaction()?;
        let batch = pro::some_mailboxes_of(&tx, user.id, BATCH)?;
        for id in &batch {
            while messages::delete_some_of(&tx, *id, BATCH)? {}
            accounts::delete(&tx, *id)?;
        }
        tx.commit()?;
        removed += batch.len();
        if batch.is_empty() {
            break;
        }
    }
    pro::delete_user(conn, user.id)?;
    mark_changed(db)?;
    println!("removed Pro user {} and {removed} mailboxes", user.email);
    Ok(())
}

fn passwd(conn: &Connection, db: &Path, email: &str) -> anyhow::Result<()> {
    let user = find(conn, email)?;
    let password = read_new_password()?;
    let hash = hash_password_now(&password).map_err(|e| anyhow!("hashing the password: {e}"))?;
    pro::set_password(conn, user.id, &hash)?;
    mark_changed(db)?;
    println!(
        "set the password of {}; their earlier sign-ins no longer work",
        user.email
    );
    Ok(())
}

fn limits(
    conn: &Connection,
    db: &Path,
    email: &str,
    mailboxes: Option<u32>,
    domains: Option<u32>,
    tokens: Option<u32>,
) -> anyhow::Result<()> {
    let user = find(conn, email)?;
    if mailboxes.is_none() && domains.is_none() && tokens.is_none() {
        bail!("name at least one of --mailboxes, --domains, --tokens");
    }
    let limits = Limits {
        mailboxes: mailboxes.unwrap_or(user.limits.mailboxes),
        domains: domains.unwrap_or(user.limits.domains),
        tokens: tokens.unwrap_or(user.limits.tokens),
    };
    pro::set_limits(conn, user.id, limits)?;
    mark_changed(db)?;
    println!(
        "{} may now hold {} mailboxes, {} domains, {} active tokens",
        user.email, limits.mailboxes, limits.domains, limits.tokens
    );
    Ok(())
}

fn find(conn: &Connection, email: &str) -> anyhow::Result<ProUser> {
    let email = normalize_email(email)?;
    pro::user_by_email(conn, &email)?.ok_or_else(|| anyhow!("no Pro user {email}"))
}

/// An email address as Pro users sign in with it: trimmed, lower-cased, `local@domain`.
fn normalize_email(email: &str) -> anyhow::Result<String> {
    let email = email.trim().to_ascii_lowercase();
    let well_formed = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !well_formed {
        bail!("{email:?} is not an email address");
    }
    Ok(email)
}

/// A new password: one line of standard input when it is not a terminal, else asked twice
/// without echo. Checked against the password rule.
fn read_new_password() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let first = prompt_hidden("Password: ")?;
        let second = prompt_hidden("Password again: ")?;
        if first != second {
            bail!("the passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    validate_password(&password).map_err(|e| anyhow!("{e}"))?;
    Ok(password)
}

/// Asks for a line on the terminal with echo off.
fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let saved = tcgetattr(&stdin)?;
    let mut silent = saved.clone();
    silent.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Now, &silent)?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    tcsetattr(&stdin, OptionalActions::Now, &saved)?;
    eprintln!();
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Asks a yes/no question on the terminal; without one, the answer is no (use `--yes`).
fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("not asking without a terminal: pass --yes");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
