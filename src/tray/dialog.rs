//! Dialogs: a pure model (a form of fields, validated, re-opened with the message until the
//! input is valid or the person cancels) behind a trait, so the logic is tested without a
//! display, and a thin GTK3 view through the `gtk` crate tao already links. Confirmations are
//! GTK message dialogs too: native-dialog shells out to zenity or kdialog on Linux, which a
//! desktop need not have. macOS (osascript) and Windows views can implement the same trait.
//!
//! What is typed may be a secret (keys, an MFA code, a SAML assertion), so every value the
//! model holds is `Zeroizing`: wiped when dropped, from the view's answer to the parser that
//! turns it into a `SecretString` or a validated field.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
#[cfg(any(target_os = "linux", test))]
use std::sync::atomic::Ordering;

use zeroize::Zeroizing;

/// One entry of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub label: String,
    /// The pre-filled (or, on a retry, typed) value; never a secret's.
    pub value: Zeroizing<String>,
    /// A secret: typed into a masked entry that starts empty and can't be copied.
    pub masked: bool,
    /// Values to pick from (an editable combo box); empty for a plain entry.
    pub choices: Vec<String>,
    /// Shown, not editable (a derived session's own fields).
    pub read_only: bool,
    /// Why the value typed was refused, shown beside it.
    pub error: Option<String>,
    /// Grey text in the empty entry ("leave empty to keep the stored key").
    pub hint: Option<String>,
}

impl Entry {
    pub fn text(label: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            value: Zeroizing::new(value.into()),
            masked: false,
            choices: Vec::new(),
            read_only: false,
            error: None,
            hint: None,
        }
    }

    pub fn secret(label: impl Into<String>) -> Self {
        Self {
            masked: true,
            ..Self::text(label, "")
        }
    }

    pub fn hint(self, hint: impl Into<String>) -> Self {
        Self {
            hint: Some(hint.into()),
            ..self
        }
    }

    pub fn read_only(self) -> Self {
        Self {
            read_only: true,
            ..self
        }
    }

    /// A value picked from `choices` (or typed: the combo box is editable).
    pub fn choice(
        label: impl Into<String>,
        value: impl Into<String>,
        choices: Vec<String>,
    ) -> Self {
        Self {
            choices,
            ..Self::text(label, value)
        }
    }
}

/// A small form: a title that names the session, fields, and the last validation message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub title: String,
    pub fields: Vec<Entry>,
    pub error: Option<String>,
}

impl Form {
    pub fn new(title: impl Into<String>, fields: Vec<Entry>) -> Self {
        Self {
            title: title.into(),
            fields,
            error: None,
        }
    }
}

/// Why a form's values were refused: beside their fields (by index), and for the whole form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusal {
    pub fields: Vec<(usize, String)>,
    pub form: Option<String>,
}

impl Refusal {
    pub fn form(message: impl Into<String>) -> Self {
        Self {
            fields: Vec::new(),
            form: Some(message.into()),
        }
    }
}

/// Checks a form's values (`Err`: the reasons, the form stays open).
pub type Check<'a> = &'a dyn Fn(&[Zeroizing<String>]) -> Result<(), Refusal>;
/// Starts a dry run of a form's values; its one-line result arrives on the receiver.
pub type Trial<'a> =
    &'a dyn Fn(&[Zeroizing<String>]) -> Result<std::sync::mpsc::Receiver<String>, Refusal>;

/// What *Find session…* lists for a query: each session's id and its line.
pub type Search = std::rc::Rc<dyn Fn(&str) -> Vec<(credtray::session::SessionId, String)>>;

/// What the person chose in *Find session…* (a GTK window: Linux only, until issue 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub enum Found {
    /// Enter (or a double click): start the session, or stop it.
    StartStop,
    /// The secondary button: its Edit session… form.
    Edit,
}

/// Where dialogs are shown.
pub trait Dialogs {
    /// The values entered, in field order, or `None` when cancelled.
    fn form(&self, form: &Form) -> Option<Vec<Zeroizing<String>>>;
    /// A form with Test, Save and Cancel: Test runs `test` on the values typed and shows its
    /// result in the form, which stays open; Save returns the values once `check` accepts
    /// them (else the reasons are shown beside their fields); `None` when cancelled.
    fn edit_form(
        &self,
        form: &Form,
        check: Check<'_>,
        test: Trial<'_>,
    ) -> Option<Vec<Zeroizing<String>>>;
    fn confirm(&self, title: &str, message: &str) -> bool;
    /// Asks whether to do what `details` lists (selectable text, to copy), with `accept` on
    /// the default button and "Not now" beside it.
    fn choose(&self, title: &str, heading: &str, details: &str, accept: &str) -> bool;
    /// *Find session…*: a search entry over a list that `search` fills as the person types;
    /// arrows move the selection, Enter starts or stops it, Escape closes.
    fn find(&self, search: Search) -> Option<(credtray::session::SessionId, Found)>;
    /// Shows `message` with a Cancel button until `finished` is set (then it closes by itself:
    /// `true`) or the person cancels (`false`).
    fn wait(&self, title: &str, message: &str, finished: Arc<AtomicBool>) -> bool;
}

/// Shows `form` until `parse` accepts its values or the person cancels; each refusal re-opens
/// the form with the message and the values typed so far (secrets excepted: they are asked
/// for again rather than kept in a widget).
pub fn ask<T>(
    dialogs: &dyn Dialogs,
    mut form: Form,
    parse: impl Fn(&[Zeroizing<String>]) -> Result<T, String>,
) -> Option<T> {
    loop {
        let values = dialogs.form(&form)?;
        match parse(&values) {
            Ok(value) => return Some(value),
            Err(message) => {
                for (field, value) in form.fields.iter_mut().zip(values) {
                    field.value = if field.masked {
                        Zeroizing::default()
                    } else {
                        value
                    };
                }
                form.error = Some(message);
            }
        }
    }
}

/// Answers every open dialog with Cancel (Quit while one waits for the person).
#[cfg(target_os = "linux")]
pub fn cancel_open_dialogs() {
    use gtk::prelude::*;
    for window in gtk::Window::list_toplevels() {
        if let Ok(dialog) = window.downcast::<gtk::Dialog>()
            && dialog.is_visible()
        {
            tracing::info!("Quit cancels an open dialog");
            dialog.response(gtk::ResponseType::Cancel);
        }
    }
}

/// Native boxes can't be answered from outside: Quit waits for them.
#[cfg(not(target_os = "linux"))]
pub fn cancel_open_dialogs() {}

/// GTK3 dialogs, on the GTK main thread (the tray's).
#[cfg(target_os = "linux")]
pub struct Gtk;

/// How many sessions *Find session…* lists at once (the count says how many match).
#[cfg(target_os = "linux")]
const FIND_ROWS: usize = 200;

/// The dialogs of this system: GTK on Linux, native boxes elsewhere.
#[cfg(target_os = "linux")]
pub use self::Gtk as Platform;
#[cfg(not(target_os = "linux"))]
pub use crate::native_dialog::Native as Platform;

/// The GTK pieces the forms share.
#[cfg(target_os = "linux")]
mod gtk_view {
    use gtk::prelude::*;

    use super::Entry;

    /// A modal dialog that stays above the tray's other windows, with these buttons; the `Ok`
    /// one is the default (Enter).
    pub fn dialog(title: &str, buttons: &[(&str, gtk::ResponseType)]) -> gtk::Dialog {
        let dialog = gtk::Dialog::with_buttons(
            Some(title),
            None::<&gtk::Window>,
            gtk::DialogFlags::MODAL,
            buttons,
        );
        dialog.set_default_response(gtk::ResponseType::Ok);
        dialog.set_keep_above(true);
        dialog.set_position(gtk::WindowPosition::Center);
        dialog.set_border_width(6);
        dialog
    }

    pub fn grid() -> gtk::Grid {
        let grid = gtk::Grid::new();
        grid.set_row_spacing(6);
        grid.set_column_spacing(12);
        grid.set_border_width(12);
        grid
    }

    /// One field on `row`: its label, and an entry (in an editable combo box with type-ahead
    /// when it has choices); masked for a secret, greyed when read-only. Its entry.
    pub fn field(grid: &gtk::Grid, row: i32, field: &Entry) -> gtk::Entry {
        let label = gtk::Label::new(Some(&field.label));
        label.set_xalign(0.0);
        grid.attach(&label, 0, row, 1, 1);
        let entry = if field.choices.is_empty() || field.read_only {
            let entry = gtk::Entry::new();
            grid.attach(&entry, 1, row, 1, 1);
            entry
        } else {
            let combo = gtk::ComboBoxText::with_entry();
            let store = gtk::ListStore::new(&[gtk::glib::Type::STRING]);
            for choice in &field.choices {
                combo.append_text(choice);
                store.set(&store.append(), &[(0, choice)]);
            }
            grid.attach(&combo, 1, row, 1, 1);
            let entry = combo
                .child()
                .and_then(|c| c.downcast::<gtk::Entry>().ok())
                .unwrap_or_default();
            let completion = gtk::EntryCompletion::new();
            completion.set_model(Some(&store));
            completion.set_text_column(0);
            completion.set_minimum_key_length(1);
            entry.set_completion(Some(&completion));
            entry
        };
        entry.set_text(&field.value);
        entry.set_width_chars(52);
        entry.set_activates_default(true);
        if field.masked {
            // An invisible entry refuses to copy its text (GTK), so a key never reaches the
            // clipboard from here.
            entry.set_visibility(false);
            entry.set_input_purpose(gtk::InputPurpose::Password);
        }
        entry.set_placeholder_text(field.hint.as_deref());
        if field.read_only {
            // Greyed: shown, not editable, out of the Tab order.
            entry.set_sensitive(false);
        }
        entry
    }

    /// A wrapping message line.
    pub fn message() -> gtk::Label {
        let label = gtk::Label::new(None);
        label.set_xalign(0.0);
        label.set_line_wrap(true);
        label.set_max_width_chars(60);
        label
    }

    /// Shows `text` in red on `label`, or hides it.
    pub fn red(label: &gtk::Label, text: Option<&str>) {
        match text {
            Some(text) => {
                label.set_markup(&format!(
                    "<span foreground='#b00020'>{}</span>",
                    gtk::glib::markup_escape_text(text)
                ));
                label.show();
            }
            None => label.hide(),
        }
    }
}

#[cfg(target_os = "linux")]
impl Dialogs for Gtk {
    fn form(&self, form: &Form) -> Option<Vec<Zeroizing<String>>> {
        use gtk::prelude::*;
        let dialog = gtk_view::dialog(
            &form.title,
            &[
                ("Cancel", gtk::ResponseType::Cancel),
                ("OK", gtk::ResponseType::Ok),
            ],
        );
        let grid = gtk_view::grid();
        let mut row = 0;
        if let Some(error) = &form.error {
            let label = gtk_view::message();
            gtk_view::red(&label, Some(error));
            grid.attach(&label, 0, row, 2, 1);
            row += 1;
        }
        let entries: Vec<gtk::Entry> = form
            .fields
            .iter()
            .map(|field| {
                let entry = gtk_view::field(&grid, row, field);
                row += 1;
                entry
            })
            .collect();
        dialog.content_area().add(&grid);
        dialog.show_all();
        let response = dialog.run();
        // Our copy of each value is wiped; GTK's are out of our hands: the entry's buffer and
        // the `GString` that `text()` returns are freed by GLib without being wiped.
        let values = entries
            .iter()
            .map(|e| Zeroizing::new(e.text().to_string()))
            .collect();
        dialog.close();
        (response == gtk::ResponseType::Ok).then_some(values)
    }

    fn edit_form(
        &self,
        form: &Form,
        check: Check<'_>,
        test: Trial<'_>,
    ) -> Option<Vec<Zeroizing<String>>> {
        use gtk::prelude::*;
        const TEST: gtk::ResponseType = gtk::ResponseType::Other(1);
        let dialog = gtk_view::dialog(
            &form.title,
            &[
                ("_Cancel", gtk::ResponseType::Cancel),
                ("_Test credential generation", TEST),
                ("_Save", gtk::ResponseType::Ok),
            ],
        );
        let grid = gtk_view::grid();
        let mut row = 0;
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        for field in &form.fields {
            entries.push(gtk_view::field(&grid, row, field));
            let error = gtk_view::message();
            error.set_no_show_all(true);
            grid.attach(&error, 1, row + 1, 1, 1);
            errors.push(error);
            row += 2;
        }
        let result = gtk::Label::new(None);
        result.set_xalign(0.0);
        result.set_line_wrap(true);
        result.set_max_width_chars(70);
        result.set_selectable(true);
        grid.attach(&result, 0, row, 2, 1);
        dialog.content_area().add(&grid);
        dialog.show_all();
        // Focus starts in the first field that can change, and Tab follows the fields.
        if let Some((entry, _)) = entries
            .iter()
            .zip(&form.fields)
            .find(|(_, field)| !field.read_only)
        {
            entry.grab_focus();
        }
        let show = |refusal: &Refusal| {
            for (i, label) in errors.iter().enumerate() {
                let message = refusal.fields.iter().find(|(at, _)| *at == i);
                gtk_view::red(label, message.map(|(_, m)| m.as_str()));
            }
            gtk_view::red(&result, refusal.form.as_deref());
        };
        loop {
            let response = dialog.run();
            // Our copies are wiped; GTK's own buffers are out of our hands.
            let values: Vec<Zeroizing<String>> = entries
                .iter()
                .map(|e| Zeroizing::new(e.text().to_string()))
                .collect();
            match response {
                gtk::ResponseType::Ok => match check(&values) {
                    Ok(()) => {
                        dialog.close();
                        return Some(values);
                    }
                    Err(refusal) => show(&refusal),
                },
                TEST => match test(&values) {
                    Ok(answer) => {
                        show(&Refusal::default());
                        result.set_text("Testing credential generation…");
                        result.show();
                        let shown = result.clone();
                        gtk::glib::timeout_add_local(
                            std::time::Duration::from_millis(100),
                            move || match answer.try_recv() {
                                Ok(text) => {
                                    shown.set_text(&text);
                                    gtk::glib::ControlFlow::Break
                                }
                                Err(std::sync::mpsc::TryRecvError::Empty) => {
                                    gtk::glib::ControlFlow::Continue
                                }
                                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                                    gtk::glib::ControlFlow::Break
                                }
                            },
                        );
                    }
                    Err(refusal) => show(&refusal),
                },
                _ => {
                    dialog.close();
                    return None;
                }
            }
        }
    }

    fn confirm(&self, title: &str, message: &str) -> bool {
        use gtk::prelude::*;
        let dialog = gtk::MessageDialog::new(
            None::<&gtk::Window>,
            gtk::DialogFlags::MODAL,
            gtk::MessageType::Question,
            gtk::ButtonsType::YesNo,
            message,
        );
        dialog.set_title(title);
        dialog.set_keep_above(true);
        let response = dialog.run();
        dialog.close();
        response == gtk::ResponseType::Yes
    }

    fn choose(&self, title: &str, heading: &str, details: &str, accept: &str) -> bool {
        use gtk::prelude::*;
        let dialog = gtk::MessageDialog::new(
            None::<&gtk::Window>,
            gtk::DialogFlags::MODAL,
            gtk::MessageType::Question,
            gtk::ButtonsType::None,
            heading,
        );
        dialog.set_title(title);
        dialog.set_secondary_text(Some(details));
        dialog.add_button("_Not now", gtk::ResponseType::No);
        dialog.add_button(accept, gtk::ResponseType::Yes);
        dialog.set_default_response(gtk::ResponseType::Yes);
        if let Ok(area) = dialog.message_area().downcast::<gtk::Container>() {
            for label in area.children() {
                if let Ok(label) = label.downcast::<gtk::Label>() {
                    label.set_selectable(true);
                }
            }
        }
        dialog.set_keep_above(true);
        let response = dialog.run();
        dialog.close();
        response == gtk::ResponseType::Yes
    }

    fn find(&self, search: Search) -> Option<(credtray::session::SessionId, Found)> {
        use gtk::prelude::*;
        use std::cell::RefCell;
        use std::rc::Rc;
        const EDIT: gtk::ResponseType = gtk::ResponseType::Other(1);
        let dialog = gtk_view::dialog(
            "credtray — Find session",
            &[
                ("_Cancel", gtk::ResponseType::Cancel),
                ("_Edit session…", EDIT),
                ("_Start / Stop", gtk::ResponseType::Ok),
            ],
        );
        dialog.set_default_size(560, 420);
        let entry = gtk::SearchEntry::new();
        entry.set_placeholder_text(Some("alias, account, role, profile or region"));
        let list = gtk::ListBox::new();
        list.set_selection_mode(gtk::SelectionMode::Browse);
        let scrolled = gtk::ScrolledWindow::new(None::<&gtk::Adjustment>, None::<&gtk::Adjustment>);
        scrolled.set_vexpand(true);
        scrolled.add(&list);
        let count = gtk_view::message();
        let area = dialog.content_area();
        area.set_spacing(6);
        area.pack_start(&entry, false, false, 0);
        area.pack_start(&scrolled, true, true, 0);
        area.pack_start(&count, false, false, 0);
        // The ids of the rows shown, in order.
        let shown: Rc<RefCell<Vec<credtray::session::SessionId>>> = Rc::default();
        let fill = {
            let (list, shown, count) = (list.clone(), shown.clone(), count.clone());
            move |query: &str| {
                for row in list.children() {
                    list.remove(&row);
                }
                let found = search(query);
                let total = found.len();
                let mut ids = shown.borrow_mut();
                ids.clear();
                for (id, line) in found.into_iter().take(FIND_ROWS) {
                    let label = gtk::Label::new(Some(&line));
                    label.set_xalign(0.0);
                    list.add(&label);
                    ids.push(id);
                }
                count.set_text(&match total {
                    0 => "No session matches".to_owned(),
                    n if n > FIND_ROWS => {
                        format!("{n} sessions match; the first {FIND_ROWS} are shown")
                    }
                    1 => "1 session".to_owned(),
                    n => format!("{n} sessions"),
                });
                list.show_all();
                if let Some(first) = list.row_at_index(0) {
                    list.select_row(Some(&first));
                }
            }
        };
        fill("");
        // Arrows move the selection while the typing stays in the entry.
        let moves = list.clone();
        entry.connect_key_press_event(move |_, key| {
            let step = match key.keyval() {
                gtk::gdk::keys::constants::Down => 1,
                gtk::gdk::keys::constants::Up => -1,
                _ => return gtk::glib::Propagation::Proceed,
            };
            let at = moves.selected_row().map_or(-1, |r| r.index());
            if let Some(row) = moves.row_at_index((at + step).max(0)) {
                moves.select_row(Some(&row));
                row.grab_focus();
            }
            gtk::glib::Propagation::Stop
        });
        let typed = std::cell::RefCell::new(fill);
        entry.connect_search_changed(move |e| (typed.borrow())(e.text().as_str()));
        let enter = dialog.clone();
        entry.connect_activate(move |_| enter.response(gtk::ResponseType::Ok));
        let activated = dialog.clone();
        list.connect_row_activated(move |_, _| activated.response(gtk::ResponseType::Ok));
        dialog.show_all();
        entry.grab_focus();
        let response = dialog.run();
        let chosen = list
            .selected_row()
            .and_then(|row| shown.borrow().get(row.index() as usize).copied());
        dialog.close();
        let found = match response {
            gtk::ResponseType::Ok => Found::StartStop,
            EDIT => Found::Edit,
            _ => return None,
        };
        chosen.map(|id| (id, found))
    }

    fn wait(&self, title: &str, message: &str, finished: Arc<AtomicBool>) -> bool {
        use gtk::prelude::*;
        let dialog = gtk::MessageDialog::new(
            None::<&gtk::Window>,
            gtk::DialogFlags::MODAL,
            gtk::MessageType::Info,
            gtk::ButtonsType::Cancel,
            message,
        );
        dialog.set_title(title);
        dialog.set_keep_above(true);
        let watched = dialog.clone();
        gtk::glib::timeout_add_local(std::time::Duration::from_millis(200), move || {
            if finished.load(Ordering::SeqCst) {
                watched.response(gtk::ResponseType::Accept);
                gtk::glib::ControlFlow::Break
            } else {
                gtk::glib::ControlFlow::Continue
            }
        });
        let response = dialog.run();
        dialog.close();
        response == gtk::ResponseType::Accept
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// Answers forms from a script and records what it was shown.
    struct Scripted {
        answers: RefCell<Vec<Option<Vec<&'static str>>>>,
        shown: RefCell<Vec<Form>>,
    }

    impl Dialogs for Scripted {
        fn form(&self, form: &Form) -> Option<Vec<Zeroizing<String>>> {
            self.shown.borrow_mut().push(form.clone());
            self.answers.borrow_mut().remove(0).map(|v| {
                v.into_iter()
                    .map(|s| Zeroizing::new(s.to_owned()))
                    .collect()
            })
        }
        fn edit_form(
            &self,
            form: &Form,
            check: Check<'_>,
            _: Trial<'_>,
        ) -> Option<Vec<Zeroizing<String>>> {
            let values = self.form(form)?;
            check(&values).ok().map(|()| values)
        }
        fn confirm(&self, _: &str, _: &str) -> bool {
            true
        }
        fn choose(&self, _: &str, _: &str, _: &str, _: &str) -> bool {
            true
        }
        fn find(&self, _: Search) -> Option<(credtray::session::SessionId, Found)> {
            None
        }
        fn wait(&self, _: &str, _: &str, finished: Arc<AtomicBool>) -> bool {
            finished.load(Ordering::SeqCst)
        }
    }

    fn scripted(answers: Vec<Option<Vec<&'static str>>>) -> Scripted {
        Scripted {
            answers: RefCell::new(answers),
            shown: RefCell::new(Vec::new()),
        }
    }

    fn role_arn(values: &[Zeroizing<String>]) -> Result<credtray::session::RoleArn, String> {
        values[0]
            .parse()
            .map_err(|e: credtray::session::ValidationError| e.to_string())
    }

    #[test]
    fn invalid_input_reopens_the_form_with_the_message_and_the_typed_value() {
        let d = scripted(vec![
            Some(vec!["arn:aws:iam::1:role/x"]),
            Some(vec!["arn:aws:iam::123456789012:role/x"]),
        ]);
        let form = Form::new(
            "Edit \"dev\"",
            vec![Entry::text(
                "Role ARN",
                "arn:aws:iam::123456789012:role/old",
            )],
        );
        let got = ask(&d, form, role_arn).unwrap();
        assert_eq!(got.as_str(), "arn:aws:iam::123456789012:role/x");
        let shown = d.shown.borrow();
        assert_eq!(
            shown[0].fields[0].value.as_str(),
            "arn:aws:iam::123456789012:role/old",
            "pre-filled with the current value"
        );
        assert_eq!(shown[0].error, None);
        assert_eq!(
            shown[1].fields[0].value.as_str(),
            "arn:aws:iam::1:role/x",
            "re-opened with what was typed"
        );
        assert!(
            shown[1]
                .error
                .as_deref()
                .unwrap()
                .contains("invalid role ARN")
        );
    }

    #[test]
    fn cancelling_gives_nothing() {
        let d = scripted(vec![Some(vec!["bad"]), None]);
        assert!(
            ask(
                &d,
                Form::new("t", vec![Entry::text("Role ARN", "")]),
                role_arn
            )
            .is_none()
        );
    }

    #[test]
    fn secrets_start_empty_and_are_not_kept_across_retries() {
        let d = scripted(vec![Some(vec!["not a key"]), None]);
        let form = Form::new("t", vec![Entry::secret("Access key ID")]);
        assert_eq!(form.fields[0].value.as_str(), "");
        let parse = |v: &[Zeroizing<String>]| {
            credtray::session::AccessKeyId::parse(&secrecy::SecretString::from(v[0].as_str()))
                .map_err(|e| e.to_string())
        };
        assert!(ask(&d, form, parse).is_none());
        let shown = d.shown.borrow();
        assert_eq!(
            shown[1].fields[0].value.as_str(),
            "",
            "the refused secret is not put back into the entry"
        );
        assert!(shown[1].fields[0].masked);
        assert!(
            !shown[1].error.as_deref().unwrap().contains("not a key"),
            "the message does not echo it"
        );
    }
}
