use super::*;
use credtray::session::SessionKind;
use credtray::session::{NewSession, ProfileName, Region, Settings};

fn add(c: &mut Catalog, alias: &str, profile: &str, kind: SessionKind) -> SessionId {
    c.add(NewSession {
        publish: None,
        alias: alias.parse().unwrap(),
        profile: Some(profile.parse().unwrap()),
        region: None,
        kind,
    })
    .unwrap()
    .id
}

/// The integration `corp` (an IAM Identity Center instance), added to `c`.
fn add_corp(c: &mut Catalog) -> credtray::session::IntegrationId {
    c.add_integration(credtray::session::NewIntegration {
        alias: "corp".parse().unwrap(),
        start_url: "https://d-1234567890.awsapps.com/start".parse().unwrap(),
        region: "eu-west-1".into(),
    })
    .unwrap()
    .id
}

fn user() -> SessionKind {
    SessionKind::IamUser {
        mfa_device: None,
        mfa_source: None,
    }
}

fn chained(assumer: SessionId) -> SessionKind {
    SessionKind::IamRoleChained {
        external_id: None,
        role_arn: "arn:aws:iam::123456789012:role/r".parse().unwrap(),
        role_session_name: None,
        assumer,
    }
}

fn find<'a>(nodes: &'a [Node], key: &str) -> &'a Node {
    fn walk<'a>(nodes: &'a [Node], key: &str) -> Option<&'a Node> {
        nodes.iter().find_map(|n| {
            if n.key() == key {
                return Some(n);
            }
            match n {
                Node::Submenu { children, .. } => walk(children, key),
                _ => None,
            }
        })
    }
    walk(nodes, key).unwrap_or_else(|| panic!("no node {key}"))
}

fn labels(node: &Node) -> Vec<String> {
    let Node::Submenu { children, .. } = node else {
        panic!("{node:?}")
    };
    children
        .iter()
        .map(|c| match c {
            Node::Item { label, .. } | Node::Choice { label, .. } | Node::Submenu { label, .. } => {
                label.clone()
            }
            Node::Separator => "---".to_owned(),
        })
        .collect()
}

#[test]
fn a_session_shows_state_alias_profile_and_region_with_its_actions() {
    let mut c = Catalog::default();
    let id = add(&mut c, "prod-admin", "default", user());
    let menu = build(&c, false, &Syncing::new());
    let node = find(&menu, &format!("menu:session:{id}"));
    let Node::Submenu { label, .. } = node else {
        panic!()
    };
    assert_eq!(label, "○ prod-admin — default · us-east-1");
    assert_eq!(
        labels(node),
        [
            "Start",
            "Edit session…",
            "Edit",
            "Publish as: file",
            "Test credential generation",
            "Open web console",
            "Create chained session…",
            "Duplicate session…",
            "Pin to the top",
            "Delete…"
        ]
    );
    c.set_state(id, State::Active, None);
    let menu = build(&c, false, &Syncing::new());
    let node = find(&menu, &format!("menu:session:{id}"));
    assert_eq!(labels(node)[0], "Stop");
    assert_eq!(
        find(&menu, "stop-all"),
        &Node::Item {
            action: MenuAction::StopAll,
            label: "Stop all sessions".into(),
            enabled: true
        }
    );
    c.set_state(
        id,
        State::Error("session \"prod-admin\": access denied".into()),
        None,
    );
    let menu = build(&c, false, &Syncing::new());
    let node = find(&menu, &format!("menu:session:{id}"));
    assert_eq!(
        labels(node)[..2],
        [
            "Start".to_owned(),
            "Last error: session \"prod-admin\": access denied".to_owned()
        ]
    );
}

#[test]
fn publish_as_offers_file_and_process_with_the_current_mode_checked() {
    let mut c = Catalog::default();
    c.settings.publish = Publish::Process;
    let id = add(&mut c, "dev", "default", user());
    let menu = build(&c, false, &Syncing::new());
    let node = find(&menu, &format!("menu:publish:{id}"));
    let Node::Submenu {
        label, children, ..
    } = node
    else {
        panic!("{node:?}")
    };
    assert_eq!(
        label, "Publish as: process",
        "new sessions take the default"
    );
    assert_eq!(
        children
            .iter()
            .map(|c| match c {
                Node::Choice {
                    action, checked, ..
                } => (action.clone(), *checked),
                other => panic!("{other:?}"),
            })
            .collect::<Vec<_>>(),
        [
            (MenuAction::SetPublish(id, Publish::File), false),
            (MenuAction::SetPublish(id, Publish::Process), true),
        ]
    );
    // Integration-derived sessions, which can't be edited, still pick their mode.
    c.add_integration(credtray::session::NewIntegration {
        alias: "corp".parse().unwrap(),
        start_url: "https://d-1234567890.awsapps.com/start".parse().unwrap(),
        region: "us-east-1".into(),
    })
    .unwrap();
    let corp = c.integrations()[0].id.to_string();
    let sso = add(
        &mut c,
        "sso",
        "default",
        SessionKind::AwsSsoRole {
            account_id: "123456789012".parse().unwrap(),
            role_name: "Admin".parse().unwrap(),
            integration: corp.parse().unwrap(),
        },
    );
    let menu = build(&c, false, &Syncing::new());
    assert!(
        labels(find(&menu, &format!("menu:session:{sso}")))
            .contains(&"Publish as: process".to_owned())
    );
    // The choice is an edit the catalog takes, even for those.
    let edit = credtray::session::Edit {
        publish: Some(Publish::File),
        ..Default::default()
    };
    assert_eq!(c.edit(sso, &edit).unwrap().changed, [Field::Publish]);
}

#[test]
fn edit_lists_the_parameters_of_each_kind_with_secrets_masked() {
    let mut c = Catalog::default();
    let u = add(&mut c, "user", "default", user());
    let ch = add(&mut c, "chained", "ops", chained(u));
    let fed = add(
        &mut c,
        "fed",
        "default",
        SessionKind::IamRoleFederated {
            role_arn: "arn:aws:iam::123456789012:role/f".parse().unwrap(),
            saml_url: "https://idp.example.com/saml".parse().unwrap(),
            idp_arn: "arn:aws:iam::123456789012:saml-provider/p".parse().unwrap(),
        },
    );
    let menu = build(&c, false, &Syncing::new());
    assert_eq!(
        labels(find(&menu, &format!("menu:edit:{u}"))),
        [
            "Session alias: user…",
            "Named profile: default",
            "AWS region: us-east-1",
            "MFA device: (none)…",
            "MFA source: (default: prompt)…",
            "Access key ID: ••••…",
            "Secret access key: ••••…"
        ]
    );
    assert_eq!(
        labels(find(&menu, &format!("menu:edit:{ch}"))),
        [
            "Session alias: chained…",
            "Named profile: ops",
            "AWS region: us-east-1",
            "Role ARN: arn:aws:iam::123456789012:role/r…",
            "Role session name: (default: credtray-<alias>)…",
            "Assumer session: user",
            "External ID: (none)…"
        ]
    );
    assert_eq!(
        labels(find(&menu, &format!("menu:edit:{fed}"))),
        [
            "Session alias: fed…",
            "Named profile: default",
            "AWS region: us-east-1",
            "Role ARN: arn:aws:iam::123456789012:role/f…",
            "SAML 2.0 URL: https://idp.example.com/saml…",
            "Identity provider ARN: arn:aws:iam::123456789012:saml-provider/p…"
        ]
    );
}

#[test]
fn choices_are_radio_lists_with_the_current_value_checked() {
    let mut c = Catalog::default();
    let u = add(&mut c, "user", "default", user());
    let other = add(&mut c, "other", "dev", user());
    let ch = add(&mut c, "chained", "ops", chained(u));
    let grandchild = add(&mut c, "grandchild", "ops", chained(ch));
    c.edit(
        other,
        &credtray::session::Edit {
            region: Some("eu-west-1".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let menu = build(&c, false, &Syncing::new());
    let checked = |key: &str| -> Vec<(String, bool)> {
        let Node::Submenu { children, .. } = find(&menu, key) else {
            panic!()
        };
        children
            .iter()
            .filter_map(|n| match n {
                Node::Choice { label, checked, .. } => Some((label.clone(), *checked)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        checked(&format!("menu:profile:{ch}")),
        [
            ("default".into(), false),
            ("dev".into(), false),
            ("ops".into(), true)
        ]
    );
    let regions = checked(&format!("menu:region:{u}"));
    assert_eq!(
        regions,
        [
            ("eu-west-1 — Europe (Ireland)".into(), false),
            ("us-east-1 — US East (N. Virginia)".into(), true)
        ]
    );
    // Neither itself nor its own descendants can be a chained session's assumer.
    assert_eq!(
        checked(&format!("menu:assumer:{ch}")),
        [("user".into(), true), ("other".into(), false)]
    );
    let _ = grandchild;
    let Node::Submenu { children, .. } = find(&menu, &format!("menu:profile:{u}")) else {
        panic!()
    };
    assert_eq!(
        children.last(),
        Some(&Node::item(MenuAction::NewProfile(u), "New named profile…"))
    );
}

#[test]
fn integration_derived_sessions_show_edit_disabled_with_the_reason_but_keep_quick_change() {
    let sso = Session {
        publish: credtray::session::Publish::File,
        id: SessionId::new(),
        alias: "sso".parse().unwrap(),
        profile: ProfileName::default_profile(),
        region: Region::us_east_1(),
        kind: SessionKind::AwsSsoRole {
            account_id: "123456789012".parse().unwrap(),
            role_name: "Admin".parse().unwrap(),
            integration: "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10".parse().unwrap(),
        },
        state: State::Inactive,
        expiration: None,
        issued: None,
        pinned: false,
        last_used: None,
    };
    let c = Catalog::new(
        Settings::default(),
        vec![],
        vec![sso.clone()],
        vec![credtray::session::Integration {
            id: "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10".parse().unwrap(),
            alias: "corp".parse().unwrap(),
            start_url: "https://d-1234567890.awsapps.com/start".parse().unwrap(),
            region: Region::us_east_1(),
            login: credtray::session::Login::LoggedOut,
            profiles: Vec::new(),
            pace: None,
        }],
    )
    .unwrap();
    let menu = build(&c, false, &Syncing::new());
    let Node::Submenu {
        enabled,
        label,
        children,
        ..
    } = find(&menu, &format!("menu:edit:{}", sso.id))
    else {
        panic!()
    };
    assert!(!enabled && children.is_empty());
    assert!(label.contains("can't be edited"), "{label}");
    find(&menu, &format!("menu:profile:{}", sso.id));
    find(&menu, &format!("menu:region:{}", sso.id));
}

/// Every submenu of the tree holds at most `MAX_PER_SUBMENU` entries.
fn assert_pages(nodes: &[Node]) {
    for n in nodes {
        if let Node::Submenu { children, key, .. } = n {
            assert!(
                children.len() <= MAX_PER_SUBMENU,
                "{key}: {}",
                children.len()
            );
            assert_pages(children);
        }
    }
}

/// The aliases of the sessions on the top level, in order.
fn top_sessions(menu: &[Node]) -> Vec<String> {
    menu.iter()
        .filter_map(|n| match n {
            Node::Submenu { key, label, .. } if key.starts_with("session:") => {
                label.split_whitespace().nth(1).map(str::to_owned)
            }
            _ => None,
        })
        .collect()
}

fn top_keys(menu: &[Node]) -> Vec<String> {
    menu.iter().map(Node::key).collect()
}

fn many(n: usize) -> (Catalog, Vec<SessionId>) {
    let mut c = Catalog::default();
    let ids = (0..n)
        .map(|i| {
            add(
                &mut c,
                &format!("s{i:04}"),
                if i < 120 { "big" } else { "small" },
                user(),
            )
        })
        .collect();
    (c, ids)
}

#[test]
fn large_catalogs_get_a_short_top_level_and_all_sessions_paged_by_fifty() {
    let (c, _) = many(130);
    let menu = build(&c, false, &Syncing::new());
    assert!(menu.len() <= TOP_LEVEL_MAX, "{}", menu.len());
    // Nothing running, pinned or recent: Find and All come first.
    assert_eq!(
        top_keys(&menu)[..3],
        ["separator", "find", "menu:all"].map(str::to_owned)
    );
    let Node::Submenu {
        label, children, ..
    } = find(&menu, "menu:all")
    else {
        panic!()
    };
    assert_eq!(label, "All sessions (130)");
    assert_eq!(
        labels(find(&menu, "menu:all")),
        ["big (120 sessions)", "small (10 sessions)"]
    );
    assert_pages(&menu);
    let Node::Submenu { children: big, .. } = &children[0] else {
        panic!()
    };
    assert_eq!(
        labels(&children[0]),
        ["s0000 – s0049", "s0050 – s0099", "s0100 – s0119"]
    );
    // Inside All sessions, the compact submenu: no quick changes, no Publish as.
    let Node::Submenu { children: page, .. } = &big[0] else {
        panic!()
    };
    assert_eq!(
        labels(&page[0]),
        [
            "Start",
            "Edit session…",
            "Test credential generation",
            "Create chained session…",
            "Open web console",
            "Duplicate session…",
            "Pin to the top",
            "Delete…"
        ]
    );
    // Just past the threshold, the short top level already.
    let menu = build(&many(30).0, false, &Syncing::new());
    assert!(menu.len() <= TOP_LEVEL_MAX && top_keys(&menu).contains(&"find".to_owned()));
    // Small catalogs are flat.
    let (small, _) = many(GROUP_ABOVE);
    let keys = top_keys(&build(&small, false, &Syncing::new()));
    assert!(!keys.contains(&"menu:all".to_owned()) && !keys.contains(&"find".to_owned()));
    assert_eq!(
        keys.iter()
            .filter(|k| k.starts_with("menu:session:"))
            .count(),
        GROUP_ABOVE
    );
}

#[test]
fn the_top_level_puts_running_then_pinned_then_recent_sessions_within_thirty_entries() {
    let (mut c, ids) = many(2_000);
    let t0 = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    // 12 running (Active, Pending, Error count; the rest overflow), 15 pinned, 30 used lately.
    for (i, id) in ids.iter().take(12).enumerate() {
        let state = match i % 3 {
            0 => State::Active,
            1 => State::Pending,
            _ => State::Error("x".into()),
        };
        c.set_state(*id, state, None);
    }
    for id in &ids[100..115] {
        c.set_pinned(*id, true).unwrap();
    }
    for (i, id) in ids[200..230].iter().enumerate() {
        c.set_last_used(*id, t0 + time::Duration::minutes(i as i64));
    }
    let menu = build(&c, false, &Syncing::new());
    assert!(menu.len() <= TOP_LEVEL_MAX, "{}", menu.len());
    assert_pages(&menu);
    let sessions = top_sessions(&menu);
    // 9 running then More active (3); 9 pinned then More pinned (6); no room for a recent one.
    assert_eq!(
        sessions[..9],
        (0..9).map(|i| format!("s{i:04}")).collect::<Vec<_>>()[..]
    );
    assert_eq!(
        labels(find(&menu, "menu:more-active")),
        [
            "● s0009 — big · us-east-1",
            "◌ s0010 — big · us-east-1",
            "⚠ s0011 — big · us-east-1"
        ]
    );
    assert_eq!(
        sessions[9..18],
        (100..109).map(|i| format!("s{i:04}")).collect::<Vec<_>>()[..]
    );
    let Node::Submenu { label, .. } = find(&menu, "menu:more-pinned") else {
        panic!()
    };
    assert_eq!(label, "More pinned (6)");
    assert_eq!(sessions.len(), 18);
    assert_eq!(menu.len(), TOP_LEVEL_MAX);

    // With less running and pinned, the most recent fill what is left, newest first.
    for id in &ids[..12] {
        c.set_state(*id, State::Inactive, None);
    }
    for id in &ids[100..113] {
        c.set_pinned(*id, false).unwrap();
    }
    let menu = build(&c, false, &Syncing::new());
    let sessions = top_sessions(&menu);
    assert_eq!(sessions[..2], ["s0113", "s0114"]);
    assert_eq!(
        sessions[2..],
        (220..230)
            .rev()
            .map(|i| format!("s{i:04}"))
            .collect::<Vec<_>>()[..]
    );
    assert!(menu.len() <= TOP_LEVEL_MAX);
}

#[test]
fn all_sessions_puts_derived_sessions_under_their_integration_by_account() {
    let mut c = Catalog::default();
    let corp = add_corp(&mut c);
    // 60 accounts × 2 roles: more accounts than one submenu holds.
    for a in 0..60 {
        for role in ["Admin", "ReadOnly"] {
            add(
                &mut c,
                &format!("acct{a:02}/{role}"),
                &format!("acct{a:02}-{role}"),
                SessionKind::AwsSsoRole {
                    account_id: format!("{:012}", 100_000_000_000u64 + a).parse().unwrap(),
                    role_name: role.parse().unwrap(),
                    integration: corp,
                },
            );
        }
    }
    add(&mut c, "mine", "default", user());
    let menu = build(&c, false, &Syncing::new());
    assert_pages(&menu);
    assert_eq!(
        labels(find(&menu, "menu:all")),
        ["corp (120)", "default (1 session)"]
    );
    let corp_menu = find(&menu, &format!("menu:all-integration:{corp}"));
    assert_eq!(labels(corp_menu), ["acct00 – acct49", "acct50 – acct59"]);
    let account = find(&menu, &format!("menu:all-integration:{corp}:acct07"));
    let Node::Submenu { label, .. } = account else {
        panic!()
    };
    assert_eq!(label, "acct07 (2)");
    assert_eq!(labels(account).len(), 2);
}

#[test]
fn a_first_run_menu_puts_adding_first_and_the_bottom_is_integrations_stop_all_network_autostart_quit()
 {
    let menu = build(&Catalog::default(), false, &Syncing::new());
    let keys: Vec<String> = menu.iter().map(Node::key).collect();
    assert_eq!(
        keys,
        [
            "menu:add",
            "import",
            "info:no-sessions",
            "menu:integrations",
            "stop-all",
            "network",
            "start-at-login",
            "quit"
        ]
    );
    assert!(matches!(&menu[5], Node::Item { label, enabled: true, .. } if label == "Network…"));
    assert!(
        matches!(&menu[4], Node::Item { enabled: false, .. }),
        "nothing to stop"
    );
    let Node::Item { label, .. } = &menu[2] else {
        panic!()
    };
    assert!(label.contains("import"), "{label}");
    assert!(matches!(&menu[6], Node::Choice { checked: false, .. }));
    assert!(matches!(
        &build(&Catalog::default(), true, &Syncing::new())[6],
        Node::Choice { checked: true, .. }
    ));
    // With sessions, they come first and adding moves below them.
    let mut c = Catalog::default();
    add(&mut c, "dev", "default", user());
    let keys: Vec<String> = build(&c, false, &Syncing::new())
        .iter()
        .map(Node::key)
        .collect();
    assert!(keys[0].starts_with("menu:session:"));
    assert_eq!(keys[1..3], ["separator", "menu:add"]);
    assert_eq!(
        keys[3..],
        [
            "menu:integrations",
            "stop-all",
            "network",
            "start-at-login",
            "quit"
        ]
    );
}

/// A key a secret entry would be given, for the walk below.
fn typed_secret(field: Field) -> &'static str {
    match field {
        Field::AccessKeyId => "AKIAIOSFODNN7EXAMPLE",
        _ => "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    }
}

/// Every field of every kind's table (`Kind::fields`) reaches the tray: an item of the
/// session's Edit ▸ showing its value, an edit dialog pre-filled with it whose value becomes an
/// edit the catalog takes, and an entry of the kind's add form whose value reaches the new
/// session. (The CLI, `--json` and the store have the same walk in the library's tests.)
#[test]
fn every_field_of_every_kind_reaches_edit_menu_edit_dialog_and_add_form() {
    use crate::forms;
    use credtray::session::Value;
    use zeroize::Zeroizing;

    let integration = credtray::session::Integration {
        id: Field::Integration.example().parse().unwrap(),
        alias: "corp".parse().unwrap(),
        start_url: Field::StartUrl.example().parse().unwrap(),
        region: Region::us_east_1(),
        login: credtray::session::Login::LoggedOut,
        profiles: Vec::new(),
        pace: None,
    };
    let mut c = Catalog::new(Settings::default(), vec![], vec![], vec![integration]).unwrap();
    let root = add(&mut c, "root", "default", user());
    let example = |field: Field| match field {
        Field::Assumer => Value::Assumer(root),
        _ => Value::parse(field, field.example()).unwrap(),
    };
    // What a person sees and types for a field: the assumer by its alias.
    let typed = |field: Field| match field {
        Field::Assumer => "root",
        _ if field.is_secret() => typed_secret(field),
        _ => field.example(),
    };
    for kind in Kind::ALL {
        let values = kind
            .fields()
            .iter()
            .filter(|f| !f.is_secret())
            .map(|&f| example(f));
        let session_kind = SessionKind::from_values(kind, values).unwrap();
        let id = add(&mut c, &format!("every {kind}"), "default", session_kind);
        let s = c.get(id).unwrap().clone();
        let menu = build(&c, false, &Syncing::new());
        if kind.is_integration_derived() {
            // Comes from its integration: Edit ▸ is disabled, there is no add form.
            assert!(matches!(
                find(&menu, &format!("menu:edit:{id}")),
                Node::Submenu { enabled: false, .. }
            ));
            assert!(forms::add(&c, kind).is_none());
            continue;
        }
        let edit_menu = find(&menu, &format!("menu:edit:{id}"));
        for &field in kind.fields() {
            let key = match field {
                Field::Assumer => format!("menu:assumer:{id}"),
                _ => MenuAction::Edit(id, field).to_string(),
            };
            let label = labels(edit_menu)
                .into_iter()
                .find(|l| l.starts_with(field.label()))
                .unwrap_or_else(|| panic!("{kind}: no {field} in Edit ▸"));
            find(std::slice::from_ref(edit_menu), &key);
            let shown = if field.is_secret() {
                "••••"
            } else {
                typed(field)
            };
            assert!(label.contains(shown), "{label}");

            let dialog = forms::edit(&c, &s, field);
            assert_eq!(dialog.fields[0].label, field.label());
            assert_eq!(dialog.fields[0].masked, field.is_secret());
            let prefilled = if field.is_secret() { "" } else { typed(field) };
            assert_eq!(dialog.fields[0].value.as_str(), prefilled, "{field}");
            let edit = forms::parse_edit(&c, id, field, typed(field))
                .unwrap_or_else(|e| panic!("{kind} {field}: {e}"));
            assert_eq!(edit.fields(), [field]);
        }

        let form = forms::add(&c, kind).unwrap();
        let mut inputs = vec![format!("new {kind}"), "default".into(), "us-east-1".into()];
        for (i, &field) in kind.fields().iter().enumerate() {
            let entry = &form.fields[3 + i];
            assert!(entry.label.starts_with(field.label()), "{}", entry.label);
            assert_eq!(entry.masked, field.is_secret());
            inputs.push(typed(field).to_owned());
        }
        assert_eq!(form.fields.len(), 3 + kind.fields().len());
        let inputs: Vec<Zeroizing<String>> = inputs.into_iter().map(Zeroizing::new).collect();
        let (new, keys) = forms::parse_add(&c, kind, &inputs).unwrap();
        assert_eq!(new.kind, s.kind, "{kind}: a field was lost on the way");
        assert_eq!(keys.is_some(), kind.has_keys());
    }
}

#[test]
fn integrations_offer_log_in_or_out_sync_edit_delete_and_add() {
    let mut c = Catalog::default();
    let corp = add_corp(&mut c);
    let menu = build(&c, false, &Syncing::new());
    assert_eq!(
        labels(find(&menu, "menu:integrations")),
        ["corp — logged out", "---", "Add AWS SSO integration…"]
    );
    let node = find(&menu, &format!("menu:integration:{corp}"));
    assert_eq!(
        labels(node),
        [
            "https://d-1234567890.awsapps.com/start · 0 sessions",
            "Log in…",
            "Sync now",
            "Edit…",
            "Delete…"
        ]
    );
    let Node::Submenu { children, .. } = node else {
        panic!()
    };
    assert!(
        matches!(&children[2], Node::Item { enabled: false, .. }),
        "no sync while logged out"
    );
    c.set_login(corp, credtray::session::Login::LoggedIn { until: None });
    let menu = build(&c, false, &Syncing::new());
    let logged_in = labels(find(&menu, &format!("menu:integration:{corp}")));
    assert_eq!(logged_in[1], "Log out");
    // Its sessions say where they come from.
    let id = add(
        &mut c,
        "Production/Admin",
        "default",
        SessionKind::AwsSsoRole {
            account_id: "111111111111".parse().unwrap(),
            role_name: "Admin".parse().unwrap(),
            integration: corp,
        },
    );
    let menu = build(&c, false, &Syncing::new());
    let Node::Submenu { label, .. } = find(&menu, &format!("menu:session:{id}")) else {
        panic!()
    };
    assert_eq!(label, "○ Production/Admin — default · us-east-1 · corp");
    assert_eq!(
        MenuAction::Login(corp).to_string().parse::<MenuAction>(),
        Ok(MenuAction::Login(corp))
    );
}

#[test]
fn only_federated_sessions_offer_to_forget_their_idp_login_and_every_session_opens_the_console() {
    let mut c = Catalog::default();
    let user = add(&mut c, "dev", "default", user());
    let fed = add(
        &mut c,
        "fed",
        "fed",
        SessionKind::IamRoleFederated {
            role_arn: "arn:aws:iam::123456789012:role/r".parse().unwrap(),
            saml_url: "https://idp.example.com/saml".parse().unwrap(),
            idp_arn: "arn:aws:iam::123456789012:saml-provider/p".parse().unwrap(),
        },
    );
    let menu = build(&c, false, &Syncing::new());
    let of = |id| labels(find(&menu, &format!("menu:session:{id}")));
    assert!(!of(user).contains(&"Forget IdP login…".to_owned()));
    assert!(of(fed).contains(&"Forget IdP login…".to_owned()));
    assert!(of(user).contains(&"Open web console".to_owned()));
    assert!(of(fed).contains(&"Open web console".to_owned()));
}

/// How far a sync of `corp` has got, in `phase`.
fn progress(phase: SyncPhase, accounts: usize, total: Option<usize>) -> SyncProgress {
    SyncProgress {
        phase,
        accounts,
        total,
        roles: accounts * 3,
        throttled: 0,
        elapsed: std::time::Duration::from_secs(3),
    }
}

#[test]
fn a_running_sync_shows_how_far_it_got_in_its_integration_and_sync_now_waits_for_it() {
    let mut c = Catalog::default();
    let corp = add_corp(&mut c);
    c.set_login(corp, credtray::session::Login::LoggedIn { until: None });
    let shown = |p: Option<SyncProgress>| {
        let syncing: Syncing = p.into_iter().map(|p| (corp, p)).collect();
        let menu = build(&c, false, &syncing);
        let Node::Submenu { children, .. } = find(&menu, &format!("menu:integration:{corp}"))
        else {
            panic!()
        };
        children
            .iter()
            .map(|n| match n {
                Node::Item { label, enabled, .. } => (label.clone(), *enabled),
                other => panic!("{other:?}"),
            })
            .collect::<Vec<_>>()
    };
    let line = |p| shown(Some(p))[1].clone();
    assert_eq!(
        line(progress(SyncPhase::Accounts, 0, None)),
        ("Syncing corp… listing accounts (0)".to_owned(), false)
    );
    assert_eq!(
        line(progress(SyncPhase::Accounts, 40, None)),
        ("Syncing corp… listing accounts (40)".to_owned(), false)
    );
    assert_eq!(
        line(progress(SyncPhase::Roles, 120, Some(500))),
        ("Syncing corp… 120 / 500".to_owned(), false)
    );
    assert_eq!(
        line(progress(SyncPhase::Applying, 500, Some(500))),
        ("Syncing corp… updating the sessions".to_owned(), false)
    );
    assert_eq!(
        line(progress(
            SyncPhase::Waiting("process 4242 (credtray integration sync)".to_owned()),
            0,
            None
        )),
        (
            "Waiting for the sync of process 4242 (credtray integration sync)…".to_owned(),
            false
        )
    );
    // Sync now waits for the sync to end; the rest stays as it was.
    let syncing = shown(Some(progress(SyncPhase::Roles, 120, Some(500))));
    assert_eq!(syncing[2], ("Log out".to_owned(), true));
    assert_eq!(syncing[3], ("Sync now".to_owned(), false));
    let idle = shown(None);
    assert_eq!(
        idle.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(),
        [
            "https://d-1234567890.awsapps.com/start · 0 sessions",
            "Log out",
            "Sync now",
            "Edit…",
            "Delete…"
        ]
    );
    assert_eq!(idle[2], ("Sync now".to_owned(), true));
}

#[test]
fn a_sync_of_one_integration_changes_only_that_integrations_submenu() {
    let mut c = Catalog::default();
    let corp = add_corp(&mut c);
    let other = c
        .add_integration(credtray::session::NewIntegration {
            alias: "other".parse().unwrap(),
            start_url: "https://d-0987654321.awsapps.com/start".parse().unwrap(),
            region: "eu-west-1".into(),
        })
        .unwrap()
        .id;
    add(&mut c, "dev", "default", user());
    let idle = build(&c, false, &Syncing::new());
    let syncing: Syncing = [(corp, progress(SyncPhase::Roles, 1, Some(2)))].into();
    let busy = build(&c, false, &syncing);
    let corp_key = format!("menu:integration:{corp}");
    assert_ne!(find(&idle, &corp_key), find(&busy, &corp_key));
    // Every other node is equal, so the renderer leaves it alone.
    let other_key = format!("menu:integration:{other}");
    assert_eq!(find(&idle, &other_key), find(&busy, &other_key));
    for (a, b) in idle.iter().zip(&busy) {
        if a.key() != "menu:integrations" {
            assert_eq!(a, b);
        }
    }
    assert_eq!(idle.len(), busy.len());
}
