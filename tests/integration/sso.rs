//! IAM Identity Center integrations through the real binary, against the local stub (real
//! HTTP, checked against botocore), the real Secret Service, moto as STS and the real AWS CLI.

use serde_json::{Value, json};

use crate::harness::{Env, Run, finish, fixtures, keychain, moto};
use crate::sso_stub::SsoStub;

/// Runs `credtray args` with IAM Identity Center at `stub` and STS at moto.
pub(crate) fn run(env: &Env, stub: &SsoStub, args: &[&str]) -> Run {
    let mut cmd = env.command(args);
    cmd.envs(stub.env()).env("AWS_ENDPOINT_URL", moto());
    finish(cmd, "")
}

/// Adds the integration `corp` on the stub and logs in (approved after one pending poll);
/// the login's run, whatever it says.
pub(crate) fn log_in(env: &Env, stub: &SsoStub) -> Run {
    stub.config(json!({"auto_approve_after": 1, "interval": 1}));
    run(
        env,
        stub,
        &[
            "integration",
            "add",
            "aws-sso",
            "--alias",
            "corp",
            "--start-url",
            &format!("{}/start", stub.url()),
            "--region",
            "eu-west-1",
        ],
    )
    .ok();
    run(env, stub, &["integration", "login", "corp", "--no-browser"])
}

/// `log_in`, which must succeed: the integration's id and the login's run.
fn logged_in(env: &Env, stub: &SsoStub) -> (String, Run) {
    let login = log_in(env, stub).ok();
    (corp_id(env), login)
}

/// The id of integration "corp".
fn corp_id(env: &Env) -> String {
    env.run(&["integration", "show", "corp", "--json"], "")
        .ok()
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) fn derived(env: &Env) -> Vec<Value> {
    let mut all: Vec<Value> = env
        .run(&["session", "list", "--json"], "")
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "aws-sso-role")
        .cloned()
        .collect();
    all.sort_by_key(|s| s["alias"].as_str().unwrap().to_owned());
    all
}

/// Every file under the test's HOME and store, as text.
fn files_text(env: &Env) -> String {
    let mut text = String::new();
    let mut dirs = vec![env.root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    text
}

#[test]
fn a_device_login_syncs_the_assigned_roles_and_keeps_its_tokens_only_in_the_keychain() {
    let env = Env::new();
    let stub = SsoStub::start();
    let (id, login) = logged_in(&env, &stub);
    // The user code (ABCD-EFGH shape) and where to confirm it, for the person.
    let code = login
        .stderr
        .split("confirm the code ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no code shown: {login:?}"));
    assert!(code.len() == 9 && code.as_bytes()[4] == b'-', "{code}");
    assert!(
        login
            .stderr
            .contains("https://device.sso.eu-west-1.amazonaws.com/"),
        "{login:?}"
    );
    assert!(login.stdout.contains("logged in to \"corp\""), "{login:?}");
    assert!(
        login
            .stdout
            .contains("6 sessions (6 added, 0 kept, 0 removed)"),
        "{login:?}"
    );
    let polls = stub.log_of("CreateToken");
    assert!(polls.len() >= 2, "pending first, then the token: {polls:?}");
    assert_eq!(stub.log_of("RegisterClient").len(), 1);

    let sessions = derived(&env);
    let aliases: Vec<&str> = sessions
        .iter()
        .map(|s| s["alias"].as_str().unwrap())
        .collect();
    assert_eq!(
        aliases,
        [
            "dev/AdministratorAccess",
            "dev/ReadOnlyAccess",
            "prod/ReadOnlyAccess",
            "sandbox/AdministratorAccess",
            "sandbox/PowerUserAccess",
            "sandbox/ReadOnlyAccess"
        ]
    );
    assert_eq!(sessions[0]["profile"], "dev-AdministratorAccess");
    assert_eq!(sessions[0]["account_id"], "111111111111");
    assert_eq!(sessions[0]["role_name"], "AdministratorAccess");
    assert_eq!(sessions[0]["integration"], id.as_str());
    let shown = env
        .run(&["integration", "show", "corp", "--json"], "")
        .ok()
        .json();
    assert_eq!(
        (shown["state"].clone(), shown["sessions"].clone()),
        (json!("logged-in"), json!(6))
    );

    // The tokens: in the keychain (secret-tool reads them), in no file.
    let tokens = keychain(&id)
        .into_iter()
        .find(|i| i.account.ends_with("-aws-sso-token"))
        .expect("the tokens are in the keychain");
    let stored: Value = serde_json::from_str(&tokens.secret).unwrap();
    let access = stored["access_token"].as_str().unwrap();
    let refresh = stored["refresh_token"].as_str().unwrap();
    let everything = files_text(&env);
    for secret in [access, refresh] {
        assert!(!everything.contains(secret), "a token is in a file");
    }

    // A derived session's definition can't be edited; its profile and region can.
    let edit = env.run(
        &["session", "edit", "dev/ReadOnlyAccess", "--alias", "mine"],
        "",
    );
    assert_eq!(edit.code, 2, "{edit:?}");
    assert!(edit.stderr.contains("integration \"corp\""), "{edit:?}");
    env.run(
        &[
            "session",
            "edit",
            "dev/ReadOnlyAccess",
            "--region",
            "ap-southeast-2",
        ],
        "",
    )
    .ok();
    // Pinned to the tray's top level: the pin survives syncs.
    let pin = env.run(&["session", "pin", "dev/ReadOnlyAccess"], "").ok();
    assert!(pin.stdout.contains("pinned session"), "{pin:?}");
    // A re-sync keeps it, adds a new role, removes a vanished one.
    stub.assign("222222222222", "Billing");
    stub.unassign("333333333333", Some("PowerUserAccess"));
    let sync = run(&env, &stub, &["integration", "sync", "corp"]).ok();
    assert!(
        sync.stdout.contains("(1 added, 5 kept, 1 removed)"),
        "{sync:?}"
    );
    let after = derived(&env);
    let kept = after
        .iter()
        .find(|s| s["alias"] == "dev/ReadOnlyAccess")
        .unwrap();
    assert_eq!(kept["region"], "ap-southeast-2");
    assert_eq!(kept["pinned"], true);
    assert!(after.iter().any(|s| s["alias"] == "prod/Billing"));
    assert!(
        !after
            .iter()
            .any(|s| s["alias"] == "sandbox/PowerUserAccess")
    );
}

#[test]
fn a_derived_session_starts_and_the_aws_cli_uses_it_and_an_ended_login_says_to_log_in() {
    let env = Env::new();
    let stub = SsoStub::start();
    // The role hands out keys moto knows, so the AWS CLI's STS call is answered.
    let f = fixtures();
    stub.config(json!({"accounts": [{
        "accountId": "111111111111",
        "accountName": "dev",
        "roles": [{"roleName": "Admin", "credentials": {
            "accessKeyId": f.access_key_id,
            "secretAccessKey": f.secret_access_key,
            "sessionToken": "from-the-stub"
        }}]
    }]}));
    logged_in(&env, &stub);
    let start = run(&env, &stub, &["session", "start", "dev/Admin"]).ok();
    assert!(
        start.stdout.contains("started session \"dev/Admin\""),
        "{start:?}"
    );
    let caller = env
        .aws(&[
            "sts",
            "get-caller-identity",
            "--profile",
            "dev-Admin",
            "--output",
            "json",
        ])
        .ok();
    assert!(caller.stdout.contains(":user/"), "{caller:?}");
    assert_eq!(stub.log_of("GetRoleCredentials").len(), 1);

    // An expired access token is refreshed silently (the refresh token rotates).
    stub.control("expire_access_tokens", &json!({}));
    env.run(&["session", "stop", "dev/Admin"], "").ok();
    let secret_tool_clear = |account: &str| {
        std::process::Command::new("secret-tool")
            .args(["clear", "service", "credtray", "username", account])
            .status()
            .unwrap()
    };
    let id = env.id_of("dev/Admin");
    secret_tool_clear(&format!("{id}-role-credentials"));
    run(&env, &stub, &["session", "start", "dev/Admin"]).ok();
    let refreshes: Vec<Value> = stub
        .log_of("CreateToken")
        .into_iter()
        .filter(|e| e["grantType"] == "refresh_token")
        .collect();
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");

    // The portal session ends: the next start says to log in, once, and logs it out.
    stub.control("end_sessions", &json!({}));
    env.run(&["session", "stop", "dev/Admin"], "").ok();
    secret_tool_clear(&format!("{id}-role-credentials"));
    let failed = run(&env, &stub, &["session", "start", "dev/Admin"]);
    assert_ne!(failed.code, 0);
    assert!(
        failed.stderr.contains("logged out")
            && failed.stderr.contains("credtray integration login"),
        "{failed:?}"
    );
    let shown = env
        .run(&["integration", "show", "corp", "--json"], "")
        .ok()
        .json();
    assert_eq!(shown["state"], "logged-out");
    // Logged out, credential-process fails at once without calling the portal.
    let before = stub.log().len();
    let cp = run(
        &env,
        &stub,
        &["credential-process", "--session", "dev/Admin"],
    );
    assert_ne!(cp.code, 0);
    assert!(cp.stderr.contains("log in"), "{cp:?}");
    assert_eq!(stub.log().len(), before);
}

/// A stub whose user has one account, `dev`, with the roles Admin and ReadOnly, both handing
/// out keys moto knows; logged in.
fn two_roles(env: &Env, stub: &SsoStub) {
    let f = fixtures();
    let role = |name: &str| {
        json!({"roleName": name, "credentials": {
            "accessKeyId": f.access_key_id,
            "secretAccessKey": f.secret_access_key,
            "sessionToken": "from-the-stub"
        }})
    };
    stub.config(json!({"accounts": [{
        "accountId": "111111111111",
        "accountName": "dev",
        "roles": [role("Admin"), role("ReadOnly")]
    }]}));
    logged_in(env, stub);
}

/// The keychain accounts of the sessions' cached role credentials.
fn role_credentials(ids: &[&str]) -> Vec<String> {
    ids.iter()
        .flat_map(|id| keychain(id))
        .map(|i| i.account)
        .filter(|a| a.ends_with("-role-credentials"))
        .collect()
}

/// Both the start (`session start` and `start_flags`) and the credential-process of the
/// logged-out integration's sessions fail at once (exit 1) with the sentence that says to log
/// in, and ask the portal nothing.
fn refused_without_a_portal_call(env: &Env, stub: &SsoStub, start_flags: &[&str]) {
    let before = stub.log().len();
    let login = "is logged out: log in with `credtray integration login \"corp\"`";
    let start = [&["session", "start", "dev/Admin"], start_flags].concat();
    for args in [
        &start[..],
        &["credential-process", "--session", "dev/ReadOnly"][..],
    ] {
        let refused = run(env, stub, args);
        assert_eq!(refused.code, 1, "{refused:?}");
        assert!(refused.stderr.contains(login), "{refused:?}");
    }
    assert_eq!(stub.log().len(), before, "{:?}", stub.log());
}

#[test]
fn logout_stops_the_sessions_gives_the_profile_back_and_forgets_their_cached_credentials() {
    let env = Env::new();
    let stub = SsoStub::start();
    two_roles(&env, &stub);
    // The user's own [dev-Admin], which the start takes over.
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    std::fs::write(
        env.aws_dir().join("credentials"),
        "[dev-Admin]\naws_access_key_id = AKIAUSERSOWNKEY00000\naws_secret_access_key = users-own\n",
    )
    .unwrap();
    let before = env.aws_files();
    run(
        &env,
        &stub,
        &["session", "start", "dev/Admin", "--take-over"],
    )
    .ok();
    run(
        &env,
        &stub,
        &["credential-process", "--session", "dev/ReadOnly"],
    )
    .ok();
    assert_ne!(env.aws_files(), before);
    let ids = [env.id_of("dev/Admin"), env.id_of("dev/ReadOnly")];
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(role_credentials(&ids).len(), 2, "both cached");

    let out = run(&env, &stub, &["integration", "logout", "corp", "--json"])
        .ok()
        .json();
    assert_eq!(out["state"], "logged-out", "{out}");
    let stopped: Vec<&str> = out["stopped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["alias"].as_str().unwrap())
        .collect();
    assert_eq!(stopped, ["dev/Admin"], "{out}");
    assert_eq!(stub.log_of("Logout").len(), 1);
    assert!(derived(&env).iter().all(|s| s["state"] == "inactive"));
    assert_eq!(env.aws_files(), before, "the user's section is back");
    assert_eq!(role_credentials(&ids), Vec::<String>::new());
    // Even told to take the user's section over again, the start is refused before it.
    refused_without_a_portal_call(&env, &stub, &["--take-over"]);
    assert_eq!(env.aws_files(), before);
}

#[test]
fn logout_with_the_portal_unreachable_still_logs_out_here_and_says_what_it_stopped() {
    let env = Env::new();
    let stub = SsoStub::start();
    two_roles(&env, &stub);
    run(&env, &stub, &["session", "start", "dev/Admin"]).ok();
    let id = corp_id(&env);
    // Nothing listens on the discard port.
    let mut cmd = env.command(&["integration", "logout", "corp"]);
    cmd.envs(stub.env())
        .env("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:9")
        .env("AWS_ENDPOINT_URL", moto());
    let out = finish(cmd, "").ok();
    assert_eq!(
        out.stdout, "stopped session \"dev/Admin\"\nlogged out of \"corp\"\n",
        "{out:?}"
    );
    assert!(stub.log_of("Logout").is_empty());
    assert!(keychain(&id).is_empty(), "the tokens are gone");
    assert_eq!(env.aws_files().0, "", "its section is gone");
    refused_without_a_portal_call(&env, &stub, &[]);
}

#[test]
fn a_running_agent_forgets_the_credentials_of_a_logged_out_integration() {
    let env = Env::new();
    let stub = SsoStub::start();
    two_roles(&env, &stub);
    let _agent = crate::agent::Agent::start_with(&env, &stub.env());
    // Served by the agent, which remembers them.
    let served = run(
        &env,
        &stub,
        &["credential-process", "--session", "dev/ReadOnly"],
    )
    .ok();
    assert_eq!(served.json()["Version"], 1);
    assert_eq!(stub.log_of("GetRoleCredentials").len(), 1);
    run(&env, &stub, &["integration", "logout", "corp"]).ok();
    let before = stub.log().len();
    // Through the agent: the same sentence, exit 1, no portal call.
    let refused = env.run(&["credential-process", "--session", "dev/ReadOnly"], "");
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("is logged out: log in with `credtray integration login \"corp\"`"),
        "{refused:?}"
    );
    assert_eq!(stub.log().len(), before, "{:?}", stub.log());
}

#[test]
fn a_throttled_sync_backs_off_keeps_to_its_pace_and_names_the_accounts_that_failed() {
    let env = Env::new();
    let stub = SsoStub::start();
    stub.config(json!({
        "generate": {"accounts": 40, "roles_per_account": 3},
        "page_size": 100,
        "throttle_next": 3,
        "retry_after": 1,
        "fail_roles": {"100000000007": 500},
    }));
    let login = log_in(&env, &stub);
    // One account's roles can't be listed: exit 1, the account named, the rest synced.
    assert_eq!(login.code, 1, "{login:?}");
    assert!(
        login.stdout.contains("account-0008 (100000000007)"),
        "{login:?}"
    );
    assert_eq!(derived(&env).len(), 39 * 3);

    let log = stub.log();
    let portal: Vec<&Value> = log
        .iter()
        .filter(|e| {
            matches!(
                e["operation"].as_str(),
                Some("ListAccounts" | "ListAccountRoles")
            )
        })
        .collect();
    let throttled = portal.iter().filter(|e| e["status"] == 429).count();
    assert_eq!(throttled, 3, "the injected 429s");
    // After a 429 with Retry-After: 1, the next call waited at least that long.
    let first_429 = portal.iter().position(|e| e["status"] == 429).unwrap();
    let after = portal[first_429 + 1..]
        .iter()
        .find(|e| e["status"] != 429)
        .unwrap();
    let waited = after["start"].as_f64().unwrap() - portal[first_429]["end"].as_f64().unwrap();
    assert!(waited >= 0.9, "backed off {waited} s");
    // Every other call waited out that pause too: nothing started while it lasted.
    let pause_end = portal[first_429]["end"].as_f64().unwrap() + 0.9;
    assert!(
        portal[first_429 + 1..]
            .iter()
            .all(|e| e["status"] == 429 || e["start"].as_f64().unwrap() >= pause_end),
        "{portal:?}"
    );
    // At most eight in flight (the pace's cap since issue 25; it was four at a fixed five
    // per second), and its bursts are small: never more than eight calls start within
    // a tenth of a second.
    assert!(portal.iter().all(|e| e["inflight"].as_u64().unwrap() <= 8));
    let starts: Vec<f64> = portal
        .iter()
        .map(|e| e["start"].as_f64().unwrap())
        .collect();
    for (i, t) in starts.iter().enumerate() {
        let soon = starts[i..].iter().take_while(|s| **s < t + 0.1).count();
        assert!(soon <= 8, "{soon} calls within 0.1 s of {t}");
    }
}

#[test]
fn a_portal_that_throttles_every_listing_is_given_up_on_in_bounded_time_and_the_accounts_named() {
    let env = Env::new();
    let stub = SsoStub::start();
    stub.config(json!({"generate": {"accounts": 2, "roles_per_account": 2}}));
    log_in(&env, &stub).ok();
    assert_eq!(derived(&env).len(), 4);
    stub.config(json!({
        "fail_roles": {"100000000000": 429, "100000000001": 429},
    }));
    let started = std::time::Instant::now();
    let sync = run(&env, &stub, &["integration", "sync", "corp"]);
    let took = started.elapsed();
    assert_eq!(sync.code, 1, "{sync:?}");
    for account in ["account-0001 (100000000000)", "account-0002 (100000000001)"] {
        assert!(sync.stdout.contains(account), "{account} named: {sync:?}");
    }
    // Their sessions are kept as they were.
    assert_eq!(derived(&env).len(), 4);
    // Ten attempts per account, each admitted by the pace, then given up.
    let listings = stub.log_of("ListAccountRoles");
    let throttled = listings.iter().filter(|e| e["status"] == 429).count();
    assert_eq!(throttled, 20, "{listings:?}");
    assert!(took < std::time::Duration::from_secs(180), "{took:?}");
}

#[test]
fn deleting_an_integration_takes_its_sessions_and_with_cascade_the_chained_ones() {
    let env = Env::new();
    let stub = SsoStub::start();
    let (id, _) = logged_in(&env, &stub);
    env.run(
        &[
            "session",
            "chain",
            "dev/AdministratorAccess",
            "--role-arn",
            "arn:aws:iam::111111111111:role/deploy",
            "--alias",
            "deploy",
        ],
        "",
    )
    .ok();
    let refused = env.run(&["integration", "delete", "corp"], "");
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("\"deploy\"") && refused.stderr.contains("--cascade"));
    let deleted = env
        .run(&["integration", "delete", "corp", "--cascade"], "")
        .ok();
    assert!(
        deleted.stdout.contains("deleted session \"deploy\""),
        "{deleted:?}"
    );
    assert!(
        env.run(&["session", "list", "--json"], "")
            .ok()
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        keychain(&id).is_empty(),
        "the integration's tokens are gone from the keychain"
    );
}

#[test]
fn an_imported_sso_session_becomes_one_integration_whose_first_sync_keeps_the_users_profile_names()
{
    let env = Env::new();
    let stub = SsoStub::start();
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    let url = format!("{}/start", stub.url());
    let config = format!(
        "[sso-session corp]\nsso_start_url = {url}\nsso_region = eu-west-1\n\n[profile my-admin]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = AdministratorAccess\nregion = eu-west-1\n\n[profile legacy-ro]\nsso_start_url = {url}\nsso_region = eu-west-1\nsso_account_id = 111111111111\nsso_role_name = ReadOnlyAccess\n\n[profile corp-login]\nsso_session = corp\n"
    );
    std::fs::write(env.aws_dir().join("config"), &config).unwrap();
    let rows = run(&env, &stub, &["import", "aws-config", "--json"])
        .ok()
        .json();
    let status = |p: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["profile"] == p)
            .map(|r| (r["status"].clone(), r["kind"].clone()))
    };
    assert_eq!(
        status("corp"),
        Some((json!("created"), json!("aws-sso integration"))),
        "{rows}"
    );
    for p in ["my-admin", "legacy-ro"] {
        assert_eq!(
            status(p),
            Some((json!("remembered"), json!("aws-sso-role"))),
            "{rows}"
        );
    }
    assert_eq!(status("corp-login").unwrap().0, "skipped", "{rows}");
    let shown = env
        .run(&["integration", "show", "corp", "--json"], "")
        .ok()
        .json();
    assert_eq!(shown["start_url"], url.as_str());
    assert_eq!(shown["region"], "eu-west-1");
    // Idempotent: one integration, whatever the number of imports.
    let store = env.store_bytes();
    crate::import::nothing_created(
        &run(&env, &stub, &["import", "aws-config", "--json"])
            .ok()
            .json(),
    );
    assert_eq!(env.store_bytes(), store);

    // The first sync names the user's two roles after their profiles, the rest as usual.
    stub.config(json!({"auto_approve_after": 1, "interval": 1}));
    run(
        &env,
        &stub,
        &["integration", "login", "corp", "--no-browser"],
    )
    .ok();
    let sessions = derived(&env);
    let named = |alias: &str| {
        sessions
            .iter()
            .find(|s| s["alias"] == alias)
            .map(|s| (s["profile"].clone(), s["role_name"].clone()))
    };
    assert_eq!(
        named("my-admin"),
        Some((json!("my-admin"), json!("AdministratorAccess"))),
        "{sessions:?}"
    );
    assert_eq!(
        named("legacy-ro"),
        Some((json!("legacy-ro"), json!("ReadOnlyAccess")))
    );
    assert!(named("prod/ReadOnlyAccess").is_some(), "{sessions:?}");
    assert_eq!(
        env.aws_files().1,
        config,
        "import and sync leave ~/.aws alone"
    );
}
