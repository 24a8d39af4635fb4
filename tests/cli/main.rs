mod commands;
mod eval;
mod kills;
mod readme;
