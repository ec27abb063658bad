//! The event loop: waits for a terminal event, a background answer, or (only while something on
//! screen moves: a spinner, a countdown) a tick, applies it, and redraws only when something
//! changed. Idle, it sleeps.

use std::io;
use std::time::Duration;

use crossterm::event::Event;
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType};
use ratatui::widgets::Clear;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::action::Action;
use crate::app::App;

/// How often the spinner turns while a request runs.
pub const SPINNER_TICK: Duration = Duration::from_millis(100);

/// Blanks the screen and ratatui's idea of it, so the next frame writes every cell (`^L`, back
/// from `^Z` or from a piped command). Not `Terminal::clear`, which first asks the terminal where its cursor is and
/// fails when the answer is slow to come.
pub fn repaint_all<B>(terminal: &mut Terminal<B>) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    terminal
        .backend_mut()
        .clear_region(ClearType::All)
        .map_err(anyhow::Error::new)?;
    terminal
        .draw(|frame| frame.render_widget(Clear, frame.area()))
        .map_err(anyhow::Error::new)?;
    Ok(())
}

/// What the loop did, for the idle benchmark.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LoopStats {
    /// Frames drawn.
    pub draws: u64,
    /// Times the loop woke up (an event, an answer or a tick).
    pub wakeups: u64,
}

/// Runs `app` until it quits or `events` ends. `copy` receives the texts to put on the clipboard
/// (the real terminal writes them as OSC 52). `stats` is updated as it goes, so a caller that
/// stops the loop from outside still sees the counts.
pub async fn run_loop<B, E>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    mut events: E,
    actions: &mut UnboundedReceiver<Action>,
    mut copy: impl FnMut(&str),
    stats: &mut LoopStats,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: Stream<Item = io::Result<Event>> + Unpin,
{
    let mut dirty = true;
    loop {
        // Also return when a command needs the terminal: the caller runs it and calls again.
        if app.should_quit() || app.wants_terminal() {
            return Ok(());
        }
        if dirty {
            if app.take_full_redraw() {
                repaint_all(terminal)?;
            }
            terminal
                .draw(|frame| app.render(frame))
                .map_err(anyhow::Error::new)?;
            stats.draws += 1;
            for text in app.take_clipboard() {
                copy(&text);
            }
        }
        let wake = app.next_wake();
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => dirty = app.handle_event(event),
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            Some(action) = actions.recv() => {
                app.update(action);
                // Answers often come in bursts (one per saved mailbox): one frame for all.
                while let Ok(action) = actions.try_recv() {
                    app.update(action);
                }
                dirty = true;
            }
            () = tokio::time::sleep(wake.unwrap_or(SPINNER_TICK)), if wake.is_some() => {
                app.tick();
                dirty = true;
            }
        }
        stats.wakeups += 1;
    }
}
