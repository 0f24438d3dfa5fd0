//! `missing-command`: install the package that provides the command, in a
//! step right before the failing one (apt on Ubuntu runners, Homebrew on
//! macOS; Windows and unknown runners are refused).

use regex::Regex;

use super::edit;
use super::locate::{self, Os};
use super::pr::code;
use super::yaml::Node;
use super::{Change, Cx, Proposal, Unfixable, safe_name};

/// Longest command name accepted.
const MAX_COMMAND: usize = 64;

/// Command, Debian/Ubuntu package, Homebrew formula (`None`: preinstalled on
/// macOS runners or no formula).
const PACKAGES: &[(&str, &str, Option<&str>)] = &[
    ("jq", "jq", Some("jq")),
    ("xmllint", "libxml2-utils", Some("libxml2")),
    ("xsltproc", "xsltproc", Some("libxslt")),
    ("shellcheck", "shellcheck", Some("shellcheck")),
    ("shfmt", "shfmt", Some("shfmt")),
    ("zip", "zip", None),
    ("unzip", "unzip", None),
    ("7z", "p7zip-full", Some("p7zip")),
    ("xz", "xz-utils", Some("xz")),
    ("zstd", "zstd", Some("zstd")),
    ("lz4", "lz4", Some("lz4")),
    ("make", "build-essential", None),
    ("gcc", "build-essential", None),
    ("g++", "build-essential", None),
    ("cc", "build-essential", None),
    ("cmake", "cmake", Some("cmake")),
    ("ninja", "ninja-build", Some("ninja")),
    ("meson", "meson", Some("meson")),
    ("pkg-config", "pkg-config", Some("pkg-config")),
    ("autoconf", "autoconf", Some("autoconf")),
    ("automake", "automake", Some("automake")),
    ("libtool", "libtool", Some("libtool")),
    ("libtoolize", "libtool", Some("libtool")),
    ("bison", "bison", Some("bison")),
    ("flex", "flex", Some("flex")),
    ("m4", "m4", None),
    ("nasm", "nasm", Some("nasm")),
    ("yasm", "yasm", Some("yasm")),
    ("gperf", "gperf", Some("gperf")),
    ("swig", "swig", Some("swig")),
    ("ccache", "ccache", Some("ccache")),
    ("patchelf", "patchelf", Some("patchelf")),
    ("protoc", "protobuf-compiler", Some("protobuf")),
    ("clang-format", "clang-format", Some("clang-format")),
    ("cppcheck", "cppcheck", Some("cppcheck")),
    ("doxygen", "doxygen", Some("doxygen")),
    ("dot", "graphviz", Some("graphviz")),
    ("valgrind", "valgrind", None),
    ("lcov", "lcov", Some("lcov")),
    ("gettext", "gettext", Some("gettext")),
    ("msgfmt", "gettext", Some("gettext")),
    ("envsubst", "gettext-base", Some("gettext")),
    ("dos2unix", "dos2unix", Some("dos2unix")),
    ("tree", "tree", Some("tree")),
    ("rsync", "rsync", None),
    ("sqlite3", "sqlite3", None),
    ("xvfb-run", "xvfb", None),
    ("ffmpeg", "ffmpeg", Some("ffmpeg")),
    ("convert", "imagemagick", Some("imagemagick")),
    ("magick", "imagemagick", Some("imagemagick")),
    ("pandoc", "pandoc", Some("pandoc")),
    ("hunspell", "hunspell", Some("hunspell")),
    ("aspell", "aspell", Some("aspell")),
    ("bc", "bc", None),
    ("xxd", "xxd", None),
    ("file", "file", None),
    ("wget", "wget", Some("wget")),
    ("git-lfs", "git-lfs", Some("git-lfs")),
    ("tidy", "tidy", Some("tidy-html5")),
    ("expect", "expect", None),
    ("socat", "socat", Some("socat")),
    ("rg", "ripgrep", Some("ripgrep")),
    ("parallel", "parallel", Some("parallel")),
    ("sponge", "moreutils", Some("moreutils")),
    ("gawk", "gawk", Some("gawk")),
    ("jo", "jo", Some("jo")),
    ("sshpass", "sshpass", None),
    ("rsvg-convert", "librsvg2-bin", Some("librsvg")),
    ("optipng", "optipng", Some("optipng")),
    ("pngquant", "pngquant", Some("pngquant")),
    ("latexmk", "latexmk", None),
    ("pdflatex", "texlive-latex-base", None),
    ("gnuplot", "gnuplot", Some("gnuplot")),
    ("ldapsearch", "ldap-utils", None),
    ("mysql", "mysql-client", Some("mysql-client")),
    ("psql", "postgresql-client", Some("libpq")),
    ("redis-cli", "redis-tools", Some("redis")),
];

/// Language toolchains: installed by their setup action, not a package.
const TOOLCHAINS: &[(&str, &str)] = &[
    ("node", "actions/setup-node"),
    ("npm", "actions/setup-node"),
    ("npx", "actions/setup-node"),
    ("yarn", "actions/setup-node (with corepack)"),
    ("pnpm", "pnpm/action-setup"),
    ("python", "actions/setup-python"),
    ("python3", "actions/setup-python"),
    ("pip", "actions/setup-python"),
    ("pip3", "actions/setup-python"),
    ("poetry", "pipx install poetry"),
    ("go", "actions/setup-go"),
    ("java", "actions/setup-java"),
    ("mvn", "actions/setup-java"),
    ("gradle", "gradle/actions/setup-gradle"),
    ("dotnet", "actions/setup-dotnet"),
    ("ruby", "ruby/setup-ruby"),
    ("bundle", "ruby/setup-ruby"),
    ("cargo", "rustup"),
    ("rustc", "rustup"),
    ("deno", "denoland/setup-deno"),
    ("bun", "oven-sh/setup-bun"),
];

fn command(cx: &Cx<'_>) -> Result<String, Unfixable> {
    let f = cx.facts();
    let cmd = ["command", "program", "tool", "cmdlet"]
        .iter()
        .find_map(|k| f.capture(k))
        .ok_or_else(|| {
            Unfixable::NotApplicable("the analysis does not name the missing command".into())
        })?;
    if cmd.contains(['/', '\\']) {
        return Err(Unfixable::NotApplicable(format!(
            "{} is a path to a script, not a program to install; check that the file exists and is executable",
            code(cmd)
        )));
    }
    if !safe_name(cmd, MAX_COMMAND) {
        return Err(Unfixable::Unsafe(format!(
            "the command name {} does not match the allowed pattern",
            code(cmd)
        )));
    }
    Ok(cmd.to_string())
}

fn word(cmd: &str) -> Option<Regex> {
    Regex::new(&format!(
        r"(^|[^A-Za-z0-9_.+-]){}($|[^A-Za-z0-9_.+-])",
        regex::escape(cmd)
    ))
    .ok()
}

pub fn propose(cx: &Cx<'_>) -> Result<Proposal, Unfixable> {
    let cmd = command(cx)?;
    if let Some((_, how)) = TOOLCHAINS.iter().find(|(c, _)| *c == cmd) {
        return Err(Unfixable::NotApplicable(format!(
            "{} is a language toolchain; set it up with {} before this step",
            code(&cmd),
            code(how)
        )));
    }
    let Some((_, apt, brew)) = PACKAGES.iter().find(|(c, _, _)| *c == cmd) else {
        return Err(Unfixable::NotApplicable(format!(
            "no known package provides {}; install it in a step before this one",
            code(&cmd)
        )));
    };
    if cx.job.node.get("container").is_some() {
        return Err(Unfixable::Unsupported(format!(
            "job {} runs in a container, whose image decides how to install {}",
            code(&cx.job.id),
            code(&cmd)
        )));
    }
    let oses = locate::runner_os(cx.doc, cx.job.node);
    if oses.contains(&Os::Windows) {
        return Err(Unfixable::Unsupported(format!(
            "job {} runs on Windows; ci-medic does not install packages there",
            code(&cx.job.id)
        )));
    }
    if oses.contains(&Os::Unknown) {
        return Err(Unfixable::Unsupported(format!(
            "cannot tell which operating system runs job {} (self-hosted or computed `runs-on`)",
            code(&cx.job.id)
        )));
    }
    let steps = locate::require_steps(cx.doc, &cx.job)?;
    let items = steps.sequence().unwrap_or(&[]);
    let re = word(&cmd).ok_or_else(|| Unfixable::Invalid("bad command pattern".into()))?;
    // The failing step, or the first step that runs the command.
    let (index, shown) = match &cx.step {
        Some(s) => (s.index, s.display.clone()),
        None => items
            .iter()
            .enumerate()
            .find(|(_, i)| {
                cx.doc
                    .resolve(&i.node)
                    .get("run")
                    .and_then(Node::str)
                    .is_some_and(|r| re.is_match(r))
            })
            .map(|(i, item)| (i, locate::step_display(cx.doc.resolve(&item.node))))
            .ok_or_else(|| {
                Unfixable::NotApplicable(format!(
                    "no step of job {} runs {}",
                    code(&cx.job.id),
                    code(&cmd)
                ))
            })?,
    };
    let pkg_words: Vec<Regex> = [Some(*apt), *brew]
        .iter()
        .flatten()
        .filter_map(|p| word(p))
        .collect();
    for item in items.iter().take(index) {
        let step = cx.doc.resolve(&item.node);
        if let Some(run) = step.get("run").and_then(Node::str)
            && (run.contains("apt-get install")
                || run.contains("apt install")
                || run.contains("brew install"))
            && run
                .lines()
                .filter(|l| l.contains(" install"))
                .any(|l| pkg_words.iter().any(|w| w.is_match(l)))
        {
            return Err(Unfixable::NotApplicable(format!(
                "step {} already installs the package that provides {}; the command fails for another reason (PATH?)",
                code(&locate::step_display(step)),
                code(&cmd)
            )));
        }
    }
    let linux = oses.contains(&Os::Linux);
    let mac = oses.contains(&Os::MacOs);
    let apt_cmd =
        format!("sudo apt-get update && sudo apt-get install -y --no-install-recommends {apt}");
    let brew_cmd = brew.map(|b| format!("brew install {b}"));
    if mac && brew_cmd.is_none() {
        return Err(Unfixable::NotApplicable(format!(
            "{} is preinstalled on macOS runners (or has no Homebrew formula); the failure needs a human look",
            code(&cmd)
        )));
    }
    let name = format!("Install {cmd}");
    let why = format!(
        "the job failed because {} is not installed ({})",
        code(&cmd),
        code(cx.facts().text().trim())
    );
    // One step per operating system, each under a condition when there are two.
    let both = linux && mac;
    let installs = [
        (
            linux,
            "Linux",
            Some(apt_cmd),
            format!("; package {} provides it on Ubuntu", code(apt)),
        ),
        (mac, "macOS", brew_cmd, String::new()),
    ];
    let mut new_items = Vec::new();
    let mut changes = Vec::new();
    for (wanted, os, run, also) in installs {
        let (true, Some(run)) = (wanted, run) else {
            continue;
        };
        let mut entries = vec![("name".to_string(), edit::string(&name)?)];
        if both {
            entries.push((
                "if".to_string(),
                edit::string(&format!("runner.os == '{os}'"))?,
            ));
        }
        entries.push(("run".to_string(), edit::string(&run)?));
        new_items.push(entries);
        changes.push(Change::new(format!(
            "Added a step {} running {} right before step {} of job {}{}: {why}{also}.",
            code(&name),
            code(&run),
            code(&shown),
            code(&cx.job.id),
            if both {
                format!(" (on {os} runners)")
            } else {
                String::new()
            },
        )));
    }
    let patch = edit::insert_items(
        cx.doc,
        steps,
        &edit::key(&cx.job.path, "steps"),
        index,
        &new_items,
    )?;
    Ok(Proposal::new(
        format!("ci: install {cmd} in job {}", cx.job.id),
        changes,
        patch,
    ))
}
