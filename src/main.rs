use diffscope::cli::{self, Cmd, ImageProtocolArg};
use diffscope::commands;
use diffscope::tui::images::ImageProtocol;
use diffscope::tui::{self, TuiOptions};
use diffscope::worker::wire::Want;
use std::process::ExitCode;

/// The command line's image protocol, for the workbench (the two front ends know nothing
/// of each other; this binary joins them).
fn image_protocol(a: Option<ImageProtocolArg>) -> Option<ImageProtocol> {
    a.map(|a| match a {
        ImageProtocolArg::Auto => ImageProtocol::Auto,
        ImageProtocolArg::Kitty => ImageProtocol::Kitty,
        ImageProtocolArg::Sixel => ImageProtocol::Sixel,
        ImageProtocolArg::Iterm2 => ImageProtocol::Iterm2,
        ImageProtocolArg::Halfblocks => ImageProtocol::Halfblocks,
    })
}

fn main() -> ExitCode {
    let cli = cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        None => tui::run(TuiOptions {
            image_protocol: image_protocol(cli.image_protocol),
            device: "auto".into(),
            ..TuiOptions::default()
        }),
        Some(Cmd::Tui(a)) => tui::run(TuiOptions {
            preset: a.preset,
            checkpoint: a.checkpoint,
            image_protocol: image_protocol(a.image_protocol),
            device: a.device,
            threads: a.threads,
            theme: a.theme,
            ..TuiOptions::default()
        }),
        Some(Cmd::Attach(a)) => commands::runs::attach_target(&a).and_then(|dir| {
            tui::run(TuiOptions {
                attach: Some(dir),
                want: if a.watch {
                    Want::Watch
                } else if a.take_over {
                    Want::TakeOver
                } else {
                    Want::Control
                },
                image_protocol: image_protocol(a.image_protocol),
                device: "auto".into(),
                theme: a.theme,
                ..TuiOptions::default()
            })
        }),
        Some(Cmd::Runs(a)) => commands::runs::run(&a),
        Some(Cmd::Train(a)) => commands::train::run(&a).map(|_| ()),
        Some(Cmd::Sample(a)) => commands::sample::run(&a),
        Some(Cmd::Schedule(a)) => commands::schedule::run(&a),
        Some(Cmd::Eval(a)) => commands::eval::run(&a),
        Some(Cmd::Data(a)) => commands::data::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Stopped by Ctrl-C or `kill`: what was saved and how to go on, not an error.
        Err(e) if e.is::<commands::train::Interrupted>() => {
            let code = e
                .downcast_ref::<commands::train::Interrupted>()
                .map_or(1, |i| i.exit_code());
            eprintln!("diffscope: {e}");
            ExitCode::from(code)
        }
        Err(e) => {
            // the error and its causes, on one line
            let line = diffscope::util::join_causes(e.chain().map(|c| c.to_string()));
            eprintln!("diffscope: error: {line}");
            ExitCode::FAILURE
        }
    }
}
