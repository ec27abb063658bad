//! `Harness`: drives the app from tests and benches the way a person would (key presses, clicks)
//! on an in-memory 80×24 screen, and waits on conditions with deadlines.

use std::path::Path;
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::action::{Action, Reply};
use crate::app::{App, ServerInfo, Settings};

/// An app on a test screen with its answer channel.
pub struct Harness {
    /// The app under test.
    pub app: App,
    actions: UnboundedReceiver<Action>,
    terminal: Terminal<TestBackend>,
}

impl Harness {
    /// An app with these settings on an 80×24 screen. Not started: call [`App::start`] (through
    /// `harness.app`) to load the domains and check the saved mailboxes.
    pub fn new(settings: Settings) -> Harness {
        let (tx, actions) = unbounded_channel();
        Harness::from_prepared(App::new(settings, tx), actions)
    }

    /// A harness around an app made elsewhere (e.g. by [`crate::launch::prepare`]) and the
    /// channel its background tasks answer on.
    pub fn from_prepared(app: App, actions: UnboundedReceiver<Action>) -> Harness {
        let terminal = Terminal::new(TestBackend::new(80, 24)).expect("a test terminal always builds");
        Harness {
            app,
            actions,
            terminal,
        }
    }

    /// An app for the server at `url`, saving its list in `config_dir` and files in `downloads`.
    pub fn remote(url: &str, config_dir: &Path, downloads: &Path) -> Harness {
        Harness::new(Settings {
            server: ServerInfo::Remote { url: url.into() },
            client: crate::launch::remote_client(url),
            config_dir: config_dir.into(),
            downloads: downloads.into(),
        })
    }

    /// The app and its answer channel back, e.g. to run them in [`crate::run::run_loop`].
    pub fn into_parts(self) -> (App, UnboundedReceiver<Action>) {
        (self.app, self.actions)
    }

    /// Resizes the screen.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.terminal.backend_mut().resize(width, height);
    }

    /// Presses a key.
    pub fn key(&mut self, code: KeyCode) {
        self.app
            .handle_event(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    /// Presses Ctrl + `c`.
    pub fn ctrl(&mut self, c: char) {
        self.app
            .handle_event(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)));
    }

    /// Types text, one key per character.
    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Clicks the left button at a cell.
    pub fn click(&mut self, column: u16, row: u16) {
        self.mouse(MouseEventKind::Down(MouseButton::Left), column, row);
    }

    /// Turns the wheel down (`down`) or up at a cell.
    pub fn scroll(&mut self, down: bool, column: u16, row: u16) {
        let kind = if down {
            MouseEventKind::ScrollDown
        } else {
            MouseEventKind::ScrollUp
        };
        self.mouse(kind, column, row);
    }

    fn mouse(&mut self, kind: MouseEventKind, column: u16, row: u16) {
        self.app.handle_event(Event::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }));
    }

    /// Applies an action as if a screen had asked for it.
    pub fn send(&mut self, action: Action) {
        self.app.update(action);
    }

    /// Answers the oldest running request with `reply` (screen tests with made-up data).
    pub fn answer(&mut self, reply: Reply) {
        let task = self.app.status().oldest().unwrap_or(0);
        self.app.update(Action::Net { task, reply });
    }

    /// Applies every answer already waiting, without waiting for more; returns how many.
    pub fn pump(&mut self) -> usize {
        let mut n = 0;
        while let Ok(action) = self.actions.try_recv() {
            self.app.update(action);
            n += 1;
        }
        n
    }

    /// Draws a frame and returns the terminal (for snapshots of the styled buffer).
    pub fn draw(&mut self) -> &Terminal<TestBackend> {
        let app = &mut self.app;
        self.terminal
            .draw(|frame| app.render(frame))
            .expect("drawing to a test backend cannot fail");
        &self.terminal
    }

    /// Draws a frame and returns the screen as text, one line per row, trailing spaces trimmed.
    pub fn screen(&mut self) -> String {
        let buffer = self.draw().backend().buffer().clone();
        let width = buffer.area.width as usize;
        let mut out = String::new();
        for row in buffer.content.chunks(width) {
            let mut line = String::new();
            let mut skip = 0;
            for cell in row {
                if skip == 0 {
                    line.push_str(cell.symbol());
                }
                skip = skip
                    .max(unicode_width::UnicodeWidthStr::width(cell.symbol()))
                    .saturating_sub(1);
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// Applies answers as they come until `done` holds for the app and the screen's text, or
    /// `timeout` passes (then the error shows the last screen).
    pub async fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&App, &str) -> bool,
    ) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if done(&self.app, &screen) {
                return Ok(());
            }
            tokio::select! {
                action = self.actions.recv() => match action {
                    Some(action) => self.app.update(action),
                    None => return Err(format!("the app's channel closed while waiting for {what}")),
                },
                () = tokio::time::sleep_until(deadline) => {
                    return Err(format!("timed out after {timeout:?} waiting for {what}; the screen:\n{screen}"));
                }
            }
        }
    }

    /// Waits until `text` is on the screen.
    pub async fn wait_for_text(&mut self, text: &str, timeout: Duration) -> Result<(), String> {
        let what = format!("{text:?} on the screen");
        self.wait_for(&what, timeout, |_, screen| screen.contains(text))
            .await
    }

    /// Waits until no request is running.
    pub async fn settle(&mut self, timeout: Duration) -> Result<(), String> {
        self.wait_for("the requests to finish", timeout, |app, _| !app.is_busy())
            .await
    }
}
