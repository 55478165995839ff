//! `credtray integration …` through the real binary: the store it writes, `--json`, and the
//! refusals (exit 2, nothing changed).

use crate::harness::Env;

#[test]
fn integrations_are_added_listed_shown_edited_and_deleted() {
    let env = Env::new();
    let run = env
        .run(
            &[
                "integration",
                "add",
                "aws-sso",
                "--alias",
                "corp",
                "--start-url",
                "https://d-1234567890.awsapps.com/start",
                "--region",
                "eu-west-1",
            ],
            "",
        )
        .ok();
    assert!(
        run.stdout.starts_with("added aws-sso integration \"corp\""),
        "{run:?}"
    );
    let list = env.run(&["integration", "list", "--json"], "").ok().json();
    let corp = &list[0];
    assert_eq!(corp["alias"], "corp");
    assert_eq!(corp["kind"], "aws-sso");
    assert_eq!(corp["start_url"], "https://d-1234567890.awsapps.com/start");
    assert_eq!(corp["region"], "eu-west-1");
    assert_eq!(corp["state"], "logged-out");
    assert_eq!(corp["sessions"], 0);
    let id = corp["id"].as_str().unwrap().to_owned();
    let store = String::from_utf8(env.store_bytes().unwrap()).unwrap();
    assert!(
        store.contains("[[integration]]") && store.contains(&id),
        "{store}"
    );

    // Refused, changing nothing: another "CORP", a plain-http portal, an unknown region.
    let before = env.store_bytes();
    for (args, says) in [
        (
            vec![
                "--alias",
                "CORP",
                "--start-url",
                "https://x.awsapps.com/start",
                "--region",
                "eu-west-1",
            ],
            "already called",
        ),
        (
            vec![
                "--alias",
                "b",
                "--start-url",
                "http://x.awsapps.com/start",
                "--region",
                "eu-west-1",
            ],
            "https://",
        ),
        (
            vec![
                "--alias",
                "c",
                "--start-url",
                "https://x.awsapps.com/start",
                "--region",
                "eu-wset-1",
            ],
            "region",
        ),
    ] {
        let mut all = vec!["integration", "add", "aws-sso"];
        all.extend(args);
        let run = env.run(&all, "");
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains(says), "{says}: {run:?}");
        assert_eq!(env.store_bytes(), before);
    }

    let run = env
        .run(&["integration", "edit", "CORP", "--alias", "corp-eu"], "")
        .ok();
    assert!(run.stdout.contains("\"corp-eu\""), "{run:?}");
    let show = env.run(&["integration", "show", &id], "").ok();
    assert!(show.stdout.contains("alias      corp-eu"), "{show:?}");
    let run = env.run(&["integration", "show", "nobody"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no integration"), "{run:?}");

    env.run(&["integration", "delete", "corp-eu"], "").ok();
    let list = env.run(&["integration", "list", "--json"], "").ok().json();
    assert_eq!(list, serde_json::json!([]));
    let text = env.run(&["integration", "list"], "").ok();
    assert!(text.stdout.contains("no integrations yet"), "{text:?}");
}
