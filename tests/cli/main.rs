//! The command line as a user meets it: the forms scripts rely on and the one-line errors
//! of bad input (`commands`), the READMEs' code blocks read by the program's own parsers
//! (`readme`), `diffscope eval` (`eval`) and runs killed at random moments (`kills`).

#[path = "../common/mod.rs"]
mod common;

mod commands;
mod eval;
mod guidance;
mod kills;
mod readme;
