use super::*;

fn parse(text: &str) -> Allowlist {
    match Allowlist::parse("allowlist.yml", text) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    }
}

fn errors(text: &str) -> Vec<AllowlistError> {
    match Allowlist::parse("allowlist.yml", text) {
        Ok(l) => panic!("parsed: {l:?}"),
        Err(e) => e.0,
    }
}

/// (line, message) of every error.
fn located(text: &str) -> Vec<(usize, String)> {
    errors(text)
        .into_iter()
        .map(|e| (e.line, e.message))
        .collect()
}

fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/crcr/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_levels_say_what_each_does() {
    use Level::*;
    assert!(Level::ALL.iter().all(|l| l.dispatches()));
    assert_eq!(
        Level::ALL.map(Level::records_results),
        [false, true, true, true]
    );
    assert_eq!(
        Level::ALL.map(|l| l.shows_on_pr(false)),
        [false, false, false, true]
    );
    assert_eq!(
        Level::ALL.map(|l| l.shows_on_pr(true)),
        [false, false, true, true]
    );
    assert_eq!(
        Level::ALL.map(Level::pings_oncalls),
        [false, false, true, true]
    );
    assert_eq!(
        Level::ALL.map(Level::blocks_merge),
        [false, false, false, true]
    );
    assert!(L1 < L2 && L2 < L3 && L3 < L4);
}

#[test]
fn all_four_shapes_parse() {
    let l = parse(
        "L1:\n  - org1/repo1\nL2:\n  - org2/repo2: \"a, @b\"\nL3:\n  npu:\n    org3/repo3: [c, '@org3/npu-team']\nL4:\n  - org4/repo4: [d]\n",
    );
    let got: Vec<_> = l
        .entries()
        .iter()
        .map(|e| {
            (
                e.repo.as_str(),
                e.level,
                e.device.as_deref(),
                e.oncalls.clone(),
                e.line,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("org1/repo1", Level::L1, None, vec![], 2),
            (
                "org2/repo2",
                Level::L2,
                None,
                vec!["a".into(), "b".into()],
                4
            ),
            (
                "org3/repo3",
                Level::L3,
                Some("npu"),
                vec!["c".into(), "org3/npu-team".into()],
                7
            ),
            ("org4/repo4", Level::L4, None, vec!["d".into()], 9),
        ]
    );
}

#[test]
fn repository_names_compare_case_insensitively() {
    let l = parse("L4:\n  - PyTorch/Vision: alice\n");
    assert_eq!(l.level_of("pytorch/vision"), Some(Level::L4));
    assert_eq!(l.level_of("PYTORCH/VISION"), Some(Level::L4));
    assert_eq!(l.oncalls("pytorch/VISION"), ["alice"]);
    assert!(l.blocks_merge("pytorch/vision"));
    // As written, for display.
    assert_eq!(l.entries()[0].repo, "PyTorch/Vision");
    assert_eq!(l.level_of("pytorch/other"), None);
    assert!(l.oncalls("pytorch/other").is_empty());
    assert!(!l.blocks_merge("pytorch/other"));
}

#[test]
fn a_repository_listed_twice_is_an_error_naming_both_lines() {
    let text = "L1:\n  - org/repo\nL4:\n  - ORG/Repo: alice\n";
    assert_eq!(
        located(text),
        vec![(
            4,
            "L4: `ORG/Repo` is already listed at L1 on line 2".to_string()
        )]
    );
    // In the same level, and between L3 devices.
    assert_eq!(located("L2:\n  - a/b\n  - a/b\n")[0].0, 3);
    let text = "L3:\n  npu:\n    a/b: x\n  gpu:\n    A/B: y\n";
    assert_eq!(
        located(text),
        vec![(
            5,
            "L3.gpu: `A/B` is already listed at L3 on line 3".to_string()
        )]
    );
}

#[test]
fn items_that_are_not_owner_slash_repo_are_errors() {
    let text = "L1:\n  - justaname\n  - a/b/c\n  - 'own er/repo'\n  - /repo\n  - owner/\n  - 42\n  - [a/b]\n  - {a/b: x, c/d: y}\n  - -bad/repo\n  - ok/..\n  - ok/repo\n";
    let got = located(text);
    let lines: Vec<usize> = got.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6, 7, 8, 9, 10, 11], "{got:#?}");
    assert_eq!(got[0].1, "L1: `justaname` is not owner/repo");
    assert!(got[6].1.contains("got a list"), "{}", got[6].1);
    assert!(got[7].1.contains("mapping of 2 keys"), "{}", got[7].1);
    // The good item after the bad ones does not hide them, nor they it.
}

#[test]
fn unknown_top_level_keys_are_errors() {
    let got = located("L1:\n  - a/b\nL5:\n  - c/d\nl4:\n  - e/f\n");
    assert_eq!(
        got,
        vec![
            (
                3,
                "unknown key `L5`: the allowlist has only L1, L2, L3 and L4".to_string()
            ),
            (
                5,
                "unknown key `l4`: the allowlist has only L1, L2, L3 and L4".to_string()
            ),
        ]
    );
    assert_eq!(located("L1:\n  - a/b\nL1:\n  - c/d\n")[0].0, 3);
    assert_eq!(located("- a/b\n")[0].0, 1);
}

#[test]
fn oncalls_are_a_comma_string_or_a_list_with_or_without_at() {
    let forms = [
        "alice, @bob",
        "\"@alice,bob\"",
        "[alice, '@bob']",
        "['@alice', \"bob\"]",
        "\n      - alice\n      - '@bob'",
        "'alice,, @bob, alice'",
    ];
    for form in forms {
        let text = format!("L4:\n  - org/repo: {form}\n");
        let l = parse(&text);
        assert_eq!(l.oncalls("org/repo"), ["alice", "bob"], "{form}");
    }
    // Nothing after the colon, or null: no on-calls.
    for form in ["", "~", "null", "[]", "''"] {
        let l = parse(&format!("L4:\n  - org/repo: {form}\n"));
        assert!(l.oncalls("org/repo").is_empty(), "{form}");
    }
    // Enterprise Managed Users' logins end in `_shortcode`.
    let l = parse("L4:\n  - alice_acme/repo: '@bob_acme'\n");
    assert_eq!(l.oncalls("alice_acme/repo"), ["bob_acme"]);
    assert!(Allowlist::parse("f", "L4:\n  - a/b: _bob\n").is_err());
    // Teams.
    let l = parse("L3:\n  npu:\n    a/b: '@pytorch/npu-oncall, carol'\n");
    assert_eq!(l.oncalls("a/b"), ["pytorch/npu-oncall", "carol"]);
}

#[test]
fn oncalls_that_are_not_logins_are_errors() {
    let text = "L4:\n  - a/b: 'alice, bob smith'\n  - c/d: [ok, '-dash']\n  - e/f: {x: y}\n  - g/h: [[x]]\n  - i/j: 'org/'\n";
    let got = located(text);
    assert_eq!(
        got.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        vec![2, 3, 4, 5, 6],
        "{got:#?}"
    );
    assert_eq!(
        got[0].1,
        "L4: `a/b`: on-call `bob smith` is not a GitHub login or org/team"
    );
    // An entry with a bad on-call is left out, but still counts as listed.
    let errs = located("L4:\n  - a/b: 'x y'\nL1:\n  - a/b\n");
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs[1].1.contains("already listed at L4 on line 2"));
}

#[test]
fn an_empty_file_is_an_empty_allowlist() {
    for text in [
        "",
        "\n\n",
        "# only comments\n# here\n",
        "---\n",
        "~\n",
        "L1:\nL2: []\nL3: {}\nL4: ~\n",
    ] {
        let l = parse(text);
        assert!(l.is_empty(), "{text:?}");
        assert!(l.targets_for_pr(&["ciflow/crcr/x"]).is_empty());
    }
}

#[test]
fn l3_needs_its_device_label_l4_always_shows() {
    let l = parse(
        "L1:\n  - a/one\nL2:\n  - b/two\nL3:\n  npu:\n    c/three: [x]\n  xpu:\n    d/four: y\nL4:\n  - e/five: z\n",
    );
    let on_pr = |labels: &[&str]| -> Vec<String> {
        l.targets_for_pr(labels)
            .into_iter()
            .filter(|t| t.on_pr)
            .map(|t| t.repo.to_string())
            .collect()
    };
    assert_eq!(on_pr(&[]), ["e/five"]);
    assert_eq!(on_pr(&["ciflow/crcr/npu"]), ["c/three", "e/five"]);
    // Case-insensitive, as GitHub labels are; other prefixes do not count.
    assert_eq!(
        on_pr(&["CIFLOW/CRCR/XPU", "ciflow/oot/npu", "npu"]),
        ["d/four", "e/five"]
    );
    assert_eq!(on_pr(&["ciflow/crcr/"]), ["e/five"]);
    // Every repository is dispatched to, whatever the labels.
    let all = l.targets_for_pr::<&str>(&[]);
    assert_eq!(all.len(), 5);
    assert_eq!(
        all.iter()
            .map(|t| (t.repo, t.level, t.device))
            .collect::<Vec<_>>(),
        vec![
            ("a/one", Level::L1, None),
            ("b/two", Level::L2, None),
            ("c/three", Level::L3, Some("npu")),
            ("d/four", Level::L3, Some("xpu")),
            ("e/five", Level::L4, None),
        ]
    );
}

#[test]
fn l3_has_the_device_mapping_shape() {
    let got = located("L3:\n  - a/b\n");
    assert_eq!(got[0].0, 2, "{got:?}");
    assert!(got[0].1.starts_with("L3 must map device names"), "{got:?}");
    let got = located("L3:\n  npu:\n    - a/b\n  'bad device':\n    c/d: x\n  npu:\n    e/f: y\n");
    assert_eq!(
        got.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        vec![3, 4, 6],
        "{got:#?}"
    );
    assert!(got[2].1.contains("device `npu` appears twice"), "{got:#?}");
    // The longest device that still fits a GitHub label.
    let fits = "d".repeat(MAX_DEVICE);
    parse(&format!("L3:\n  {fits}:\n    a/b: x\n"));
    let got = located(&format!("L3:\n  {fits}d:\n    a/b: x\n"));
    assert_eq!(got[0].0, 2);
}

#[test]
fn l1_l2_l4_must_be_lists() {
    let got = located("L1: a/b\nL4:\n  a/b: x\n");
    assert_eq!(
        got,
        vec![
            (1, "L1 must be a list of owner/repo items".to_string()),
            (3, "L4 must be a list of owner/repo items".to_string()),
        ]
    );
}

#[test]
fn every_error_is_collected_with_file_line_and_item() {
    let text = "L1:\n  - ok/one\n  - broken\nL9: x\nL4:\n  - ok/one\n  - a/b: 'bad login!'\n";
    let errs = errors(text);
    let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "allowlist.yml:3:5: L1: `broken` is not owner/repo",
            "allowlist.yml:4:1: unknown key `L9`: the allowlist has only L1, L2, L3 and L4",
            "allowlist.yml:6:5: L4: `ok/one` is already listed at L1 on line 2",
            "allowlist.yml:7:10: L4: `a/b`: on-call `bad login!` is not a GitHub login or org/team",
        ]
    );
}

#[test]
fn invalid_yaml_is_one_located_error() {
    // PyTorch's own commented example writes `[@oncall1,@oncall2]`: `@` cannot
    // start a plain YAML scalar, so quoted forms are needed.
    let got = located("L4:\n  - a/b: [@x, @y]\n");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, 2);
    assert!(got[0].1.starts_with("not valid YAML"), "{got:?}");
    let got = errors("L1:\n  - a/b\n  - c: d: e\n");
    assert_eq!((got[0].line, got[0].column), (3, 9), "{got:?}");
    assert_eq!(
        got[0].to_string(),
        "allowlist.yml:3:9: not valid YAML: mapping values are not allowed in this context"
    );
}

#[test]
fn hostile_items_are_quoted_short_and_printable() {
    let long = "x".repeat(500);
    let got = located(&format!("L1:\n  - \"{long}\\u0007`::error::\"\n"));
    assert!(got[0].1.chars().count() < 150, "{}", got[0].1);
    let got = located("L1:\n  - \"::warning::`x`\\n\"\n");
    assert_eq!(got[0].1, "L1: `::warning::'x'` is not owner/repo");
}

#[test]
fn aliases_resolve() {
    let l = parse("L3:\n  npu:\n    a/b: &team [alice, bob]\nL4:\n  - c/d: *team\n");
    assert_eq!(l.oncalls("c/d"), ["alice", "bob"]);
}

#[test]
fn pytorchs_published_allowlist_parses_unchanged() {
    let l = parse(&fixture("pytorch-allowlist.yml"));
    let levels: Vec<(&str, Level)> = l
        .entries()
        .iter()
        .map(|e| (e.repo.as_str(), e.level))
        .collect();
    assert_eq!(levels.len(), 10);
    assert_eq!(levels[0], ("riseproject-dev/pytorch-ci", Level::L1));
    assert_eq!(l.level_of("ascend/pytorch"), Some(Level::L2));
    assert_eq!(l.level_of("vllm-project/vllm"), Some(Level::L2));
    let t = l.get("pytorch/crcr-test").expect("crcr-test");
    assert_eq!(t.level, Level::L3);
    assert_eq!(t.device.as_deref(), Some("crcr-test"));
    assert_eq!(
        t.oncalls,
        [
            "atalman",
            "can-gaa-hou",
            "fffrog",
            "jewelkm89",
            "KarhouTam",
            "subinz1"
        ]
    );
    assert_eq!(t.line, 55);
    let on_pr: Vec<&str> = l
        .targets_for_pr(&["ciflow/crcr/crcr-test"])
        .into_iter()
        .filter(|t| t.on_pr)
        .map(|t| t.repo)
        .collect();
    assert_eq!(on_pr, ["pytorch/crcr-test"]);

    let first = parse(&fixture("pytorch-allowlist-first.yml"));
    assert_eq!(first.level_of("Ascend/PyTorch"), Some(Level::L1));
    assert_eq!(first.entries().len(), 1);
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 256,
        // Reproducible in CI: the same cases every run, nothing written to
        // the source tree.
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x00C1_3ED1),
        failure_persistence: None,
        ..Default::default()
    })]

    /// Any text gives an allowlist or located errors, never a panic; every
    /// error's line is inside the file.
    #[test]
    fn any_text_parses_or_is_located(
        text in "(L[1-5]|  |- |npu|: |a/b|@x|, |\\[|\\]|\\{|\\}|'|\"|&a|\\*a|#|\n|[ -~]){0,60}"
    ) {
        if let Err(errs) = Allowlist::parse("f", &text) {
            let lines = text.split('\n').count();
            proptest::prop_assert!(!errs.0.is_empty());
            for e in &errs.0 {
                proptest::prop_assert!(e.line >= 1 && e.line <= lines, "{e} in {text:?}");
            }
        }
    }
}
