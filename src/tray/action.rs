//! What a menu item does, typed. Every item's muda `MenuId` is a `MenuAction` written with
//! `Display` and read back with `FromStr`, so no id is ever matched by hand.

use std::fmt;
use std::str::FromStr;

use credtray::session::{Field, IntegrationId, Kind, Publish, SessionId};

/// Everything a menu item can do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MenuAction {
    /// Start an inactive session, stop an active one. One action (not two) so that a state
    /// change relabels this item instead of replacing it, which would rebuild the submenu.
    StartStop(SessionId),
    Test(SessionId),
    /// Edit session…: every parameter in one form, with Test and Save.
    EditSession(SessionId),
    /// Duplicate session…: the add form filled with a copy.
    Duplicate(SessionId),
    /// Forget the IdP login of a federated session's SAML 2.0 URL.
    ForgetLogin(SessionId),
    /// Sign in to the AWS web console with the session.
    Console(SessionId),
    Chain(SessionId),
    Delete(SessionId),
    /// Open a dialog for a text or secret parameter.
    Edit(SessionId, Field),
    /// Pick a named profile (radio).
    SetProfile(SessionId, String),
    NewProfile(SessionId),
    /// Pick a region (radio).
    SetRegion(SessionId, String),
    /// Pick an assumer session (radio).
    SetAssumer(SessionId, SessionId),
    /// Pick how the session's credentials reach the AWS tools (radio).
    SetPublish(SessionId, Publish),
    Add(Kind),
    /// Integrations ▸ one integration ▸ …
    Login(IntegrationId),
    Logout(IntegrationId),
    Sync(IntegrationId),
    EditIntegration(IntegrationId),
    DeleteIntegration(IntegrationId),
    AddIntegration,
    /// The import of `~/.aws` (the first-run offer, asked again).
    Import,
    /// Pin the session to the top level, or unpin it.
    Pin(SessionId, bool),
    /// The *Find session…* window.
    Find,
    StopAll,
    /// The *Network…* dialog: proxy and CA bundle.
    Network,
    /// Turn the XDG autostart entry on or off.
    StartAtLogin,
    Quit,
    /// A label that does nothing (a disabled explanation).
    Info(String),
}

impl fmt::Display for MenuAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MenuAction::StartStop(id) => write!(f, "start-stop:{id}"),
            MenuAction::Test(id) => write!(f, "test:{id}"),
            MenuAction::EditSession(id) => write!(f, "edit-session:{id}"),
            MenuAction::Duplicate(id) => write!(f, "duplicate:{id}"),
            MenuAction::ForgetLogin(id) => write!(f, "forget-login:{id}"),
            MenuAction::Console(id) => write!(f, "console:{id}"),
            MenuAction::Chain(id) => write!(f, "chain:{id}"),
            MenuAction::Delete(id) => write!(f, "delete:{id}"),
            MenuAction::Edit(id, p) => write!(f, "edit:{id}:{}", p.code()),
            MenuAction::SetProfile(id, p) => write!(f, "profile:{id}:{p}"),
            MenuAction::NewProfile(id) => write!(f, "new-profile:{id}"),
            MenuAction::SetRegion(id, r) => write!(f, "region:{id}:{r}"),
            MenuAction::SetAssumer(id, a) => write!(f, "assumer:{id}:{a}"),
            MenuAction::SetPublish(id, p) => write!(f, "publish:{id}:{p}"),
            MenuAction::Add(kind) => write!(f, "add:{kind}"),
            MenuAction::Login(id) => write!(f, "login:{id}"),
            MenuAction::Logout(id) => write!(f, "logout:{id}"),
            MenuAction::Sync(id) => write!(f, "sync:{id}"),
            MenuAction::EditIntegration(id) => write!(f, "edit-integration:{id}"),
            MenuAction::DeleteIntegration(id) => write!(f, "delete-integration:{id}"),
            MenuAction::AddIntegration => f.write_str("add-integration"),
            MenuAction::Import => f.write_str("import"),
            MenuAction::Pin(id, true) => write!(f, "pin:{id}"),
            MenuAction::Pin(id, false) => write!(f, "unpin:{id}"),
            MenuAction::Find => f.write_str("find"),
            MenuAction::StopAll => f.write_str("stop-all"),
            MenuAction::Network => f.write_str("network"),
            MenuAction::StartAtLogin => f.write_str("start-at-login"),
            MenuAction::Quit => f.write_str("quit"),
            MenuAction::Info(key) => write!(f, "info:{key}"),
        }
    }
}

/// An id that is not a `MenuAction`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown menu item {0:?}")]
pub struct UnknownAction(String);

impl FromStr for MenuAction {
    type Err = UnknownAction;
    fn from_str(s: &str) -> Result<Self, UnknownAction> {
        let unknown = || UnknownAction(s.to_owned());
        let id = |v: &str| v.parse::<SessionId>().map_err(|_| unknown());
        let integration = |v: &str| v.parse::<IntegrationId>().map_err(|_| unknown());
        let (verb, rest) = s.split_once(':').unwrap_or((s, ""));
        let (first, second) = rest.split_once(':').unwrap_or((rest, ""));
        Ok(match verb {
            "start-stop" => MenuAction::StartStop(id(rest)?),
            "test" => MenuAction::Test(id(rest)?),
            "edit-session" => MenuAction::EditSession(id(rest)?),
            "duplicate" => MenuAction::Duplicate(id(rest)?),
            "forget-login" => MenuAction::ForgetLogin(id(rest)?),
            "console" => MenuAction::Console(id(rest)?),
            "chain" => MenuAction::Chain(id(rest)?),
            "delete" => MenuAction::Delete(id(rest)?),
            "edit" => {
                let field = Field::from_code(second).ok_or_else(unknown)?;
                MenuAction::Edit(id(first)?, field)
            }
            "profile" => MenuAction::SetProfile(id(first)?, second.to_owned()),
            "new-profile" => MenuAction::NewProfile(id(rest)?),
            "region" => MenuAction::SetRegion(id(first)?, second.to_owned()),
            "assumer" => MenuAction::SetAssumer(id(first)?, id(second)?),
            "publish" => MenuAction::SetPublish(id(first)?, second.parse().map_err(|_| unknown())?),
            "add" => MenuAction::Add(rest.parse().map_err(|_| unknown())?),
            "login" => MenuAction::Login(integration(rest)?),
            "logout" => MenuAction::Logout(integration(rest)?),
            "sync" => MenuAction::Sync(integration(rest)?),
            "edit-integration" => MenuAction::EditIntegration(integration(rest)?),
            "delete-integration" => MenuAction::DeleteIntegration(integration(rest)?),
            "add-integration" => MenuAction::AddIntegration,
            "import" => MenuAction::Import,
            "pin" => MenuAction::Pin(id(rest)?, true),
            "unpin" => MenuAction::Pin(id(rest)?, false),
            "find" => MenuAction::Find,
            "stop-all" => MenuAction::StopAll,
            "network" => MenuAction::Network,
            "start-at-login" => MenuAction::StartAtLogin,
            "quit" => MenuAction::Quit,
            "info" => MenuAction::Info(rest.to_owned()),
            _ => return Err(unknown()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_through_its_id() {
        let a = SessionId::new();
        let b = SessionId::new();
        let mut actions = vec![
            MenuAction::StartStop(a),
            MenuAction::Test(a),
            MenuAction::EditSession(a),
            MenuAction::Duplicate(a),
            MenuAction::ForgetLogin(a),
            MenuAction::Console(a),
            MenuAction::Chain(a),
            MenuAction::Delete(a),
            MenuAction::SetProfile(a, "team.prod+x@y".into()),
            MenuAction::NewProfile(a),
            MenuAction::SetRegion(a, "eu-west-1".into()),
            MenuAction::SetAssumer(a, b),
            MenuAction::SetPublish(a, Publish::File),
            MenuAction::SetPublish(a, Publish::Process),
            MenuAction::Import,
            MenuAction::Pin(a, true),
            MenuAction::Pin(a, false),
            MenuAction::Find,
            MenuAction::StopAll,
            MenuAction::Network,
            MenuAction::StartAtLogin,
            MenuAction::Quit,
            MenuAction::Info("edit-disabled:x".into()),
            MenuAction::AddIntegration,
        ];
        let corp = IntegrationId::new();
        actions.extend([
            MenuAction::Login(corp),
            MenuAction::Logout(corp),
            MenuAction::Sync(corp),
            MenuAction::EditIntegration(corp),
            MenuAction::DeleteIntegration(corp),
        ]);
        actions.extend(Field::ALL.map(|p| MenuAction::Edit(a, p)));
        actions.extend(Kind::ALL.map(MenuAction::Add));
        for action in actions {
            assert_eq!(
                action.to_string().parse::<MenuAction>(),
                Ok(action.clone()),
                "{action}"
            );
        }
        assert!("start:not-a-uuid".parse::<MenuAction>().is_err());
        assert!("explode".parse::<MenuAction>().is_err());
        assert!(format!("edit:{a}:colour").parse::<MenuAction>().is_err());
        assert!(
            format!("publish:{a}:clipboard")
                .parse::<MenuAction>()
                .is_err()
        );
    }
}
