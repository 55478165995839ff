//! `credtray import aws-config` on a realistic ~/.aws (static keys with an MFA device, a role
//! chain of depth 2, credential_source, an sso-session, temporary keys, comments, CRLF): what is
//! created, the keys in the real Secret Service, idempotency, a dry run that changes nothing,
//! and the AWS CLI still working on the user's own profiles.

use crate::harness::{Env, fixtures, keychain};

fn write_aws(env: &Env, f: &crate::harness::Fixtures) {
    std::fs::create_dir_all(env.aws_dir()).unwrap();
    let credentials = format!(
        "# my keys\r\n[dev]\r\naws_access_key_id = {}\r\naws_secret_access_key = {}\r\n\r\n[stale]\r\naws_access_key_id = ASIAIOSFODNN7EXAMPLE\r\naws_secret_access_key = x\r\naws_session_token = y\r\n",
        f.access_key_id, f.secret_access_key
    );
    let config = format!(
        "[profile dev]\n# mine\nregion = eu-west-1\n\n[profile ops]\nrole_arn = {}\nsource_profile = dev\nexternal_id = partner-1\nregion = eu-west-1\n\n[profile deep]\nrole_arn = {}\nsource_profile = ops\nregion = eu-west-1\n\n[profile box]\nrole_arn = arn:aws:iam::123456789012:role/Box\ncredential_source = Ec2InstanceMetadata\n\n[sso-session corp]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = eu-west-1\n\n[profile corp-admin]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n",
        f.role_arn, f.deeper_role_arn
    );
    std::fs::write(env.aws_dir().join("credentials"), credentials).unwrap();
    std::fs::write(env.aws_dir().join("config"), config).unwrap();
}

fn statuses(env: &Env, args: &[&str]) -> Vec<(String, String)> {
    let mut full = vec!["import", "aws-config", "--json"];
    full.extend_from_slice(args);
    env.run(&full, "")
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["profile"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn profiles_with_credentials_become_sessions_once_and_the_files_stay_as_they_were() {
    let env = Env::new();
    let f = fixtures();
    write_aws(&env, &f);
    let files = env.aws_files();

    // A dry run changes nothing: no store, no keychain entry, the same files.
    let planned = statuses(&env, &["--dry-run"]);
    assert!(
        planned.contains(&("dev".into(), "would be created".into())),
        "{planned:?}"
    );
    assert!(
        env.store_bytes()
            .is_none_or(|b| !String::from_utf8_lossy(&b).contains("[[session]]"))
    );
    assert_eq!(env.aws_files(), files);

    let done = statuses(&env, &[]);
    let status = |p: &str| done.iter().find(|(q, _)| q == p).map(|(_, s)| s.as_str());
    assert_eq!(status("dev"), Some("created"), "{done:?}");
    assert_eq!(status("ops"), Some("created"));
    assert_eq!(status("deep"), Some("created"));
    for skipped in ["stale", "box", "corp-admin"] {
        assert_eq!(status(skipped), Some("skipped"), "{skipped}: {done:?}");
    }
    let (dev, ops, deep) = (env.session("dev"), env.session("ops"), env.session("deep"));
    assert_eq!(
        (dev["kind"].as_str(), dev["region"].as_str()),
        (Some("iam-user"), Some("eu-west-1"))
    );
    assert_eq!(ops["assumer"], dev["id"]);
    assert_eq!(ops["external_id"], "partner-1");
    assert_eq!(deep["assumer"], ops["id"]);
    assert_eq!(deep["role_arn"], f.deeper_role_arn.as_str());
    let secrets: Vec<String> = keychain(dev["id"].as_str().unwrap())
        .into_iter()
        .map(|i| i.secret)
        .collect();
    assert!(secrets.contains(&f.access_key_id) && secrets.contains(&f.secret_access_key));
    assert_eq!(
        env.aws_files(),
        files,
        "import reads ~/.aws, never writes it"
    );

    // Idempotent: a second import creates nothing and leaves the store as it was.
    let store = env.store_bytes();
    let again = statuses(&env, &[]);
    assert!(again.iter().all(|(_, s)| s != "created"), "{again:?}");
    assert_eq!(env.store_bytes(), store);

    // The AWS CLI still works on the user's own profile; an imported chain starts (taking its
    // profile over) and gives the profile back when it stops.
    let arn = crate::engine::caller(&env, "dev");
    assert!(arn.contains(":user/"), "{arn}");
    env.run_moto(&["session", "start", "deep", "--take-over"], "")
        .ok();
    let arn = crate::engine::caller(&env, "deep");
    assert!(
        arn.contains(f.deeper_role_arn.rsplit('/').next().unwrap()),
        "{arn}"
    );
    env.run(&["session", "stop", "deep"], "").ok();
    assert_eq!(env.aws_files(), files);
}
