//! The tray menu as data: a pure function from the catalog (sessions, their states, profiles,
//! regions) and what the tray knows beyond it (Start at login, the syncs running) to a tree of
//! nodes. Nothing here touches a toolkit, so it is tested without a display; `render` turns the
//! tree into muda items.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::action::MenuAction;
use credtray::engine::{SyncPhase, SyncProgress};
use credtray::session::Field;
use credtray::session::{
    Catalog, Integration, IntegrationId, Kind, Login, Publish, Session, SessionId, State, Value,
};

/// Past this many sessions the top level is short: the sessions that matter now (running,
/// pinned, recent), *Find session…* and *All sessions ▸*.
pub const GROUP_ABOVE: usize = 25;
/// The short top level's entries, at most, whatever the catalog's size (separators included).
pub const TOP_LEVEL_MAX: usize = 30;
/// Of each kind of session on the short top level (running, pinned, recent), at most this
/// many; the rest of the running and pinned ones go in a *More … ▸* submenu.
pub const TOP_EACH: usize = 10;
/// The short top level's entries after its sessions: a separator, Find session…, All
/// sessions ▸, a separator, Add session ▸, Integrations ▸, Stop all, Network…, Start at
/// login, Quit.
const TOP_FIXED: usize = 10;
/// No submenu holds more than this many sessions.
pub const MAX_PER_SUBMENU: usize = 50;
/// How many assumer candidates the radio list shows before "Other session…".
const MAX_ASSUMERS: usize = 25;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Item {
        action: MenuAction,
        label: String,
        enabled: bool,
    },
    /// A radio choice (a check item, checked when current).
    Choice {
        action: MenuAction,
        label: String,
        checked: bool,
    },
    Submenu {
        /// Stable across rebuilds, e.g. `session:<id>` or `edit:<id>`.
        key: String,
        label: String,
        enabled: bool,
        children: Vec<Node>,
        /// Its items are made only when it is about to be shown (the renderer's business):
        /// *All sessions ▸* and *More … ▸* hold thousands that nobody opens at once.
        lazy: bool,
    },
    Separator,
}

impl Node {
    fn item(action: MenuAction, label: impl Into<String>) -> Self {
        Node::Item {
            action,
            label: label.into(),
            enabled: true,
        }
    }

    fn disabled(key: impl Into<String>, label: impl Into<String>) -> Self {
        Node::Item {
            action: MenuAction::Info(key.into()),
            label: label.into(),
            enabled: false,
        }
    }

    fn submenu(key: impl Into<String>, label: impl Into<String>, children: Vec<Node>) -> Self {
        Node::Submenu {
            key: key.into(),
            label: label.into(),
            enabled: true,
            children,
            lazy: false,
        }
    }

    /// A submenu whose items are made when it is about to show.
    fn lazy(key: impl Into<String>, label: impl Into<String>, children: Vec<Node>) -> Self {
        Node::Submenu {
            key: key.into(),
            label: label.into(),
            enabled: true,
            children,
            lazy: true,
        }
    }

    /// The node's identity in the tree: its action or submenu key.
    pub fn key(&self) -> String {
        match self {
            Node::Item { action, .. } | Node::Choice { action, .. } => action.to_string(),
            Node::Submenu { key, .. } => format!("menu:{key}"),
            Node::Separator => "separator".to_owned(),
        }
    }
}

/// `● prod-admin — default · eu-west-1`
pub fn session_label(s: &Session) -> String {
    format!(
        "{} {} — {} · {}",
        s.state.mark(),
        s.alias,
        s.profile,
        s.region
    )
}

/// The syncs the engine is running, with how far each has got.
pub type Syncing = HashMap<IntegrationId, SyncProgress>;

/// The whole menu.
pub fn build(catalog: &Catalog, start_at_login: bool, syncing: &Syncing) -> Vec<Node> {
    let mut sessions: Vec<&Session> = catalog.sessions().iter().collect();
    sessions.sort_by_cached_key(|s| s.alias.folded());
    let add = Node::submenu(
        "add",
        "Add session",
        vec![
            Node::item(MenuAction::Add(Kind::IamUser), "IAM user…"),
            Node::item(MenuAction::Add(Kind::IamRoleChained), "IAM role chained…"),
            Node::item(
                MenuAction::Add(Kind::IamRoleFederated),
                "IAM role federated…",
            ),
        ],
    );
    let mut nodes: Vec<Node> = if sessions.is_empty() {
        // First run: adding comes first.
        vec![
            add,
            Node::item(MenuAction::Import, "Import ~/.aws profiles…"),
            Node::disabled(
                "no-sessions",
                "No sessions yet: add one, or import the profiles ~/.aws holds",
            ),
        ]
    } else {
        let mut nodes: Vec<Node> = if sessions.len() > GROUP_ABOVE {
            let mut nodes = short_top(catalog, &sessions);
            nodes.push(Node::Separator);
            nodes.push(Node::item(MenuAction::Find, "Find session…"));
            nodes.push(Node::lazy(
                "all",
                format!("All sessions ({})", sessions.len()),
                all_sessions(catalog, &sessions),
            ));
            nodes
        } else {
            sessions.iter().map(|s| session_menu(catalog, s)).collect()
        };
        nodes.push(Node::Separator);
        nodes.push(add);
        nodes
    };
    nodes.push(integrations_menu(catalog, syncing));
    let any_running = catalog
        .sessions()
        .iter()
        .any(|s| s.state != State::Inactive);
    nodes.push(Node::Item {
        action: MenuAction::StopAll,
        label: "Stop all sessions".to_owned(),
        enabled: any_running,
    });
    // With the other settings of the whole app, not of a session.
    nodes.push(Node::item(MenuAction::Network, "Network…"));
    nodes.push(Node::Choice {
        action: MenuAction::StartAtLogin,
        label: "Start at login".to_owned(),
        checked: start_at_login,
    });
    nodes.push(Node::item(MenuAction::Quit, "Quit"));
    nodes
}

/// The short top level's sessions: the running ones (first [`TOP_EACH`], then *More active ▸*),
/// the pinned ones (likewise, *More pinned ▸*), then the most recently started, as many as
/// the budget of [`TOP_LEVEL_MAX`] entries leaves. `sessions` is in alphabetical order.
fn short_top(catalog: &Catalog, sessions: &[&Session]) -> Vec<Node> {
    let mut top = Top {
        catalog,
        nodes: Vec::new(),
        slots: TOP_LEVEL_MAX - TOP_FIXED,
        shown: HashSet::new(),
    };
    let running: Vec<&Session> = sessions
        .iter()
        .copied()
        .filter(|s| s.state.is_running())
        .collect();
    top.section(&running, "more-active", "More active");
    let pinned: Vec<&Session> = sessions
        .iter()
        .copied()
        .filter(|s| s.pinned && !top.shown.contains(&s.id))
        .collect();
    top.section(&pinned, "more-pinned", "More pinned");
    let mut recent: Vec<&Session> = sessions
        .iter()
        .copied()
        .filter(|s| s.last_used.is_some() && !top.shown.contains(&s.id))
        .collect();
    recent.sort_by_key(|s| std::cmp::Reverse(s.last_used));
    recent.truncate(TOP_EACH.min(top.slots));
    top.nodes
        .extend(recent.iter().map(|s| session_menu(catalog, s)));
    top.nodes
}

/// The short top level as it fills up.
struct Top<'a> {
    catalog: &'a Catalog,
    nodes: Vec<Node>,
    /// Entries left for sessions.
    slots: usize,
    /// Sessions already on the top level or in one of its *More* submenus.
    shown: HashSet<SessionId>,
}

impl Top<'_> {
    /// `list` on the top level, as much as fits; the rest in a *More* submenu.
    fn section(&mut self, list: &[&Session], key: &str, label: &str) {
        if list.is_empty() || self.slots == 0 {
            return;
        }
        let room = TOP_EACH.min(self.slots);
        let (here, rest) = if list.len() > room {
            list.split_at(room - 1)
        } else {
            (list, &[][..])
        };
        for s in here {
            self.nodes.push(session_menu(self.catalog, s));
        }
        self.slots -= here.len();
        if !rest.is_empty() {
            let children = rest.iter().map(|s| compact_menu(self.catalog, s)).collect();
            self.nodes.push(Node::lazy(
                key,
                format!("{label} ({})", rest.len()),
                paged(key, children),
            ));
            self.slots -= 1;
        }
        self.shown.extend(list.iter().map(|s| s.id));
    }
}

/// *All sessions ▸*: sessions from an integration under it, by account; the others by named
/// profile. Each session has the compact submenu ([`compact_menu`]); no submenu holds more
/// than [`MAX_PER_SUBMENU`] entries (longer lists are cut alphabetically into ranges, nested
/// as deep as they need).
fn all_sessions(catalog: &Catalog, sessions: &[&Session]) -> Vec<Node> {
    let mut groups = Vec::new();
    for integration in catalog.integrations() {
        let mut accounts: BTreeMap<String, Vec<&Session>> = BTreeMap::new();
        for s in sessions
            .iter()
            .filter(|s| s.kind.integration() == Some(integration.id))
        {
            accounts.entry(account_of(s)).or_default().push(s);
        }
        if accounts.is_empty() {
            continue;
        }
        let count: usize = accounts.values().map(Vec::len).sum();
        let key = format!("all-integration:{}", integration.id);
        let children = accounts
            .into_iter()
            .map(|(account, members)| {
                let key = format!("{key}:{account}");
                let children = members.iter().map(|s| compact_menu(catalog, s)).collect();
                Node::lazy(
                    key.clone(),
                    format!("{account} ({})", members.len()),
                    paged(&key, children),
                )
            })
            .collect();
        groups.push(Node::lazy(
            key.clone(),
            format!("{} ({count})", integration.alias),
            paged(&key, children),
        ));
    }
    let mut profiles: BTreeMap<&str, Vec<&Session>> = BTreeMap::new();
    for s in sessions.iter().filter(|s| s.kind.integration().is_none()) {
        profiles.entry(s.profile.as_str()).or_default().push(s);
    }
    for (profile, members) in profiles {
        // No state in a group's label: a state change then touches one session's submenu,
        // not the group's.
        let key = format!("group:{profile}");
        let children = members.iter().map(|s| compact_menu(catalog, s)).collect();
        groups.push(Node::lazy(
            key.clone(),
            format!(
                "{profile} ({} session{})",
                members.len(),
                if members.len() == 1 { "" } else { "s" }
            ),
            paged(&key, children),
        ));
    }
    paged("all", groups)
}

/// A derived session's account as its alias names it (`<account name>/<role>`), else its id.
fn account_of(s: &Session) -> String {
    match s.alias.as_str().rsplit_once('/') {
        Some((account, _)) => account.to_owned(),
        None => match &s.kind {
            credtray::session::SessionKind::AwsSsoRole { account_id, .. } => account_id.to_string(),
            _ => s.alias.to_string(),
        },
    }
}

/// `nodes` as they are when there are at most [`MAX_PER_SUBMENU`]; else cut into submenus of
/// that many, labelled by their first and last entries, nested further while needed.
fn paged(key: &str, nodes: Vec<Node>) -> Vec<Node> {
    if nodes.len() <= MAX_PER_SUBMENU {
        return nodes;
    }
    let mut pages = Vec::new();
    let mut nodes = nodes.into_iter().peekable();
    let mut i = 0;
    while nodes.peek().is_some() {
        let chunk: Vec<Node> = nodes.by_ref().take(MAX_PER_SUBMENU).collect();
        let name = |n: Option<&Node>| n.map(|n| initial(&entry_name(n))).unwrap_or_default();
        let label = format!("{} – {}", name(chunk.first()), name(chunk.last()));
        pages.push(Node::lazy(format!("{key}:page:{i}"), label, chunk));
        i += 1;
    }
    paged(&format!("{key}:pages"), pages)
}

/// What a range of entries is called by: a session's alias, a group's name.
fn entry_name(node: &Node) -> String {
    let label = match node {
        Node::Item { label, .. } | Node::Choice { label, .. } | Node::Submenu { label, .. } => {
            label.as_str()
        }
        Node::Separator => "",
    };
    // A session's label starts with its state mark: `● alias — profile · region`.
    let label = label
        .strip_prefix(|c: char| "●○◌⚠✕".contains(c))
        .map_or(label, str::trim_start);
    label
        .split(" — ")
        .next()
        .unwrap_or(label)
        .split(" (")
        .next()
        .unwrap_or(label)
        .to_owned()
}

fn initial(alias: &str) -> String {
    alias.chars().take(12).collect()
}

/// Integrations ▸: per integration its login state, how its sync is getting on if one runs,
/// and what can be done with it (not Sync now while it syncs), then *Add AWS SSO integration…*.
fn integrations_menu(catalog: &Catalog, syncing: &Syncing) -> Node {
    let mut children: Vec<Node> = catalog
        .integrations()
        .iter()
        .map(|i| {
            let id = i.id;
            let logged_in = matches!(i.login, Login::LoggedIn { .. });
            let sessions = catalog.derived_from(id).count();
            let state = if logged_in { "logged in" } else { "logged out" };
            let progress = syncing.get(&id);
            let mut items = vec![Node::disabled(
                format!("integration-info:{id}"),
                format!("{} · {sessions} sessions", i.start_url),
            )];
            if let Some(progress) = progress {
                items.push(Node::disabled(
                    format!("syncing:{id}"),
                    sync_line(i, progress),
                ));
            }
            items.push(if logged_in {
                Node::item(MenuAction::Logout(id), "Log out")
            } else {
                Node::item(MenuAction::Login(id), "Log in…")
            });
            items.push(Node::Item {
                action: MenuAction::Sync(id),
                label: "Sync now".to_owned(),
                enabled: logged_in && progress.is_none(),
            });
            items.push(Node::item(MenuAction::EditIntegration(id), "Edit…"));
            items.push(Node::item(MenuAction::DeleteIntegration(id), "Delete…"));
            Node::submenu(
                format!("integration:{id}"),
                format!("{} — {state}", i.alias),
                items,
            )
        })
        .collect();
    if !children.is_empty() {
        children.push(Node::Separator);
    }
    children.push(Node::item(
        MenuAction::AddIntegration,
        "Add AWS SSO integration…",
    ));
    Node::submenu("integrations", "Integrations", children)
}

/// How a sync of `integration` is getting on: `Syncing corp… 120 / 500` (accounts whose roles
/// are listed, of all), `Syncing corp… listing accounts (40)` before the total is known.
fn sync_line(integration: &Integration, p: &SyncProgress) -> String {
    let alias = &integration.alias;
    match (&p.phase, p.total) {
        (SyncPhase::Waiting(holder), _) => format!("Waiting for the sync of {holder}…"),
        (SyncPhase::Applying, _) => format!("Syncing {alias}… updating the sessions"),
        (SyncPhase::Accounts, _) | (SyncPhase::Roles, None) => {
            format!("Syncing {alias}… listing accounts ({})", p.accounts)
        }
        (SyncPhase::Roles, Some(total)) => format!("Syncing {alias}… {} / {total}", p.accounts),
    }
}

/// Start/Stop (as the state allows), and the last error if any: the head of both submenus.
fn start_stop(s: &Session) -> Vec<Node> {
    let id = s.id;
    let (label, enabled) = match s.state {
        State::Active => ("Stop", true),
        State::Pending => ("Starting…", false),
        // Delete… finishes the job; nothing else applies any more.
        State::Deleting => ("Being deleted…", false),
        State::Inactive | State::Error(_) => ("Start", true),
    };
    let mut nodes = vec![Node::Item {
        action: MenuAction::StartStop(id),
        label: label.to_owned(),
        enabled,
    }];
    if let State::Error(message) = &s.state {
        let short: String = message.chars().take(90).collect();
        nodes.push(Node::disabled(
            format!("error:{id}"),
            format!("Last error: {short}"),
        ));
    }
    nodes
}

fn pin(s: &Session) -> Node {
    if s.pinned {
        Node::item(MenuAction::Pin(s.id, false), "Unpin")
    } else {
        Node::item(MenuAction::Pin(s.id, true), "Pin to the top")
    }
}

/// The label of a session's submenu: a derived session also names its integration.
pub fn label_of(catalog: &Catalog, s: &Session) -> String {
    match s.kind.integration().and_then(|i| catalog.integration(i)) {
        Some(integration) => format!("{} · {}", session_label(s), integration.alias),
        None => session_label(s),
    }
}

/// A session's submenu inside *All sessions ▸* and *More … ▸*: what is done from a long list
/// (Start/Stop, Edit session…, Test credential generation, Create chained session…, Open web
/// console, Duplicate session…, Pin, Delete…), without the quick changes, Publish as ▸ and
/// Forget IdP login… of the short top level: thousands of sessions cost a third of the items.
fn compact_menu(catalog: &Catalog, s: &Session) -> Node {
    let id = s.id;
    let mut children = start_stop(s);
    children.push(Node::item(MenuAction::EditSession(id), "Edit session…"));
    children.push(Node::item(
        MenuAction::Test(id),
        "Test credential generation",
    ));
    children.push(Node::item(MenuAction::Chain(id), "Create chained session…"));
    children.push(Node::item(MenuAction::Console(id), "Open web console"));
    if !s.kind.tag().is_integration_derived() {
        children.push(Node::item(MenuAction::Duplicate(id), "Duplicate session…"));
    }
    children.push(pin(s));
    children.push(Node::item(MenuAction::Delete(id), "Delete…"));
    Node::lazy(format!("session:{id}"), label_of(catalog, s), children)
}

/// One session's submenu: Start/Stop, Edit session…, Edit ▸ (quick changes), Publish as ▸, Test credential generation,
/// Open web console, Forget IdP login… (federated sessions), Create chained session…,
/// Duplicate session… (not for a session from an integration), Pin, Delete….
fn session_menu(catalog: &Catalog, s: &Session) -> Node {
    let id = s.id;
    let mut children = start_stop(s);
    children.push(Node::item(MenuAction::EditSession(id), "Edit session…"));
    if s.kind.tag().is_integration_derived() {
        children.push(Node::Submenu {
            lazy: false,
            key: format!("edit:{id}"),
            label: "Edit (comes from an integration; can't be edited)".to_owned(),
            enabled: false,
            children: Vec::new(),
        });
        // Quick change stays possible for integration-derived sessions.
        children.push(profile_menu(catalog, s));
        children.push(region_menu(catalog, s));
    } else {
        children.push(Node::submenu(
            format!("edit:{id}"),
            "Edit",
            edit_menu(catalog, s),
        ));
    }
    children.push(publish_menu(s));
    children.push(Node::item(
        MenuAction::Test(id),
        "Test credential generation",
    ));
    children.push(Node::item(MenuAction::Console(id), "Open web console"));
    if s.kind.tag() == Kind::IamRoleFederated {
        children.push(Node::item(MenuAction::ForgetLogin(id), "Forget IdP login…"));
    }
    children.push(Node::item(MenuAction::Chain(id), "Create chained session…"));
    if !s.kind.tag().is_integration_derived() {
        children.push(Node::item(MenuAction::Duplicate(id), "Duplicate session…"));
    }
    children.push(pin(s));
    children.push(Node::item(MenuAction::Delete(id), "Delete…"));
    Node::submenu(format!("session:{id}"), label_of(catalog, s), children)
}

/// Publish as ▸ File / Process: two radio items, whatever the catalog's size (a choice of two
/// costs less than the dialog that would replace it).
fn publish_menu(s: &Session) -> Node {
    let children = Publish::ALL
        .into_iter()
        .map(|p| Node::Choice {
            action: MenuAction::SetPublish(s.id, p),
            label: p.label().to_owned(),
            checked: p == s.publish,
        })
        .collect();
    Node::submenu(
        format!("publish:{}", s.id),
        format!("Publish as: {}", s.publish),
        children,
    )
}

/// Whether choices are radio lists in the menu. Past [`GROUP_ABOVE`] sessions they become
/// dialogs with a combo box instead: a profile and a region list inside every session's Edit ▸
/// would multiply the menu's size (and the tray's memory, and the cost of every update) by the
/// number of profiles and regions.
fn inline_choices(catalog: &Catalog) -> bool {
    catalog.sessions().len() <= GROUP_ABOVE
}

fn text(id: SessionId, param: Field, value: &str) -> Node {
    let shown = if param.is_secret() {
        "••••"
    } else {
        value
    };
    Node::item(
        MenuAction::Edit(id, param),
        format!("{}: {shown}…", param.label()),
    )
}

/// Edit ▸: every parameter of the session's type with its current value (secrets as ••••).
fn edit_menu(catalog: &Catalog, s: &Session) -> Vec<Node> {
    let id = s.id;
    let mut nodes = vec![
        text(id, Field::Alias, s.alias.as_str()),
        profile_menu(catalog, s),
        region_menu(catalog, s),
    ];
    for &field in s.kind.tag().fields() {
        nodes.push(match s.kind.get(field) {
            Some(Value::Assumer(assumer)) => assumer_menu(catalog, s, assumer),
            Some(value) => text(
                id,
                field,
                &value.text().unwrap_or_else(|| field.unset().to_owned()),
            ),
            // A secret: shown as ••••.
            None => text(id, field, ""),
        });
    }
    nodes
}

fn profile_menu(catalog: &Catalog, s: &Session) -> Node {
    if !inline_choices(catalog) {
        return text(s.id, Field::Profile, s.profile.as_str());
    }
    let mut children: Vec<Node> = catalog
        .profiles()
        .iter()
        .map(|p| Node::Choice {
            action: MenuAction::SetProfile(s.id, p.to_string()),
            label: p.to_string(),
            checked: *p == s.profile,
        })
        .collect();
    children.push(Node::Separator);
    children.push(Node::item(
        MenuAction::NewProfile(s.id),
        "New named profile…",
    ));
    Node::submenu(
        format!("profile:{}", s.id),
        format!("Named profile: {}", s.profile),
        children,
    )
}

/// The regions in use (any session's, the default) as radio choices, then "Other region…"
/// for the rest of the partition list: a 48-entry radio list per session would make the menu
/// of a large catalog enormous and hard to scan.
fn region_menu(catalog: &Catalog, s: &Session) -> Node {
    if !inline_choices(catalog) {
        return text(s.id, Field::Region, s.region.as_str());
    }
    let mut regions: BTreeSet<String> = catalog
        .sessions()
        .iter()
        .map(|x| x.region.to_string())
        .collect();
    regions.insert(catalog.settings.default_region.to_string());
    let mut children: Vec<Node> = regions
        .into_iter()
        .map(|r| Node::Choice {
            checked: r == s.region.as_str(),
            label: credtray::aws::region(&r)
                .map_or_else(|| r.clone(), |k| format!("{r} — {}", k.description)),
            action: MenuAction::SetRegion(s.id, r),
        })
        .collect();
    children.push(Node::Separator);
    children.push(Node::item(
        MenuAction::Edit(s.id, Field::Region),
        "Other region…",
    ));
    Node::submenu(
        format!("region:{}", s.id),
        format!("AWS region: {}", s.region),
        children,
    )
}

/// Sessions that may assume for `s`: not itself, not one chained (at any depth) from it.
fn assumer_menu(catalog: &Catalog, s: &Session, current: SessionId) -> Node {
    if !inline_choices(catalog) {
        let name = catalog
            .get(current)
            .map_or_else(String::new, |a| a.alias.to_string());
        return text(s.id, Field::Assumer, &name);
    }
    let mut candidates: Vec<&Session> = catalog
        .sessions()
        .iter()
        .filter(|c| c.id != s.id && !descends_from(catalog, c, s.id))
        .collect();
    candidates.sort_by_cached_key(|c| (c.id != current, c.alias.folded()));
    let mut children: Vec<Node> = candidates
        .iter()
        .take(MAX_ASSUMERS)
        .map(|c| Node::Choice {
            action: MenuAction::SetAssumer(s.id, c.id),
            label: c.alias.to_string(),
            checked: c.id == current,
        })
        .collect();
    if candidates.len() > MAX_ASSUMERS {
        children.push(Node::Separator);
        children.push(Node::item(
            MenuAction::Edit(s.id, Field::Assumer),
            "Other session…",
        ));
    }
    let name = catalog
        .get(current)
        .map_or_else(|| "?".to_owned(), |a| a.alias.to_string());
    Node::submenu(
        format!("assumer:{}", s.id),
        format!("Assumer session: {name}"),
        children,
    )
}

fn descends_from(catalog: &Catalog, candidate: &Session, ancestor: SessionId) -> bool {
    let mut at = candidate.kind.assumer();
    for _ in 0..catalog.sessions().len() {
        match at {
            Some(id) if id == ancestor => return true,
            Some(id) => at = catalog.get(id).and_then(|p| p.kind.assumer()),
            None => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests;
