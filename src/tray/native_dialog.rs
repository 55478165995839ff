//! The dialogs of macOS and Windows, through `native-dialog` (NSAlert, MessageBox): the yes/no
//! questions and the waits. Forms (typed values) have no native box there yet: they say so
//! and point at the CLI, which asks the same questions in the terminal. Not built on Linux,
//! where `dialog::Gtk` shows every dialog.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use native_dialog::{DialogBuilder, MessageLevel};
use zeroize::Zeroizing;

use crate::dialog::{Check, Dialogs, Form, Found, Search, Trial};

/// NSAlert on macOS, MessageBox on Windows.
pub struct Native;

impl Native {
    fn alert(title: &str, text: &str) {
        let shown = DialogBuilder::message()
            .set_level(MessageLevel::Info)
            .set_title(title)
            .set_text(text)
            .alert()
            .show();
        if let Err(e) = shown {
            tracing::warn!(error = %e, %title, "could not show a dialog");
        }
    }

    fn ask(title: &str, text: &str) -> bool {
        let shown = std::time::Instant::now();
        let yes = DialogBuilder::message()
            .set_level(MessageLevel::Info)
            .set_title(title)
            .set_text(text)
            .confirm()
            .show()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, %title, "could not show a dialog");
                false
            });
        tracing::info!(%title, yes, after_ms = shown.elapsed().as_millis(), "a yes/no box was answered");
        yes
    }

    fn no_form(form: &Form) -> Option<Vec<Zeroizing<String>>> {
        Self::alert(
            &form.title,
            "This form is not available in the tray on this system yet: use the credtray command line (`credtray --help`), which asks the same in the terminal.",
        );
        None
    }
}

impl Dialogs for Native {
    fn form(&self, form: &Form) -> Option<Vec<Zeroizing<String>>> {
        Self::no_form(form)
    }

    fn edit_form(
        &self,
        form: &Form,
        _check: Check<'_>,
        _test: Trial<'_>,
    ) -> Option<Vec<Zeroizing<String>>> {
        Self::no_form(form)
    }

    fn confirm(&self, title: &str, message: &str) -> bool {
        Self::ask(title, message)
    }

    fn choose(&self, title: &str, heading: &str, details: &str, _accept: &str) -> bool {
        Self::ask(title, &format!("{heading}\n\n{details}"))
    }

    fn find(&self, _search: Search) -> Option<(credtray::session::SessionId, Found)> {
        Self::alert(
            "Find session",
            "Find session… is not available in the tray on this system yet: `credtray session list` lists every session.",
        );
        None
    }

    /// A native box can't close itself: it shows the message once, and the wait goes on
    /// unless the person says no.
    fn wait(&self, title: &str, message: &str, finished: Arc<AtomicBool>) -> bool {
        if finished.load(Ordering::SeqCst) {
            return true;
        }
        Self::ask(title, &format!("{message}\n\nKeep waiting?")) || finished.load(Ordering::SeqCst)
    }
}
