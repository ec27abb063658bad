//! The title bar (app name and where you are) and the status bar (spinner while something
//! loads, the latest notice, and where the server is).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use crate::action::TaskId;
use crate::app::ServerInfo;
use crate::theme;

/// Spinner frames, one per tick while a request runs.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// How a notice is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Neutral news.
    Info,
    /// Something worked or arrived.
    Good,
    /// Something failed, but not badly enough for a popup.
    Bad,
}

/// The status bar's state: running requests and the latest notice.
#[derive(Debug, Default)]
pub struct Status {
    pending: Vec<(TaskId, &'static str)>,
    frame: usize,
    notice: Option<(String, Tone)>,
    /// How long requests still wait on the server's rate limit (shown as a countdown).
    rate_limited: Option<std::time::Duration>,
}

impl Status {
    /// Notes a request that started, with what it does ("Loading messages").
    pub fn start(&mut self, task: TaskId, label: &'static str) {
        self.pending.push((task, label));
    }

    /// Notes a request that answered.
    pub fn finish(&mut self, task: TaskId) {
        self.pending.retain(|(t, _)| *t != task);
    }

    /// The oldest running request, if any.
    pub fn oldest(&self) -> Option<TaskId> {
        self.pending.first().map(|(t, _)| *t)
    }

    /// Whether a request is running (then the spinner turns).
    pub fn busy(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Advances the spinner.
    pub fn tick(&mut self) {
        self.frame = (self.frame + 1) % SPINNER.len();
    }

    /// The current spinner frame.
    pub fn spinner(&self) -> &'static str {
        SPINNER[self.frame]
    }

    /// Shows a notice until the next key press.
    pub fn notice(&mut self, text: impl Into<String>, tone: Tone) {
        self.notice = Some((text.into(), tone));
    }

    /// Notes how long requests still wait because the server answered 429 (`None`: they don't).
    pub fn set_rate_limited(&mut self, left: Option<std::time::Duration>) {
        self.rate_limited = left;
    }

    /// Drops the notice (a key was pressed: it has been seen).
    pub fn clear_notice(&mut self) {
        self.notice = None;
    }

    /// Draws the status bar: activity and notice on the left, the server on the right. The
    /// server's SMTP address is never cut: when the room runs out the HTTP address goes first,
    /// then the `SMTP` word, and the notice is the part that gets cut.
    pub fn render(&self, frame: &mut Frame, area: Rect, server: &ServerInfo) {
        let mut spans = Vec::new();
        if let Some(left) = self.rate_limited {
            // Whole seconds, rounded up: "1s" until the gate opens, never "0s".
            let secs = crate::format::whole_seconds(left);
            spans.push(Span::styled(
                format!(" {} server busy, retrying in {secs}s", self.spinner()),
                theme::error(),
            ));
        } else if let Some((_, label)) = self.pending.last() {
            // With a notice to show, the spinner alone says something is running.
            let text = match self.notice {
                Some(_) => format!(" {}", self.spinner()),
                None => format!(" {} {label}…", self.spinner()),
            };
            spans.push(Span::styled(text, theme::dim()));
        }
        if let Some((text, tone)) = &self.notice {
            let style = match tone {
                Tone::Info => theme::title(),
                Tone::Good => theme::ok(),
                Tone::Bad => theme::error(),
            };
            spans.push(Span::styled(format!(" {text}"), style));
        }
        let left = Line::from(spans);
        let right = server_label(server, self.notice.is_some(), left.width(), area.width as usize);
        let [left_area, right_area] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(right.width() as u16)]).areas(area);
        frame.render_widget(left, left_area);
        frame.render_widget(Line::styled(right, theme::dim()), right_area);
    }
}

/// The server's part of the status bar for a bar `width` wide whose left part wants `left`
/// columns: the full label when it fits beside the left part and no notice needs the room, else
/// the short one (where to send mail), else the bare SMTP address. The address is never cut: the
/// left part is what gets cut.
fn server_label(server: &ServerInfo, notice: bool, left: usize, width: usize) -> String {
    let full = format!(" {} ", server.label());
    if !notice && left + full.width() <= width {
        return full;
    }
    let short = format!(" {} ", server.short_label());
    match server {
        ServerInfo::Embedded { smtp, .. } if short.width() > width => format!(" {smtp} "),
        _ => short,
    }
}

/// Draws the title bar: the app's name, then the trail of open screens.
pub fn render_title(frame: &mut Frame, area: Rect, trail: &[String]) {
    let mut spans = vec![Span::styled(" mailcx ", theme::key()), Span::raw(" ")];
    for (i, title) in trail.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" › ", theme::dim()));
        }
        let style = if i + 1 == trail.len() {
            theme::title()
        } else {
            theme::dim()
        };
        spans.push(Span::styled(title.clone(), style));
    }
    frame.render_widget(Line::from(spans), area);
}
