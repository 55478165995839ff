//! The one place that touches muda: builds the items of a menu model once, and on every new
//! model updates them in place (`set_text`, `set_enabled`, `set_checked`), rebuilding only the
//! nodes whose shape changed.
//!
//! Submenu labels are the exception: muda's `Submenu::set_text` does nothing on GTK (the label
//! lives in a `GtkBox` inside the menu item, and `gtk_menu_item_set_label` only updates a
//! `GtkLabel` child), so tray hosts kept showing old labels (the end-to-end test caught this).
//! On Linux the renderer relabels the GTK widget itself; elsewhere, or if that fails, the
//! submenu is rebuilt, which costs ~20 ms for a session's submenu at 2,000 sessions.

use tray_icon::menu::{
    CheckMenuItem, IsMenuItem, Menu, MenuId, MenuItem, PredefinedMenuItem, Submenu,
};

use super::menu::Node;

enum Handle {
    Item(MenuItem),
    Check(CheckMenuItem),
    Sub(Submenu),
    Separator(PredefinedMenuItem),
}

impl Handle {
    fn as_item(&self) -> &dyn IsMenuItem {
        match self {
            Handle::Item(i) => i,
            Handle::Check(i) => i,
            Handle::Sub(i) => i,
            Handle::Separator(i) => i,
        }
    }
}

/// A node as built: its muda handle and its children's.
struct Built {
    handle: Handle,
    children: Vec<Built>,
}

/// What an update did, for logs and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    pub updated: usize,
    pub rebuilt: usize,
}

impl std::ops::AddAssign for Changes {
    fn add_assign(&mut self, other: Self) {
        self.updated += other.updated;
        self.rebuilt += other.rebuilt;
    }
}

/// The root menu or a submenu: where items are inserted and removed.
enum Container<'a> {
    Root(&'a Menu),
    Sub(&'a Submenu),
}

impl Container<'_> {
    fn append(&self, item: &dyn IsMenuItem) {
        let result = match self {
            Container::Root(m) => m.append(item),
            Container::Sub(s) => s.append(item),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not add a menu item");
        }
    }

    fn insert(&self, item: &dyn IsMenuItem, at: usize) {
        let result = match self {
            Container::Root(m) => m.insert(item, at),
            Container::Sub(s) => s.insert(item, at),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not insert a menu item");
        }
    }

    fn remove(&self, item: &dyn IsMenuItem) {
        let _ = match self {
            Container::Root(m) => m.remove(item),
            Container::Sub(s) => s.remove(item),
        };
    }
}

pub struct Renderer {
    menu: Menu,
    model: Vec<Node>,
    built: Vec<Built>,
}

impl Renderer {
    pub fn new(model: Vec<Node>) -> Self {
        let menu = Menu::new();
        let built: Vec<Built> = model.iter().map(build).collect();
        for b in &built {
            Container::Root(&menu).append(b.handle.as_item());
        }
        Self { menu, model, built }
    }

    pub fn menu(&self) -> &Menu {
        &self.menu
    }

    /// muda toggles a check item when it is clicked; this puts the radio item `key` back as
    /// the model has it (the engine's answer, if the choice is applied, comes as a new model),
    /// wherever it is shown (a session may be on the top level and in *All sessions ▸*).
    pub fn restore(&self, key: &str) {
        fn walk(built: &[Built], model: &[Node], key: &str) {
            for (b, n) in built.iter().zip(model) {
                match (&b.handle, n) {
                    (Handle::Check(item), Node::Choice { checked, .. }) if n.key() == key => {
                        item.set_checked(*checked);
                    }
                    (Handle::Sub(_), Node::Submenu { children, .. }) => {
                        walk(&b.children, children, key);
                    }
                    _ => {}
                }
            }
        }
        walk(&self.built, &self.model, key);
    }

    /// Brings the muda menu in line with `model`.
    pub fn update(&mut self, model: Vec<Node>) -> Changes {
        #[cfg(target_os = "linux")]
        let gtk_root = {
            use tray_icon::menu::ContextMenu;
            self.menu.gtk_context_menu()
        };
        let at = Path {
            indices: Vec::new(),
            #[cfg(target_os = "linux")]
            gtk_root: &gtk_root,
        };
        let changes = sync(
            &Container::Root(&self.menu),
            &mut self.built,
            &self.model,
            &model,
            &at,
        );
        self.model = model;
        changes
    }
}

/// Where a container is: its indices from the root, and the GTK menu tray-icon shows.
struct Path<'a> {
    indices: Vec<usize>,
    #[cfg(target_os = "linux")]
    gtk_root: &'a gtk::Menu,
}

impl Path<'_> {
    fn child(&self, i: usize) -> Self {
        let mut indices = self.indices.clone();
        indices.push(i);
        Path {
            indices,
            #[cfg(target_os = "linux")]
            gtk_root: self.gtk_root,
        }
    }

    /// Sets the label of the submenu item at this path in the GTK menu; false if not found.
    #[cfg(target_os = "linux")]
    fn relabel(&self, text: &str) -> bool {
        use gtk::prelude::*;
        fn label_in(widget: gtk::Widget) -> Option<gtk::Label> {
            match widget.downcast::<gtk::Label>() {
                Ok(label) => Some(label),
                Err(widget) => widget
                    .downcast::<gtk::Container>()
                    .ok()?
                    .children()
                    .into_iter()
                    .find_map(label_in),
            }
        }
        let Some((&last, parents)) = self.indices.split_last() else {
            return false;
        };
        let mut menu = self.gtk_root.clone();
        for &i in parents {
            let Some(sub) = menu
                .children()
                .get(i)
                .and_then(|w| w.clone().downcast::<gtk::MenuItem>().ok())
                .and_then(|item| item.submenu())
                .and_then(|w| w.downcast::<gtk::Menu>().ok())
            else {
                return false;
            };
            menu = sub;
        }
        let Some(item) = menu.children().get(last).cloned() else {
            return false;
        };
        match label_in(item) {
            Some(label) => {
                // The label was made with use-underline, as muda makes it.
                label.set_label(&text.replace('_', "__"));
                true
            }
            None => false,
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn relabel(&self, _text: &str) -> bool {
        false
    }
}

/// muda reads `&` as a mnemonic marker; labels (aliases) may contain a literal one.
fn muda_text(label: &str) -> String {
    label.replace('&', "&&")
}

/// Makes the items of one container match `new`, given they were built from `old`.
fn sync(
    container: &Container<'_>,
    built: &mut Vec<Built>,
    old: &[Node],
    new: &[Node],
    at: &Path<'_>,
) -> Changes {
    let mut changes = Changes::default();
    let same_keys = old.len() == new.len() && old.iter().zip(new).all(|(a, b)| a.key() == b.key());
    if !same_keys {
        for b in built.iter() {
            container.remove(b.handle.as_item());
        }
        *built = new.iter().map(build).collect();
        for b in built.iter() {
            container.append(b.handle.as_item());
        }
        changes.rebuilt += new.len();
        return changes;
    }
    for (i, (o, n)) in old.iter().zip(new).enumerate() {
        if o == n {
            continue;
        }
        match (&built[i].handle, o, n) {
            (Handle::Item(item), Node::Item { .. }, Node::Item { label, enabled, .. }) => {
                item.set_text(muda_text(label));
                item.set_enabled(*enabled);
                changes.updated += 1;
            }
            (Handle::Check(item), Node::Choice { .. }, Node::Choice { label, checked, .. }) => {
                item.set_text(muda_text(label));
                item.set_checked(*checked);
                changes.updated += 1;
            }
            (
                Handle::Sub(sub),
                Node::Submenu {
                    label: l0,
                    enabled: e0,
                    children: k0,
                    ..
                },
                Node::Submenu {
                    label: l1,
                    enabled: e1,
                    children: k1,
                    ..
                },
            ) if e0 == e1 && (l0 == l1 || at.child(i).relabel(l1)) => {
                let sub = sub.clone();
                if l0 != l1 {
                    // Keeps muda's own record of the text right (for GTK menus it makes later).
                    sub.set_text(muda_text(l1));
                    changes.updated += 1;
                }
                changes += sync(
                    &Container::Sub(&sub),
                    &mut built[i].children,
                    k0,
                    k1,
                    &at.child(i),
                );
            }
            _ => {
                let started = std::time::Instant::now();
                container.remove(built[i].handle.as_item());
                let removed = started.elapsed();
                built[i] = build(n);
                container.insert(built[i].handle.as_item(), i);
                tracing::debug!(key = %n.key(), removed_us = removed.as_micros() as u64, total_us = started.elapsed().as_micros() as u64, "rebuilt a menu node");
                changes.rebuilt += 1;
            }
        }
    }
    changes
}

fn build(node: &Node) -> Built {
    match node {
        Node::Item {
            action,
            label,
            enabled,
        } => Built {
            handle: Handle::Item(MenuItem::with_id(
                MenuId::new(action.to_string()),
                muda_text(label),
                *enabled,
                None,
            )),
            children: Vec::new(),
        },
        Node::Choice {
            action,
            label,
            checked,
        } => Built {
            handle: Handle::Check(CheckMenuItem::with_id(
                MenuId::new(action.to_string()),
                muda_text(label),
                true,
                *checked,
                None,
            )),
            children: Vec::new(),
        },
        Node::Submenu {
            key,
            label,
            enabled,
            children,
        } => {
            let sub = Submenu::with_id(
                MenuId::new(format!("menu:{key}")),
                muda_text(label),
                *enabled,
            );
            let built: Vec<Built> = children.iter().map(build).collect();
            for b in &built {
                Container::Sub(&sub).append(b.handle.as_item());
            }
            Built {
                handle: Handle::Sub(sub),
                children: built,
            }
        }
        Node::Separator => Built {
            handle: Handle::Separator(PredefinedMenuItem::separator()),
            children: Vec::new(),
        },
    }
}
