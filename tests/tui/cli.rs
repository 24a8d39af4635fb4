//! Starting the workbench without a terminal gives a clear message, not a garbled screen.

use std::process::Command;

#[test]
fn no_terminal_points_to_the_headless_commands() {
    for args in [&[][..], &["tui", "--preset", "swissroll"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_diffscope"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("interactive terminal"), "{err}");
        assert!(err.contains("diffscope train"), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(out.stdout.is_empty(), "nothing drawn on stdout");
    }
}

#[test]
fn bad_image_protocol_is_rejected_by_the_command_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args(["tui", "--image-protocol", "ascii-art"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("halfblocks"), "lists the choices: {err}");
}
