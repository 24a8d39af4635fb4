//! End to end: the real binary driven from outside, in tmux (`workbench`, `runs`, and the
//! workbench's part of `disk_full`) and in real terminals on a private X server
//! (`terminals`). Needs tmux, Xvfb, xterm, kitty, ImageMagick, xdotool and `script`
//! (`make tools`, or `scripts/setup-test-tools.sh`); a missing one fails the test that
//! needs it, naming the package to install.

#[path = "../common/mod.rs"]
mod common;

mod disk_full;
mod runs;
mod terminals;
mod workbench;
