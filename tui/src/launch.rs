//! Start-up and shut-down: the server (bundled or remote), the app, the terminal (raw mode,
//! alternate screen, mouse, paste) and putting all of it back on exit or panic.

use std::io::{self, Write};

use crossterm::event::{
    DisableBracketedPaste, EnableBracketedPaste, Event, EventStream, KeyCode, KeyEvent, KeyEventKind,
    KeyModifiers,
};
use crossterm::execute;
use mailcx_common::Client;
use mailcx_server::RunningServer;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::action::Action;
use crate::app::{App, ServerInfo, Settings};
use crate::cli::Cli;
use crate::config::Config;
use crate::outside::Pipe;
use crate::run::{LoopStats, run_loop};
use crate::{embedded, saved, theme};

/// How many times a request answered 429 is retried (after the server's `Retry-After`).
const RATE_LIMIT_RETRIES: u32 = 10;

/// Mouse reporting: clicks and wheel (1000) in SGR encoding (1006). Not crossterm's
/// `EnableMouseCapture`, which also reports every mouse move and would wake the app for nothing.
const MOUSE_ON: &[u8] = b"\x1b[?1000h\x1b[?1006h";
const MOUSE_OFF: &[u8] = b"\x1b[?1006l\x1b[?1000l";

/// An app ready to run, with the channel its background tasks answer on.
pub struct Prepared {
    /// The app, started (its first requests are running).
    pub app: App,
    /// Where background answers arrive.
    pub actions: UnboundedReceiver<Action>,
    /// The bundled server, if one was started.
    pub server: Option<RunningServer>,
}

/// Starts the server (unless `--server` names one) and the app, without touching the terminal.
pub async fn prepare(cli: &Cli) -> anyhow::Result<Prepared> {
    prepare_with(cli, None).await
}

/// [`prepare`], using the bundled server another mailcx already runs on the data directory
/// when `shared` names it (with the same saved list) instead of starting one.
pub async fn prepare_with(cli: &Cli, shared: Option<&embedded::AlreadyRunning>) -> anyhow::Result<Prepared> {
    let (config, warning) = Config::load(&cli.config_dir());
    theme::init(config.theme);
    // Flags (and their environment variables) win over the file.
    let server_url = cli.server.clone().or(config.server.clone());
    let (server_info, client, server) = match &server_url {
        Some(url) => {
            let url = url.trim_end_matches('/').to_string();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                anyhow::bail!("--server must be an http:// or https:// URL, not {url:?}");
            }
            let client = remote_client(&url);
            // The client's address, without a trailing `/api`: the one shown and keyed on.
            let url = client.base_url().to_string();
            (ServerInfo::Remote { url }, client, None)
        }
        None => match shared {
            Some(running) => {
                let client = Client::new(&format!("http://{}", running.http));
                (running.server_info(), client, None)
            }
            None => {
                let embedded = embedded::start(&cli.data_dir(), cli.smtp_port).await?;
                let info = ServerInfo::Embedded {
                    http: embedded.server.http_addr,
                    smtp: embedded.smtp,
                    db: embedded.db,
                };
                // Lists saved before the key was the resolved directory live under the path as
                // it was typed: move such a list over, once.
                let typed = format!("embedded:{}", cli.data_dir().join("mailcx.db").display());
                saved::adopt(&cli.config_dir(), &typed, &info.key());
                (
                    info,
                    Client::new(&embedded.server.http_url()),
                    Some(embedded.server),
                )
            }
        },
    };
    let (tx, actions) = unbounded_channel();
    let settings = Settings {
        server: server_info,
        client,
        config_dir: cli.config_dir(),
        downloads: cli
            .downloads
            .clone()
            .or(config.downloads.clone())
            .unwrap_or_else(|| cli.downloads_dir()),
    };
    let mut app = App::new(settings, tx);
    if let Some(warning) = warning {
        app.warn("Settings", warning);
    }
    app.set_notifications(config.notifications, Box::new(write_to_terminal));
    app.start();
    Ok(Prepared { app, actions, server })
}

/// The client of a remote server: 429s are retried behind the server's one backoff gate.
pub fn remote_client(url: &str) -> Client {
    Client::new(url).retry_rate_limited(RATE_LIMIT_RETRIES)
}

/// Runs the app in the terminal until the person quits.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.server.is_none() {
        // Without a log file the server logs nowhere, which is still better than over the screen.
        let _ = embedded::log_to_file(&cli.data_dir());
    }
    let prepared = match prepare(&cli).await {
        Ok(prepared) => prepared,
        Err(e) => match e.downcast_ref::<embedded::AlreadyRunning>().cloned() {
            Some(running) if use_running(&running) => prepare_with(&cli, Some(&running)).await?,
            _ => return Err(e),
        },
    };
    let Prepared {
        mut app,
        mut actions,
        server,
    } = prepared;
    let stop = termination();
    let mut terminal = enter_terminal()?;
    let mut stats = LoopStats::default();
    let app_loop = async {
        loop {
            // A fresh event stream each time: the old one must not read the keys meant for a
            // piped command.
            let events = terminal_events();
            run_loop(
                &mut terminal,
                &mut app,
                events,
                &mut actions,
                copy_to_clipboard,
                &mut stats,
            )
            .await?;
            // The loop returns to quit, or to hand the terminal to a piped command (`|`).
            let Some(pipe) = app.take_pipe() else {
                return anyhow::Ok(());
            };
            let result = run_outside(pipe.clone()).await;
            resume_terminal(&mut terminal)?;
            app.piped(&pipe.command, result);
        }
    };
    // SIGTERM, SIGHUP, SIGINT and SIGQUIT end the app like q does: terminal restored, bundled
    // server stopped.
    let result = tokio::select! {
        result = app_loop => result,
        () = stop => Ok(()),
    };
    leave_terminal();
    drop(app);
    if let Some(server) = server {
        embedded::stop(server, &cli.data_dir(), || {
            eprintln!("mailcx: a client is still connected to the bundled server; closing it…")
        })
        .await;
    }
    result
}

/// Asks on the plain terminal (before the app takes it) whether to use the bundled server
/// another mailcx runs on the same data directory. Yes unless the answer starts with `n`.
fn use_running(running: &embedded::AlreadyRunning) -> bool {
    eprint!("mailcx: {running}.\nUse that server, with the same saved mailboxes? [Y/n] ");
    let mut answer = String::new();
    if io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    !answer.trim().to_ascii_lowercase().starts_with('n')
}

/// Runs a piped command on the normal screen, the app's screen put away meanwhile. Unless it
/// is the pager (which ends when the person is done), waits for ⏎ so its output can be read.
async fn run_outside(pipe: Pipe) -> io::Result<std::process::ExitStatus> {
    leave_terminal();
    tokio::task::spawn_blocking(move || {
        let status = pipe.run();
        let pager = std::env::var("PAGER").unwrap_or_else(|_| "less".into());
        if pipe.command.trim() != pager.trim() || !matches!(status, Ok(s) if s.success()) {
            print!("\n[mailcx] {} ended; press ⏎ to return ", pipe.command);
            let _ = io::stdout().flush();
            let _ = io::stdin().read_line(&mut String::new());
        }
        status
    })
    .await
    .map_err(io::Error::other)?
}

/// Takes the terminal back after [`run_outside`]: raw mode, alternate screen, mouse, paste, and
/// a full redraw.
fn resume_terminal(terminal: &mut ratatui::DefaultTerminal) -> anyhow::Result<()> {
    take_terminal_back()?;
    // Not `terminal.clear()`: it asks the terminal for its cursor and fails on a slow answer.
    crate::run::repaint_all(terminal)?;
    Ok(())
}

/// Raw mode, alternate screen, mouse and paste again, after the terminal was put back.
fn take_terminal_back() -> io::Result<()> {
    crossterm::terminal::enable_raw_mode()?;
    let mut out = io::stdout();
    execute!(out, crossterm::terminal::EnterAlternateScreen)?;
    out.write_all(MOUSE_ON)?;
    execute!(out, EnableBracketedPaste)
}

/// The terminal's events, with `^Z` (or SIGTSTP from outside) suspending the app on the way:
/// the terminal is put back, the process stops, and once continued the terminal is taken again
/// and the `^Z` goes on to the app, which then repaints every cell.
fn terminal_events() -> impl futures_util::Stream<Item = io::Result<Event>> + Unpin {
    use futures_util::StreamExt;
    let ctrl_z = || Event::Key(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL));
    let tstp = stop_requests().map(move |()| Ok(ctrl_z()));
    futures_util::stream::select(EventStream::new(), tstp).map(|event| {
        if let Ok(Event::Key(key)) = &event
            && key.kind != KeyEventKind::Release
            && crate::keys::is_ctrl(key, 'z')
        {
            suspend();
        }
        event
    })
}

/// SIGTSTP sent from outside (`kill -TSTP`), as a stream: caught, so the terminal is put back
/// before the process stops.
fn stop_requests() -> futures_util::stream::BoxStream<'static, ()> {
    use futures_util::StreamExt;
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(tstp) = signal(SignalKind::from_raw(libc::SIGTSTP)) {
            return futures_util::stream::unfold(tstp, |mut tstp| async move {
                tstp.recv().await.map(|()| ((), tstp))
            })
            .boxed();
        }
    }
    futures_util::stream::pending().boxed()
}

/// Puts the terminal back, stops the process (the shell shows its prompt), and takes the
/// terminal again when continued (`fg`, SIGCONT).
fn suspend() {
    leave_terminal();
    #[cfg(unix)]
    // SAFETY: raise only sends a signal; SIGSTOP cannot be caught, so the process stops here.
    unsafe {
        libc::raise(libc::SIGSTOP);
    }
    let _ = take_terminal_back();
}

/// Resolves when the process is asked to stop: SIGTERM, SIGHUP (the terminal went away), or
/// SIGINT / SIGQUIT sent from outside (in raw mode ^C is a key, not a signal). The handlers are
/// in place when this returns, before the future is first polled: call it before taking the
/// terminal, so no signal in between takes the default way out and leaves the terminal raw.
fn termination() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut signals: Vec<_> = {
        use tokio::signal::unix::{SignalKind, signal};
        let kinds = [
            SignalKind::terminate(),
            SignalKind::hangup(),
            SignalKind::interrupt(),
            SignalKind::quit(),
        ];
        kinds.into_iter().filter_map(|kind| signal(kind).ok()).collect()
    };
    async move {
        #[cfg(unix)]
        if !signals.is_empty() {
            let any = signals.iter_mut().map(|s| Box::pin(s.recv()));
            futures_util::future::select_all(any).await;
            return;
        }
        std::future::pending::<()>().await
    }
}

/// Raw mode, alternate screen, mouse and paste; a panic puts the terminal back before the
/// message prints.
fn enter_terminal() -> anyhow::Result<ratatui::DefaultTerminal> {
    // ratatui's hook restores raw mode and the screen; ours first turns the mouse off.
    let terminal = ratatui::try_init().map_err(|e| anyhow::anyhow!("mailcx needs a terminal: {e}"))?;
    let restore = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        mouse_and_paste_off();
        restore(info);
    }));
    let mut out = io::stdout();
    out.write_all(MOUSE_ON)?;
    execute!(out, EnableBracketedPaste)?;
    Ok(terminal)
}

fn leave_terminal() {
    mouse_and_paste_off();
    ratatui::restore();
}

fn mouse_and_paste_off() {
    let mut out = io::stdout();
    let _ = out.write_all(MOUSE_OFF);
    let _ = execute!(out, DisableBracketedPaste);
}

/// Writes a bell or notification sequence to the terminal.
fn write_to_terminal(sequence: &str) {
    let mut out = io::stdout();
    let _ = out.write_all(sequence.as_bytes());
    let _ = out.flush();
}

/// Puts `text` on the clipboard with OSC 52, which the terminal handles (also over SSH).
fn copy_to_clipboard(text: &str) {
    let mut out = io::stdout();
    let _ = out.write_all(osc52(text).as_bytes());
    let _ = out.flush();
}

/// The OSC 52 sequence that puts `text` on the clipboard: what the app writes to the terminal,
/// public so tests can check the exact payload.
pub fn osc52(text: &str) -> String {
    use crossterm::Command;
    let mut sequence = String::new();
    // Writing into a String cannot fail.
    let _ = crossterm::clipboard::CopyToClipboard::to_clipboard_from(text).write_ansi(&mut sequence);
    sequence
}
