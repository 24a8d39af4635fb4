mod app;
mod bench;
mod cli;
mod event_loop;
mod snapshots;
mod themes;
