//! The READMEs cannot drift from the program: every fenced code block in README.md and
//! benches/README.md, and every inline `diffscope …` in their prose, is read by the
//! program's own parsers.
//!
//! Each fenced block names its kind in its opening line, and each kind has one rule:
//!
//! - ```` ```sh ````: commands, one a line (a trailing `\` continues a line), split like a
//!   shell (quotes, `#` comments, `&&` `||` `;` `|` between commands, `VAR=value` before
//!   one). `diffscope …` (or `…/diffscope …`) must parse with the command line's own
//!   definition (`Cli::try_parse_from`): an unknown flag, a bad value or a missing
//!   argument fails. `make TARGET` needs the target in the Makefile, `cargo … --test NAME`
//!   (or `--bench NAME`) the file `NAME.rs` or `NAME/main.rs` in tests/ (benches/),
//!   `scripts/…` the script.
//! - ```` ```text ````: synopses and listings. A line starting with `diffscope` is a
//!   synopsis with placeholders (`NAME|PATH`, `[--steps N]`), up to the first run of two
//!   spaces (a description may follow); the lines after it that start with `[` or `--`
//!   continue it. The subcommand must exist, every `--flag` must be one of its flags, and a
//!   flag's value written as choices (`--kind linear|cosine`) must be among its choices.
//! - ```` ```ron ````: the first line is a comment naming the file, `// …/presets/NAME.ron`
//!   (parsed and validated as a preset), `// …/tui.ron` (the workbench's settings) or
//!   `// …/themes/NAME.ron` (a theme).
//!
//! Any other block, or one without a language, fails. In prose, an inline code span that
//! starts with the word `diffscope` is a command: `diffscope SUB` alone names a subcommand
//! (which must exist); a span with a placeholder (`[`, `|`, `…` or an upper-case word such
//! as `RUN`) is checked like a synopsis; any other must parse like a line of a sh block.

use clap::{CommandFactory, Parser};
use diffscope::cli::Cli;
use diffscope::config::{parse_ron, Preset};
use diffscope::tui::theme::{Theme, ThemeFile};
use diffscope::tui::Settings;
use std::path::Path;

/// The documents whose code the program must read.
const DOCUMENTS: &[&str] = &["README.md", "benches/README.md"];

/// A fenced code block: where it starts, its language and its lines.
struct Block {
    line: usize,
    lang: String,
    text: String,
}

/// The fenced blocks of a Markdown text, and its prose with the blocks blanked out (so
/// that line numbers stay right).
fn split(text: &str) -> Result<(Vec<Block>, String), String> {
    let mut blocks = Vec::new();
    let mut prose = String::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(lang)) => {
                open = Some(Block {
                    line: i + 1,
                    lang: lang.trim().to_string(),
                    text: String::new(),
                })
            }
            (Some(_), Some(rest)) if rest.trim().is_empty() => {
                blocks.extend(open.take());
            }
            (Some(b), _) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, None) => prose.push_str(line),
        }
        prose.push('\n');
    }
    match open {
        Some(b) => Err(format!("line {}: the code block is never closed", b.line)),
        None => Ok((blocks, prose)),
    }
}

/// Everything wrong with the code of one document; `root` is the repository folder that
/// its paths (Makefile, tests/, scripts/) are relative to.
fn check_document(name: &str, text: &str, root: &Path) -> Vec<String> {
    let (blocks, prose) = match split(text) {
        Ok(x) => x,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let mut errors = Vec::new();
    for b in &blocks {
        let result = match b.lang.as_str() {
            "sh" => check_sh(&b.text, b.line, root),
            "text" => check_text(&b.text, b.line),
            "ron" => check_ron(&b.text).map_err(|e| vec![format!("line {}: {e}", b.line)]),
            "" => Err(vec![format!(
                "line {}: a code block needs its kind: ```sh, ```text or ```ron",
                b.line
            )]),
            other => Err(vec![format!(
                "line {}: ```{other}: a code block is ```sh, ```text or ```ron",
                b.line
            )]),
        };
        if let Err(e) = result {
            errors.extend(e.into_iter().map(|e| format!("{name}: {e}")));
        }
    }
    for (line, span) in inline_commands(&prose) {
        if let Err(e) = check_inline(&span) {
            errors.push(format!("{name}: line {line}: `{span}`: {e}"));
        }
    }
    errors
}

/// A ```ron block, by the file its first line names.
fn check_ron(text: &str) -> Result<(), String> {
    let first = text.lines().next().unwrap_or("");
    let Some(file) = first.trim().strip_prefix("//").map(str::trim) else {
        return Err(
            "a ```ron block starts with a comment naming its file: `// presets/NAME.ron`, \
             `// tui.ron` or `// themes/NAME.ron`"
                .into(),
        );
    };
    let path = Path::new(file);
    let folder = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str());
    let one_line = |e: diffscope::config::ConfigError| diffscope::util::one_line(&e);
    if path.file_name().is_some_and(|n| n == "tui.ron") {
        parse_ron::<Settings>(text, path)
            .map(drop)
            .map_err(one_line)
    } else if folder == Some("presets") && file.ends_with(".ron") {
        Preset::parse(text, path).map(drop).map_err(one_line)
    } else if folder == Some("themes") && file.ends_with(".ron") {
        let f: ThemeFile = parse_ron(text, path).map_err(one_line)?;
        Theme::default().overlay(&f, path).map(drop)
    } else {
        Err(format!(
            "`// {file}`: a ```ron block is a preset (presets/NAME.ron), tui.ron or a theme \
             (themes/NAME.ron)"
        ))
    }
}

/// A ```sh block: every command in it.
fn check_sh(text: &str, first: usize, root: &Path) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    for (i, line) in text.lines().enumerate() {
        if logical.is_empty() {
            start = first + 1 + i;
        }
        if let Some(head) = line.strip_suffix('\\') {
            logical.push_str(head);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let result = shell_commands(&logical)
            .and_then(|cmds| cmds.iter().try_for_each(|c| check_command(c, root)));
        if let Err(e) = result {
            errors.push(format!("line {start}: {}: {e}", logical.trim()));
        }
        logical.clear();
    }
    if !logical.is_empty() {
        errors.push(format!("line {start}: the block ends in a continued line"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Splits a shell line into commands of words: '…' and "…" quotes, backslash escapes, a
/// `#` at the start of a word begins a comment, and `&&`, `||`, `;`, `|` and `&` end a
/// command.
fn shell_commands(line: &str) -> Result<Vec<Vec<String>>, String> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '#' if word.is_none() => break,
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("a ' quote is never closed".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            w.extend(chars.next())
                        }
                        Some(c) => w.push(c),
                        None => return Err("a \" quote is never closed".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("a \\ ends the line".into()),
            },
            '&' | '|' | ';' => {
                if (c == '&' || c == '|') && chars.peek() == Some(&c) {
                    chars.next();
                }
                words.extend(word.take());
                commands.push(std::mem::take(&mut words));
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word.take());
    commands.push(words);
    commands.retain(|c| !c.is_empty());
    Ok(commands)
}

/// One command of a sh block (its `VAR=value` prefixes dropped).
fn check_command(words: &[String], root: &Path) -> Result<(), String> {
    let words: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .skip_while(|w| is_assignment(w))
        .collect();
    let Some(&program) = words.first() else {
        return Ok(());
    };
    if program == "diffscope" || program.ends_with("/diffscope") {
        return parse_command(&words);
    }
    let after = |flag: &str| words.windows(2).find(|w| w[0] == flag).map(|w| w[1]);
    match program {
        "make" => {
            let makefile = std::fs::read_to_string(root.join("Makefile"))
                .map_err(|e| format!("Makefile: {e}"))?;
            let targets = make_targets(&makefile);
            for t in words[1..].iter().filter(|w| !w.starts_with('-')) {
                if !is_assignment(t) && !targets.iter().any(|x| x == t) {
                    return Err(format!("the Makefile has no target `{t}`"));
                }
            }
            Ok(())
        }
        "cargo" => {
            for (flag, folder) in [("--test", "tests"), ("--bench", "benches")] {
                if let Some(name) = after(flag) {
                    // A target is a file of its own or a folder with a main.rs.
                    let dir = root.join(folder);
                    let file = dir.join(format!("{name}.rs"));
                    if !file.exists() && !dir.join(name).join("main.rs").exists() {
                        return Err(format!(
                            "{flag} {name}: there is no {folder}/{name}.rs or {folder}/{name}/main.rs"
                        ));
                    }
                }
            }
            Ok(())
        }
        p if p.starts_with("scripts/") => {
            if root.join(p).is_file() {
                Ok(())
            } else {
                Err(format!("there is no {p}"))
            }
        }
        _ => Ok(()),
    }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The targets a Makefile defines (`name:` at the start of a line).
fn make_targets(makefile: &str) -> Vec<String> {
    makefile
        .lines()
        .filter_map(|l| l.split_once(':').map(|(head, _)| head))
        .filter(|head| !head.starts_with(['\t', ' ', '#', '.']) && !head.contains('='))
        .flat_map(|head| head.split_whitespace().map(str::to_string))
        .collect()
}

/// A whole `diffscope …` command, parsed by the command line's definition.
fn parse_command(words: &[&str]) -> Result<(), String> {
    match Cli::try_parse_from(words) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e.to_string().lines().next().unwrap_or_default().to_string()),
    }
}

/// A ```text block: its synopses (and the listings around them, which are not read).
fn check_text(text: &str, first: usize) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut finish = |current: &mut Option<(usize, String)>| {
        if let Some((line, synopsis)) = current.take() {
            if let Err(e) = check_synopsis(&synopsis) {
                errors.push(format!("line {line}: {}: {e}", synopsis.trim()));
            }
        }
    };
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let part = synopsis_part(trimmed);
        if trimmed.split_whitespace().next() == Some("diffscope") {
            finish(&mut current);
            current = Some((first + 1 + i, part.to_string()));
        } else if trimmed.starts_with('[') || trimmed.starts_with("--") {
            if let Some((_, s)) = &mut current {
                s.push(' ');
                s.push_str(part);
            }
        } else {
            finish(&mut current);
        }
    }
    finish(&mut current);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A synopsis line up to the first run of two spaces (a description may follow).
fn synopsis_part(line: &str) -> &str {
    line.find("  ").map_or(line, |i| &line[..i]).trim_end()
}

/// A synopsis: its subcommand exists, each `--flag` is one of its flags, and choices
/// written out (`--kind linear|cosine`) are among the flag's choices.
fn check_synopsis(synopsis: &str) -> Result<(), String> {
    let mut root = Cli::command();
    root.build();
    let words: Vec<&str> = synopsis.split_whitespace().collect();
    let (command, rest) = match words.get(1) {
        Some(w) if !w.starts_with(['[', '-', '.', '…']) && !is_placeholder(w) => (
            root.find_subcommand(w)
                .ok_or_else(|| format!("there is no subcommand `{w}`"))?,
            &words[2..],
        ),
        _ => (&root, words.get(1..).unwrap_or_default()),
    };
    for (i, word) in rest.iter().enumerate() {
        let bare = word.trim_matches(|c| matches!(c, '[' | ']' | '.' | '…'));
        for flag in bare.split('|').filter_map(|p| p.strip_prefix("--")) {
            let arg = command
                .get_arguments()
                .find(|a| a.get_long() == Some(flag))
                .ok_or_else(|| format!("`{}` has no flag --{flag}", command_name(command)))?;
            let choices: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect();
            let value = rest
                .get(i + 1)
                .map(|v| v.trim_matches(|c| matches!(c, '[' | ']' | '.' | '…')));
            let Some(value) = value.filter(|v| !v.starts_with('-') && !bare.contains('|')) else {
                continue;
            };
            if choices.is_empty() || is_placeholder(value) {
                continue;
            }
            for v in value.split('|') {
                if !choices.iter().any(|c| c == v) {
                    return Err(format!("--{flag} has no choice `{v}` (it has {choices:?})"));
                }
            }
        }
    }
    Ok(())
}

/// `diffscope` or `diffscope SUB`, for messages.
fn command_name(command: &clap::Command) -> String {
    match command.get_name() {
        "diffscope" => "diffscope".into(),
        sub => format!("diffscope {sub}"),
    }
}

/// An upper-case word such as `NAME`, `RUN_A` or `NAME|PATH`: a placeholder.
fn is_placeholder(word: &str) -> bool {
    word.split('|').any(|p| {
        p.chars().any(|c| c.is_ascii_uppercase())
            && p.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || "_-.".contains(c))
    })
}

/// The inline code spans of the prose that start with the word `diffscope`, with their
/// line (a span may run over a line break).
fn inline_commands(prose: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut rest = prose;
    let mut line = 1;
    while let Some(open) = rest.find('`') {
        line += rest[..open].matches('\n').count();
        let after = &rest[open + 1..];
        let Some(close) = after.find('`') else { break };
        let span = &after[..close];
        if !span.contains("\n\n") {
            let joined = span.split_whitespace().collect::<Vec<_>>().join(" ");
            if joined.split(' ').next() == Some("diffscope") {
                out.push((line, joined));
            }
        }
        line += span.matches('\n').count();
        rest = &after[close + 1..];
    }
    out
}

/// An inline `diffscope …`: a subcommand's name, a synopsis or a whole command.
fn check_inline(span: &str) -> Result<(), String> {
    let words: Vec<&str> = span.split(' ').collect();
    if words.len() <= 2 {
        return check_synopsis(span);
    }
    let placeholder = words.iter().any(|w| {
        w.contains(['[', '|', '…']) || w.contains("...") || is_placeholder(w.trim_matches(','))
    });
    if placeholder {
        check_synopsis(span)
    } else {
        let cmds = shell_commands(span)?;
        cmds.iter()
            .try_for_each(|c| check_command(c, Path::new(".")))
    }
}

#[test]
fn readme_code_parses_with_the_programs_own_parsers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut errors = Vec::new();
    for doc in DOCUMENTS {
        let text = std::fs::read_to_string(root.join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
        let (blocks, _) = split(&text).unwrap();
        assert!(!blocks.is_empty(), "{doc} has code blocks to check");
        errors.extend(check_document(doc, &text, root));
    }
    assert!(errors.is_empty(), "\n{}", errors.join("\n"));
}

#[test]
fn readme_check_reads_each_kind_of_block() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("README.md")).unwrap();
    let (blocks, _) = split(&text).unwrap();
    let kinds = |lang: &str, marker: &str| {
        blocks
            .iter()
            .filter(|b| b.lang == lang && b.text.contains(marker))
            .count()
    };
    assert!(kinds("ron", "presets/") >= 1, "a preset example");
    assert!(kinds("ron", "tui.ron") >= 1, "a tui.ron example");
    assert!(kinds("sh", "diffscope ") >= 3, "command examples");
    assert!(kinds("text", "diffscope train") >= 1, "the synopsis");
}

/// Checks one made-up document with the README's rules.
fn problems(doc: &str) -> Vec<String> {
    check_document("doc.md", doc, Path::new(env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn readme_check_fails_on_drift() {
    // The tui.ron example as it once was: a quoted image protocol does not parse.
    let old = "```ron\n// ~/.config/diffscope/tui.ron\n\
               (image_protocol: \"halfblocks\", theme: \"light\", on_hangup: SaveAndStop)\n```\n";
    let e = problems(old);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("tui.ron"), "{e:?}");
    let fixed = old.replace("\"halfblocks\"", "halfblocks");
    assert_eq!(problems(&fixed), Vec::<String>::new());

    let bad = [
        // an unknown flag, after a comment-free prefix and inside a chain
        "```sh\ndiffscope train --preset moons --no-such-flag\n```\n",
        "```sh\ncd x && diffscope sample --checkpoint c --out 'a b.png' --colour red # c\n```\n",
        // a bad choice, a missing argument, an unknown subcommand
        "```sh\ndiffscope schedule --kind exponential\n```\n",
        "```sh\ndiffscope sample --checkpoint c\n```\n",
        "```sh\ndiffscope plot\n```\n",
        // a synopsis with an unknown flag or choice, or on a continuation line
        "```text\ndiffscope train --preset NAME [--stepz N]\n```\n",
        "```text\ndiffscope schedule --kind linear|exponential\n```\n",
        "```text\ndiffscope eval --checkpoint PATH\n               [--bogus B]\n```\n",
        "```text\ndiffscope plot [--n N]     draws\n```\n",
        // a preset that does not validate, a RON block of no known kind
        "```ron\n// presets/x.ron\n(name: \"x\", data: Toy2d((shape: Moons, points: 0, \
         noise: 0.1)))\n```\n",
        "```ron\n(name: \"x\")\n```\n",
        "```ron\n// notes.ron\n(name: \"x\")\n```\n",
        "```ron\n// themes/mine.ron\n(accent: \"no-such-colour\")\n```\n",
        // a block of no kind, an unclosed block
        "```\ndiffscope train\n```\n",
        "```python\nprint(1)\n```\n",
        "```sh\ndiffscope train\n",
        // make, cargo and scripts that are not there
        "```sh\nmake no-such-target\n```\n",
        "```sh\ncargo test --release --test no_such_test\n```\n",
        "```sh\nscripts/no-such-script.sh\n```\n",
        // an unclosed quote
        "```sh\ndiffscope train --preset 'moons\n```\n",
        // inline commands in prose
        "Run `diffscope train --no-such-flag` now.\n",
        "Then `diffscope plot` draws.\n",
        "Use `diffscope runs [--frobnicate RUN]`.\n",
    ];
    for doc in bad {
        let e = problems(doc);
        assert_eq!(e.len(), 1, "{doc:?} gives one problem: {e:?}");
        assert!(e[0].starts_with("doc.md: line "), "{e:?}");
    }

    let good = "```sh\n\
        diffscope                               # the workbench\n\
        DIFFSCOPE_FUZZ_CASES=10 make fuzz\n\
        target/release/diffscope train --preset \"moons\" \\\n    --steps 10 --out 'a b'\n\
        cargo test --release --test cli -- --nocapture\n\
        cargo bench --bench throughput\n\
        diffscope --help\n\
        ```\n\
        ```text\n\
        diffscope                       opens the workbench\n\
        diffscope schedule --kind linear|cosine --steps T [--format csv|table]\n\
        diffscope sample --checkpoint PATH [--sampler ddpm|ddim] [--ema|--raw]\n\
        \x20                [--seed S] --out FILE\n\
        checkpoints/RUN/\n    metrics.csv\n\
        ```\n\
        ```ron\n// ~/.config/diffscope/presets/tiny.ron\n\
        (name: \"tiny\", data: Toy2d((shape: Moons, points: 100, noise: 0.1)), model: Mlp(()))\n```\n\
        ```ron\n// themes/mine.ron\n(accent: \"#ff8800\")\n```\n\
        The commands `diffscope train`, `diffscope eval`, `diffscope runs --compare A B`,\n\
        `diffscope sample --checkpoint checkpoints/RUN --out\n grid.png`, `diffscope …` and `diffscope`.\n";
    assert_eq!(problems(good), Vec::<String>::new());
}

#[test]
fn shell_lines_split_like_a_shell() {
    let cmds = shell_commands(r#"A=1 diffscope x --out "a \"b\"" 'c d'#e f # note"#).unwrap();
    assert_eq!(
        cmds,
        vec![vec![
            "A=1",
            "diffscope",
            "x",
            "--out",
            "a \"b\"",
            "c d#e",
            "f"
        ]]
    );
    let cmds = shell_commands("a && b; c | d || e & f").unwrap();
    assert_eq!(cmds.len(), 6);
}
