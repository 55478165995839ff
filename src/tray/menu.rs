//! The tray menu as data: a pure function from the catalog (sessions, their states, profiles,
//! regions) to a tree of nodes. Nothing here touches a toolkit, so it is tested without a
//! display; `render` turns the tree into muda items.

use std::collections::BTreeSet;

use super::action::MenuAction;
use credtray::session::Field;
use credtray::session::{Catalog, Kind, Login, Publish, Session, SessionId, State, Value};

/// Past this many sessions the top level groups them by named profile.
pub const GROUP_ABOVE: usize = 25;
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

/// The whole menu.
pub fn build(catalog: &Catalog, start_at_login: bool) -> Vec<Node> {
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
            grouped(catalog, &sessions)
        } else {
            sessions.iter().map(|s| session_menu(catalog, s)).collect()
        };
        nodes.push(Node::Separator);
        nodes.push(add);
        nodes
    };
    nodes.push(integrations_menu(catalog));
    let any_running = catalog
        .sessions()
        .iter()
        .any(|s| s.state != State::Inactive);
    nodes.push(Node::Item {
        action: MenuAction::StopAll,
        label: "Stop all sessions".to_owned(),
        enabled: any_running,
    });
    nodes.push(Node::Choice {
        action: MenuAction::StartAtLogin,
        label: "Start at login".to_owned(),
        checked: start_at_login,
    });
    nodes.push(Node::item(MenuAction::Quit, "Quit"));
    nodes
}

/// Sessions grouped by named profile, then cut alphabetically so no submenu holds more than
/// [`MAX_PER_SUBMENU`].
fn grouped(catalog: &Catalog, sessions: &[&Session]) -> Vec<Node> {
    let profiles: BTreeSet<&str> = sessions.iter().map(|s| s.profile.as_str()).collect();
    let mut nodes = Vec::new();
    for profile in profiles {
        let members: Vec<&&Session> = sessions
            .iter()
            .filter(|s| s.profile.as_str() == profile)
            .collect();
        let chunks: Vec<&[&&Session]> = members.chunks(MAX_PER_SUBMENU).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            // No state in a group's label: a state change then touches one session's submenu,
            // not the group's (which holds up to 50 of them).
            let mut label = format!(
                "{profile} ({} session{})",
                members.len(),
                if members.len() == 1 { "" } else { "s" }
            );
            if chunks.len() > 1 {
                let first = chunk
                    .first()
                    .map(|s| s.alias.to_string())
                    .unwrap_or_default();
                let last = chunk
                    .last()
                    .map(|s| s.alias.to_string())
                    .unwrap_or_default();
                label = format!("{profile}: {} – {}", initial(&first), initial(&last));
            }
            let children = chunk.iter().map(|s| session_menu(catalog, s)).collect();
            nodes.push(Node::submenu(
                format!("group:{profile}:{i}"),
                label,
                children,
            ));
        }
    }
    nodes
}

fn initial(alias: &str) -> String {
    alias.chars().take(12).collect()
}

/// Integrations ▸: per integration its login state and what can be done with it, then
/// *Add AWS SSO integration…*.
fn integrations_menu(catalog: &Catalog) -> Node {
    let mut children: Vec<Node> = catalog
        .integrations()
        .iter()
        .map(|i| {
            let id = i.id;
            let logged_in = matches!(i.login, Login::LoggedIn { .. });
            let sessions = catalog.derived_from(id).count();
            let state = if logged_in { "logged in" } else { "logged out" };
            let mut items = vec![
                Node::disabled(
                    format!("integration-info:{id}"),
                    format!("{} · {sessions} sessions", i.start_url),
                ),
                if logged_in {
                    Node::item(MenuAction::Logout(id), "Log out")
                } else {
                    Node::item(MenuAction::Login(id), "Log in…")
                },
            ];
            items.push(Node::Item {
                action: MenuAction::Sync(id),
                label: "Sync now".to_owned(),
                enabled: logged_in,
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

/// One session's submenu: Start/Stop, Edit session…, Edit ▸ (quick changes), Publish as ▸, Test credential generation,
/// Open web console, Forget IdP login… (federated sessions), Create chained session…,
/// Duplicate session… (not for a session from an integration), Delete….
fn session_menu(catalog: &Catalog, s: &Session) -> Node {
    let id = s.id;
    let mut children = Vec::new();
    let (label, enabled) = match s.state {
        State::Active => ("Stop", true),
        State::Pending => ("Starting…", false),
        // Delete… finishes the job; nothing else applies any more.
        State::Deleting => ("Being deleted…", false),
        State::Inactive | State::Error(_) => ("Start", true),
    };
    children.push(Node::Item {
        action: MenuAction::StartStop(id),
        label: label.to_owned(),
        enabled,
    });
    if let State::Error(message) = &s.state {
        let short: String = message.chars().take(90).collect();
        children.push(Node::disabled(
            format!("error:{id}"),
            format!("Last error: {short}"),
        ));
    }
    children.push(Node::item(MenuAction::EditSession(id), "Edit session…"));
    if s.kind.tag().is_integration_derived() {
        children.push(Node::Submenu {
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
    children.push(Node::item(MenuAction::Delete(id), "Delete…"));
    // A derived session says where it comes from.
    let label = match s.kind.integration().and_then(|i| catalog.integration(i)) {
        Some(integration) => format!("{} · {}", session_label(s), integration.alias),
        None => session_label(s),
    };
    Node::submenu(format!("session:{id}"), label, children)
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
