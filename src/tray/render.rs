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
    /// A lazy submenu not opened yet: it holds only this placeholder (hosts show a submenu only
    /// for an item with children), and `children` is empty until [`Renderer::realize`].
    placeholder: Option<MenuItem>,
    /// Its GTK item is connected to realize it when it is about to show (Linux only).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    hooked: bool,
}

impl Built {
    fn leaf(handle: Handle) -> Self {
        Built {
            handle,
            children: Vec::new(),
            placeholder: None,
            hooked: false,
        }
    }
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

    /// Makes the items of the lazy submenu at `keys` (node keys from the top level), which
    /// are not made yet, from the current model; false if there is no such submenu or it was
    /// made already. (GTK asks for it; elsewhere menus are made whole.)
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub fn realize(&mut self, keys: &[String]) -> bool {
        fn walk<'a>(
            built: &'a mut [Built],
            model: &'a [Node],
            keys: &[String],
        ) -> Option<(&'a mut Built, &'a Node)> {
            let (first, rest) = keys.split_first()?;
            let i = model.iter().position(|n| &n.key() == first)?;
            if rest.is_empty() {
                return Some((built.get_mut(i)?, &model[i]));
            }
            let Node::Submenu { children, .. } = &model[i] else {
                return None;
            };
            walk(&mut built.get_mut(i)?.children, children, rest)
        }
        let Some((b, Node::Submenu { children, .. })) = walk(&mut self.built, &self.model, keys)
        else {
            return false;
        };
        let (Some(placeholder), Handle::Sub(sub)) = (b.placeholder.take(), &b.handle) else {
            return false;
        };
        let started = std::time::Instant::now();
        b.children = children.iter().map(build).collect();
        for c in &b.children {
            Container::Sub(sub).append(c.handle.as_item());
        }
        Container::Sub(sub).remove(&placeholder);
        tracing::debug!(key = ?keys.last(), items = children.len(), elapsed_us = started.elapsed().as_micros() as u64, "made the items of a submenu about to show");
        true
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
            #[cfg(not(target_os = "linux"))]
            gtk_root: std::marker::PhantomData,
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
    /// Elsewhere there is no GTK menu to relabel.
    #[cfg(not(target_os = "linux"))]
    gtk_root: std::marker::PhantomData<&'a ()>,
}

impl Path<'_> {
    fn child(&self, i: usize) -> Self {
        let mut indices = self.indices.clone();
        indices.push(i);
        Path {
            indices,
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
    let aligned;
    let old: &[Node] = if same_keys {
        old
    } else {
        // Entries came or went (a session started moves to the top level): keep every built
        // entry whose key is still there, in order, remove the others and build only the new
        // ones, so the rest of the menu (All sessions ▸ and its thousands of items) is untouched.
        let (kept, count) = align(container, built, old, new);
        changes.rebuilt += count;
        aligned = kept;
        &aligned
    };
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
                // Not made yet: its items will come from the model of the day it opens.
                if built[i].placeholder.is_some() {
                    continue;
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

/// Rearranges `built` (made from `old`) to match the keys of `new`: walking `new`, an entry whose
/// key comes next among the old ones keeps its built item (the old entries skipped on the way
/// are removed), any other is built and inserted in its place; old entries left at the end go.
/// Returns the old node of each new entry (the new node itself for one just built, which then
/// needs no update) and how many entries were built.
fn align(
    container: &Container<'_>,
    built: &mut Vec<Built>,
    old: &[Node],
    new: &[Node],
) -> (Vec<Node>, usize) {
    let mut pending: std::collections::VecDeque<(Node, Built)> =
        old.iter().cloned().zip(built.drain(..)).collect();
    let mut olds = Vec::with_capacity(new.len());
    let mut count = 0;
    for (i, n) in new.iter().enumerate() {
        let key = n.key();
        match pending.iter().position(|(o, _)| o.key() == key) {
            Some(j) => {
                for (_, gone) in pending.drain(..j) {
                    container.remove(gone.handle.as_item());
                }
                if let Some((o, b)) = pending.pop_front() {
                    olds.push(o);
                    built.push(b);
                }
            }
            None => {
                let b = build(n);
                container.insert(b.handle.as_item(), i);
                built.push(b);
                olds.push(n.clone());
                count += 1;
            }
        }
    }
    for (_, gone) in pending {
        container.remove(gone.handle.as_item());
    }
    (olds, count)
}

fn build(node: &Node) -> Built {
    match node {
        Node::Item {
            action,
            label,
            enabled,
        } => Built::leaf(Handle::Item(MenuItem::with_id(
            MenuId::new(action.to_string()),
            muda_text(label),
            *enabled,
            None,
        ))),
        Node::Choice {
            action,
            label,
            checked,
        } => Built::leaf(Handle::Check(CheckMenuItem::with_id(
            MenuId::new(action.to_string()),
            muda_text(label),
            true,
            *checked,
            None,
        ))),
        Node::Submenu {
            key,
            label,
            enabled,
            children,
            lazy,
        } => {
            let sub = Submenu::with_id(
                MenuId::new(format!("menu:{key}")),
                muda_text(label),
                *enabled,
            );
            // Only GTK tells when a submenu is about to show (see `hook`); elsewhere every item
            // is made now.
            if *lazy && cfg!(target_os = "linux") {
                let placeholder =
                    MenuItem::with_id(MenuId::new(format!("info:lazy:{key}")), "…", false, None);
                Container::Sub(&sub).append(&placeholder);
                return Built {
                    handle: Handle::Sub(sub),
                    children: Vec::new(),
                    placeholder: Some(placeholder),
                    hooked: false,
                };
            }
            let built: Vec<Built> = children.iter().map(build).collect();
            for b in &built {
                Container::Sub(&sub).append(b.handle.as_item());
            }
            Built {
                handle: Handle::Sub(sub),
                children: built,
                placeholder: None,
                hooked: false,
            }
        }
        Node::Separator => Built::leaf(Handle::Separator(PredefinedMenuItem::separator())),
    }
}

/// Connects every lazy submenu not made yet to its GTK item's `activate`, which libdbusmenu-gtk
/// emits when a tray host sends `AboutToShow` for it (and GTK when a person opens it): the
/// handler makes its items then, and hooks the lazy submenus among them. Call it once the
/// menu is attached and after every update. Walks only the submenus made so far.
#[cfg(target_os = "linux")]
pub fn hook(this: &std::rc::Rc<std::cell::RefCell<Renderer>>) {
    use tray_icon::menu::ContextMenu;
    let Ok(mut renderer) = this.try_borrow_mut() else {
        return;
    };
    let root = renderer.menu.gtk_context_menu();
    let weak = std::rc::Rc::downgrade(this);
    let renderer = &mut *renderer;
    hook_level(
        &root,
        &mut renderer.built,
        &renderer.model,
        &mut Vec::new(),
        &weak,
    );
}

#[cfg(not(target_os = "linux"))]
pub fn hook(_this: &std::rc::Rc<std::cell::RefCell<Renderer>>) {}

#[cfg(target_os = "linux")]
fn hook_level(
    menu: &gtk::Menu,
    built: &mut [Built],
    model: &[Node],
    keys: &mut Vec<String>,
    weak: &std::rc::Weak<std::cell::RefCell<Renderer>>,
) {
    use gtk::prelude::*;
    let items = menu.children();
    for (i, (b, n)) in built.iter_mut().zip(model).enumerate() {
        let Node::Submenu { children, .. } = n else {
            continue;
        };
        let Some(item) = items
            .get(i)
            .and_then(|w| w.clone().downcast::<gtk::MenuItem>().ok())
        else {
            continue;
        };
        keys.push(n.key());
        if b.placeholder.is_some() {
            if !b.hooked {
                let (weak, path) = (weak.clone(), keys.clone());
                item.connect_activate(move |_| about_to_show(&weak, &path));
                b.hooked = true;
            }
        } else if let Some(sub) = item.submenu().and_then(|w| w.downcast::<gtk::Menu>().ok()) {
            hook_level(&sub, &mut b.children, children, keys, weak);
        }
        keys.pop();
    }
}

/// A lazy submenu's GTK item was activated: make its items, then hook the lazy ones among them.
#[cfg(target_os = "linux")]
fn about_to_show(weak: &std::rc::Weak<std::cell::RefCell<Renderer>>, path: &[String]) {
    let Some(this) = weak.upgrade() else {
        return;
    };
    let made = match this.try_borrow_mut() {
        Ok(mut renderer) => renderer.realize(path),
        // The menu is being updated right now (a nested main loop): the next open makes it.
        Err(_) => false,
    };
    if made {
        hook(&this);
    }
}
